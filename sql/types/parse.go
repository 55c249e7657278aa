package types

import (
	"strconv"
	"strings"
	"time"
)

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numericPrefix returns the longest prefix of s (after leading white space)
// that reads as a number, as MySQL reads strings in numeric context: sign,
// digits, fraction and, when exp is set, an exponent. complete reports
// whether only white space follows it. num is "" when s has no digits.
func numericPrefix(s string, exp bool) (num string, complete bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
			digits++
		}
		if digits > 0 {
			i = j
		}
	}
	if digits == 0 {
		return "", false
	}
	if exp && i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	num = s[start:i]
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return num, i == len(s)
}

// intPrefix is numericPrefix for integers only (sign and digits), as a
// CAST to SIGNED reads a string.
func intPrefix(s string) (num string, complete bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	start := i
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	d := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == d {
		return "", false
	}
	num = s[start:i]
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return num, i == len(s)
}

// parsedTime is a date or datetime read from text or a number.
type parsedTime struct {
	micros   int64
	dateOnly bool
	fsp      int // fractional digits given, at most MaxFsp
}

// parseTime reads the date and datetime literals MySQL accepts:
// "2024-01-02", "2024-01-02 03:04:05.123456" (any punctuation between date
// parts, 'T' between date and time, two-digit years 70-99 -> 19xx, 00-69 ->
// 20xx), and the digit-only forms YYYYMMDD, YYMMDD, YYYYMMDDHHMMSS and
// YYMMDDHHMMSS[.fraction]. Zero dates and invalid days are rejected, as
// strict mode (NO_ZERO_DATE, NO_ZERO_IN_DATE) rejects them.
func parseTime(s string) (parsedTime, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return parsedTime{}, false
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if allDigits(intPart) && (!hasFrac || allDigits(frac)) {
		return parseDigitTime(intPart, frac)
	}
	var datePart, timePart string
	if i := strings.IndexAny(s, " T"); i >= 0 {
		datePart, timePart = s[:i], strings.TrimLeft(s[i+1:], " ")
	} else {
		datePart = s
	}
	dp := splitDigitGroups(datePart)
	if len(dp) != 3 {
		return parsedTime{}, false
	}
	y, ylen := dp[0], len(datePart)-len(strings.TrimLeft(datePart, "0123456789"))
	if ylen <= 2 {
		y = twoDigitYear(y)
	}
	var tp [3]int
	var fracStr string
	if timePart != "" {
		clock, f, _ := strings.Cut(timePart, ".")
		if !allDigits(f) {
			return parsedTime{}, false
		}
		fracStr = f
		g := splitDigitGroups(clock)
		if len(g) == 0 || len(g) > 3 {
			return parsedTime{}, false
		}
		copy(tp[:], g)
	}
	return makeTime(y, dp[1], dp[2], tp[0], tp[1], tp[2], fracStr, timePart == "")
}

func parseDigitTime(s, frac string) (parsedTime, bool) {
	atoi := func(a string) int { n, _ := strconv.Atoi(a); return n }
	switch len(s) {
	case 8:
		if frac != "" {
			return parsedTime{}, false
		}
		return makeTime(atoi(s[:4]), atoi(s[4:6]), atoi(s[6:8]), 0, 0, 0, "", true)
	case 6:
		if frac != "" {
			return parsedTime{}, false
		}
		return makeTime(twoDigitYear(atoi(s[:2])), atoi(s[2:4]), atoi(s[4:6]), 0, 0, 0, "", true)
	case 14:
		return makeTime(atoi(s[:4]), atoi(s[4:6]), atoi(s[6:8]), atoi(s[8:10]), atoi(s[10:12]), atoi(s[12:14]), frac, false)
	case 12:
		return makeTime(twoDigitYear(atoi(s[:2])), atoi(s[2:4]), atoi(s[4:6]), atoi(s[6:8]), atoi(s[8:10]), atoi(s[10:12]), frac, false)
	}
	return parsedTime{}, false
}

func twoDigitYear(y int) int {
	if y < 70 {
		return 2000 + y
	}
	if y < 100 {
		return 1900 + y
	}
	return y
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// splitDigitGroups splits s into runs of digits separated by single
// punctuation characters; it returns nil if s has anything else.
func splitDigitGroups(s string) []int {
	var out []int
	for len(s) > 0 {
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == 0 || i > 9 {
			return nil
		}
		n, _ := strconv.Atoi(s[:i])
		out = append(out, n)
		s = s[i:]
		if len(s) > 0 {
			c := s[0]
			if isDigit(c) || c == ' ' || !(c >= 0x21 && c <= 0x7e) {
				return nil
			}
			s = s[1:]
			if s == "" {
				return nil
			}
		}
	}
	return out
}

// makeTime validates the fields and builds a parsedTime; frac is the
// fraction's digits, rounded half up to microseconds.
func makeTime(y, mo, d, h, mi, sec int, frac string, dateOnly bool) (parsedTime, bool) {
	if !validDate(y, mo, d) || h > 23 || mi > 59 || sec > 59 {
		return parsedTime{}, false
	}
	fsp := min(len(frac), MaxFsp)
	var micros int64
	if frac != "" {
		padded := (frac + "000000")[:MaxFsp]
		v, _ := strconv.ParseInt(padded, 10, 64)
		micros = v
		if len(frac) > MaxFsp && frac[MaxFsp] >= '5' {
			micros++
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	return parsedTime{micros: t.UnixMicro() + micros, dateOnly: dateOnly, fsp: fsp}, true
}

// validDate reports whether y-m-d is a real day within MySQL's range
// (years 1..9999; year 0 and zero parts are what strict mode refuses).
func validDate(y, m, d int) bool {
	if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= daysIn(y, time.Month(m))
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// minTimeMicros and maxTimeMicros bound DATE and DATETIME values:
// 0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999.
var (
	minTimeMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxTimeMicros = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() - 1
	// TIMESTAMP covers 1970-01-01 00:00:01 to 2038-01-19 03:14:07.999999 UTC.
	minTimestampMicros = int64(1000000)
	maxTimestampMicros = int64(1<<31-1)*1000000 + 999999
)

// roundMicros rounds micros half up to fsp fractional digits.
func roundMicros(micros int64, fsp int) int64 {
	unit := pow10[MaxFsp-max(0, min(fsp, MaxFsp))]
	if unit == 1 {
		return micros
	}
	return floorDiv(micros+unit/2, unit) * unit
}

// timeFromNumber reads a number as MySQL does in date context: 20240102 is
// a date, 20240102030405 a datetime; frac holds fraction digits, if any.
func timeFromNumber(intPart uint64, frac string) (parsedTime, bool) {
	return parseDigitTime(strconv.FormatUint(intPart, 10), frac)
}
