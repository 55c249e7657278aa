package types

import (
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/meridiandb/meridian/sql/sqlerr"
)

// timeArg reads a date or datetime argument. A value that is not one gives
// ok false and a warning, and the function returns NULL, as in MySQL.
func timeArg(ctx *EvalContext, d Datum) (Datum, bool) {
	if d.kind == KindTime {
		return d, true
	}
	p, ok := timeOf(d)
	if !ok {
		ctx.warn(sqlerr.IncorrectTimeValue("datetime", d.String(), "", 0))
		return Null(), false
	}
	if p.dateOnly {
		return newTime(Date, p.micros, 0), true
	}
	return newTime(DateTime, p.micros, p.fsp), true
}

// timeFn wraps a function of one date argument.
func timeFn(f func(t time.Time, d Datum) Datum) Func {
	return func(ctx *EvalContext, a []Datum) (Datum, error) {
		d, ok := timeArg(ctx, a[0])
		if !ok {
			return Null(), nil
		}
		return f(d.Time(), d), nil
	}
}

func intOf(f func(t time.Time) int) Func {
	return timeFn(func(t time.Time, _ Datum) Datum { return NewInt(int64(f(t))) })
}

func statementNow(ctx *EvalContext) (time.Time, error) {
	if ctx == nil || ctx.Now.IsZero() {
		return time.Time{}, sqlerr.Unknown("types: the current time needs an EvalContext with Now set")
	}
	return ctx.Now.UTC(), nil
}

// nowFn implements NOW([fsp]) and CURDATE().
func nowFn(kind TypeKind) Func {
	return func(ctx *EvalContext, a []Datum) (Datum, error) {
		now, err := statementNow(ctx)
		if err != nil {
			return Datum{}, err
		}
		if kind == Date {
			return NewDate(now, 0), nil
		}
		fsp := 0
		if len(a) > 0 && !a[0].IsNull() {
			v, _ := ToInt64(a[0])
			if v < 0 || v > MaxFsp {
				return Datum{}, sqlerr.New(sqlerr.CodeTooBigPrecision, "", "Too-big precision %d specified for 'now'. Maximum is %d.", v, MaxFsp)
			}
			fsp = int(v)
		}
		return NewDateTime(now, fsp), nil
	}
}

// daysFromYear0 is MySQL's TO_DAYS offset: day 366 is 0001-01-01.
const daysFromYear0 = 366

func dayNumber(t time.Time) int64 {
	return floorDiv(t.UnixMicro()-minTimeMicros, microsPerDay) + daysFromYear0
}

func registerTime() {
	register(names("NOW", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP", "SYSDATE", "UTC_TIMESTAMP"), 0, 1, false, nowFn(DateTime))
	register(names("CURDATE", "CURRENT_DATE", "UTC_DATE"), 0, 0, false, nowFn(Date))
	register(names("DATE"), 1, 1, true, timeFn(func(t time.Time, _ Datum) Datum { return NewDate(t, 0) }))
	register(names("YEAR"), 1, 1, true, intOf(time.Time.Year))
	register(names("MONTH"), 1, 1, true, intOf(func(t time.Time) int { return int(t.Month()) }))
	register(names("DAY", "DAYOFMONTH"), 1, 1, true, intOf(time.Time.Day))
	register(names("HOUR"), 1, 1, true, intOf(time.Time.Hour))
	register(names("MINUTE"), 1, 1, true, intOf(time.Time.Minute))
	register(names("SECOND"), 1, 1, true, intOf(time.Time.Second))
	register(names("MICROSECOND"), 1, 1, true, intOf(func(t time.Time) int { return t.Nanosecond() / 1000 }))
	register(names("DAYOFWEEK"), 1, 1, true, intOf(func(t time.Time) int { return int(t.Weekday()) + 1 }))
	register(names("WEEKDAY"), 1, 1, true, intOf(func(t time.Time) int { return (int(t.Weekday()) + 6) % 7 }))
	register(names("DAYOFYEAR"), 1, 1, true, intOf(time.Time.YearDay))
	register(names("QUARTER"), 1, 1, true, intOf(func(t time.Time) int { return (int(t.Month())-1)/3 + 1 }))
	register(names("DAYNAME"), 1, 1, true, timeFn(func(t time.Time, _ Datum) Datum { return NewString(t.Weekday().String()) }))
	register(names("MONTHNAME"), 1, 1, true, timeFn(func(t time.Time, _ Datum) Datum { return NewString(t.Month().String()) }))
	register(names("LAST_DAY"), 1, 1, true, timeFn(func(t time.Time, _ Datum) Datum {
		return NewDate(time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC), 0)
	}))
	register(names("TO_DAYS"), 1, 1, true, timeFn(func(t time.Time, _ Datum) Datum { return NewInt(dayNumber(t)) }))
	register(names("FROM_DAYS"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		n := argInt(a[0])
		if n < daysFromYear0 || n > dayNumber(time.UnixMicro(maxTimeMicros).UTC()) {
			return Null(), nil
		}
		return newTime(Date, minTimeMicros+(n-daysFromYear0)*microsPerDay, 0), nil
	})
	register(names("DATEDIFF"), 2, 2, true, func(ctx *EvalContext, a []Datum) (Datum, error) {
		x, ok1 := timeArg(ctx, a[0])
		y, ok2 := timeArg(ctx, a[1])
		if !ok1 || !ok2 {
			return Null(), nil
		}
		return NewInt(dayNumber(x.Time()) - dayNumber(y.Time())), nil
	})
	register(names("DATE_FORMAT"), 2, 2, true, func(ctx *EvalContext, a []Datum) (Datum, error) {
		d, ok := timeArg(ctx, a[0])
		if !ok {
			return Null(), nil
		}
		return NewString(dateFormat(d.Time(), ToString(a[1]))), nil
	})
	register(names("DATE_ADD", "ADDDATE"), 2, 3, true, func(ctx *EvalContext, a []Datum) (Datum, error) {
		return dateAdd(ctx, a, false)
	})
	register(names("DATE_SUB", "SUBDATE"), 2, 3, true, func(ctx *EvalContext, a []Datum) (Datum, error) {
		return dateAdd(ctx, a, true)
	})
	register(names("TIMESTAMPDIFF"), 3, 3, true, timestampDiff)
	register(names("UNIX_TIMESTAMP"), 0, 1, false, unixTimestamp)
	register(names("FROM_UNIXTIME"), 1, 2, true, fromUnixTime)
	register(names("STR_TO_DATE"), 2, 2, true, func(ctx *EvalContext, a []Datum) (Datum, error) {
		d, ok := strToDate(ToString(a[0]), ToString(a[1]))
		if !ok {
			ctx.warn(sqlerr.IncorrectTimeValue("datetime", ToString(a[0]), "", 0))
			return Null(), nil
		}
		return d, nil
	})
}

// Interval units: which fields an INTERVAL's value fills, most significant
// first.
type ivField uint8

const (
	ivYear ivField = iota
	ivQuarter
	ivMonth
	ivWeek
	ivDay
	ivHour
	ivMinute
	ivSecond
	ivMicro
)

var intervalUnits = map[string][]ivField{
	"MICROSECOND":        {ivMicro},
	"SECOND":             {ivSecond},
	"MINUTE":             {ivMinute},
	"HOUR":               {ivHour},
	"DAY":                {ivDay},
	"WEEK":               {ivWeek},
	"MONTH":              {ivMonth},
	"QUARTER":            {ivQuarter},
	"YEAR":               {ivYear},
	"SECOND_MICROSECOND": {ivSecond, ivMicro},
	"MINUTE_MICROSECOND": {ivMinute, ivSecond, ivMicro},
	"MINUTE_SECOND":      {ivMinute, ivSecond},
	"HOUR_MICROSECOND":   {ivHour, ivMinute, ivSecond, ivMicro},
	"HOUR_SECOND":        {ivHour, ivMinute, ivSecond},
	"HOUR_MINUTE":        {ivHour, ivMinute},
	"DAY_MICROSECOND":    {ivDay, ivHour, ivMinute, ivSecond, ivMicro},
	"DAY_SECOND":         {ivDay, ivHour, ivMinute, ivSecond},
	"DAY_MINUTE":         {ivDay, ivHour, ivMinute},
	"DAY_HOUR":           {ivDay, ivHour},
	"YEAR_MONTH":         {ivYear, ivMonth},
}

var fieldMicros = [...]int64{ivWeek: 7 * microsPerDay, ivDay: microsPerDay, ivHour: 3600e6, ivMinute: 60e6, ivSecond: 1e6, ivMicro: 1}

// interval is a parsed INTERVAL value: months and microseconds.
type interval struct {
	months, micros int64
	hasTime        bool // a unit below DAY, so a DATE becomes a DATETIME
	fsp            int
}

func parseInterval(v Datum, unit string) (interval, bool) {
	fields, ok := intervalUnits[strings.ToUpper(strings.TrimSpace(unit))]
	if !ok {
		return interval{}, false
	}
	var vals []int64
	neg := false
	if len(fields) == 1 {
		if fields[0] == ivSecond && (v.kind == KindDecimal || v.kind == KindFloat || v.kind == KindString) {
			// Fractional seconds count: INTERVAL 1.5 SECOND.
			x, _ := ToDecimal(v)
			r := roundDecimal(x, MaxFsp, &decCtx)
			r.Exponent += MaxFsp
			us, ok := decimalToInt(r)
			if !ok {
				return interval{}, false
			}
			iv := interval{micros: us, hasTime: true}
			if us%1e6 != 0 {
				iv.fsp = MaxFsp
			}
			return iv, true
		}
		n, _ := ToInt64(v) // decimals round half away from zero, as MySQL rounds the amount
		vals = []int64{n}
	} else {
		s := strings.TrimSpace(ToString(v))
		if strings.HasPrefix(s, "-") {
			neg, s = true, s[1:]
		}
		parts := strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if len(parts) == 0 || len(parts) > len(fields) {
			return interval{}, false
		}
		for i, p := range parts {
			if len(p) > 18 {
				return interval{}, false
			}
			n, _ := strconv.ParseInt(p, 10, 64)
			if fields[len(fields)-len(parts)+i] == ivMicro && i > 0 {
				n, _ = strconv.ParseInt((p + "000000")[:6], 10, 64) // '1.5' is half a second
			}
			vals = append(vals, n)
		}
		fields = fields[len(fields)-len(parts):]
	}
	var iv interval
	for i, f := range fields {
		n := vals[i]
		if neg {
			n = -n
		}
		if n > 1<<40 || n < -(1<<40) {
			return interval{}, false // beyond any representable date anyway
		}
		switch f {
		case ivYear:
			iv.months += 12 * n
		case ivQuarter:
			iv.months += 3 * n
		case ivMonth:
			iv.months += n
		default:
			iv.micros += n * fieldMicros[f]
			if f >= ivHour {
				iv.hasTime = true
			}
			if f == ivMicro {
				iv.fsp = MaxFsp
			}
		}
	}
	return iv, true
}

// dateAdd implements DATE_ADD(d, amount, unit) and DATE_SUB; with two
// arguments the amount is in days (ADDDATE(d, n)).
func dateAdd(ctx *EvalContext, a []Datum, sub bool) (Datum, error) {
	d, ok := timeArg(ctx, a[0])
	if !ok {
		return Null(), nil
	}
	unit := "DAY"
	if len(a) == 3 {
		unit = ToString(a[2])
	}
	iv, ok := parseInterval(a[1], unit)
	if !ok {
		if _, known := intervalUnits[strings.ToUpper(strings.TrimSpace(unit))]; !known {
			return Datum{}, sqlerr.WrongArguments("DATE_ADD unit " + unit)
		}
		return Null(), nil
	}
	if sub {
		iv.months, iv.micros = -iv.months, -iv.micros
	}
	t := d.Time()
	if iv.months != 0 {
		total := int64(t.Year())*12 + int64(t.Month()) - 1 + iv.months
		if total < 12 || total >= 10000*12 {
			return Null(), nil
		}
		y, m := int(total/12), time.Month(total%12+1)
		day := min(t.Day(), daysIn(y, m))
		t = time.Date(y, m, day, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	}
	micros := t.UnixMicro() + iv.micros
	if micros < minTimeMicros || micros > maxTimeMicros {
		return Null(), nil
	}
	if d.sub == Date && !iv.hasTime {
		return newTime(Date, micros, 0), nil
	}
	kind := d.sub
	if kind == Date {
		kind = DateTime
	}
	return newTime(kind, micros, max(int(d.fsp), iv.fsp)), nil
}

// timestampDiff implements TIMESTAMPDIFF(unit, a, b): b - a in whole units.
func timestampDiff(ctx *EvalContext, a []Datum) (Datum, error) {
	unit := strings.ToUpper(strings.TrimSpace(ToString(a[0])))
	x, ok1 := timeArg(ctx, a[1])
	y, ok2 := timeArg(ctx, a[2])
	if !ok1 || !ok2 {
		return Null(), nil
	}
	diff := y.i - x.i
	var per int64
	switch unit {
	case "MICROSECOND":
		per = 1
	case "SECOND":
		per = 1e6
	case "MINUTE":
		per = 60e6
	case "HOUR":
		per = 3600e6
	case "DAY":
		per = microsPerDay
	case "WEEK":
		per = 7 * microsPerDay
	case "MONTH", "QUARTER", "YEAR":
		m := monthsBetween(x.Time(), y.Time())
		switch unit {
		case "QUARTER":
			m /= 3
		case "YEAR":
			m /= 12
		}
		return NewInt(m), nil
	default:
		return Datum{}, sqlerr.WrongArguments("TIMESTAMPDIFF unit " + unit)
	}
	return NewInt(diff / per), nil
}

// monthsBetween counts whole months from a to b, negative if b < a: a
// month is complete when the day and time of day have been reached again.
func monthsBetween(a, b time.Time) int64 {
	if b.Before(a) {
		return -monthsBetween(b, a)
	}
	m := int64(b.Year()-a.Year())*12 + int64(b.Month()-a.Month())
	restA := time.Date(2000, 1, a.Day(), a.Hour(), a.Minute(), a.Second(), a.Nanosecond(), time.UTC)
	restB := time.Date(2000, 1, b.Day(), b.Hour(), b.Minute(), b.Second(), b.Nanosecond(), time.UTC)
	if restB.Before(restA) {
		m--
	}
	return m
}

// unixTimestamp implements UNIX_TIMESTAMP([d]): seconds since the epoch
// (UTC), a decimal when d has fractional seconds; 0 outside TIMESTAMP's
// range, as MySQL.
func unixTimestamp(ctx *EvalContext, a []Datum) (Datum, error) {
	if len(a) == 0 {
		now, err := statementNow(ctx)
		if err != nil {
			return Datum{}, err
		}
		return NewInt(now.Unix()), nil
	}
	if a[0].IsNull() {
		return Null(), nil
	}
	d, ok := timeArg(ctx, a[0])
	if !ok {
		return Null(), nil
	}
	if d.i < minTimestampMicros || d.i > maxTimestampMicros {
		return NewInt(0), nil
	}
	if d.fsp == 0 {
		return NewInt(d.i / 1e6), nil
	}
	v := apd.New(d.i, -MaxFsp)
	return newDecimalOwned(roundDecimal(v, int32(d.fsp), &decCtx)), nil
}

// fromUnixTime implements FROM_UNIXTIME(n[, format]).
func fromUnixTime(ctx *EvalContext, a []Datum) (Datum, error) {
	x, _ := ToDecimal(a[0])
	if x.Sign() < 0 {
		return Null(), nil
	}
	fsp := 0
	if a[0].kind == KindDecimal || a[0].kind == KindFloat || a[0].kind == KindString {
		fsp = int(min(scaleOf(x), MaxFsp))
	}
	r := roundDecimal(x, MaxFsp, &decCtx)
	r.Exponent += MaxFsp
	us, ok := decimalToInt(r)
	if !ok || us > maxTimestampMicros {
		return Null(), nil
	}
	d := newTime(DateTime, us, fsp)
	if len(a) == 2 {
		return NewString(dateFormat(d.Time(), ToString(a[1]))), nil
	}
	return d, nil
}

var shortDays = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// dateFormat implements DATE_FORMAT's specifiers.
func dateFormat(t time.Time, f string) string {
	var b []byte
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 == len(f) {
			b = append(b, c)
			continue
		}
		i++
		h12 := t.Hour() % 12
		if h12 == 0 {
			h12 = 12
		}
		switch f[i] {
		case 'a':
			b = append(b, shortDays[t.Weekday()]...)
		case 'b':
			b = append(b, t.Month().String()[:3]...)
		case 'c':
			b = strconv.AppendInt(b, int64(t.Month()), 10)
		case 'D':
			b = strconv.AppendInt(b, int64(t.Day()), 10)
			b = append(b, ordinalSuffix(t.Day())...)
		case 'd':
			b = appendInt(b, t.Day(), 2)
		case 'e':
			b = strconv.AppendInt(b, int64(t.Day()), 10)
		case 'f':
			b = appendInt(b, t.Nanosecond()/1000, 6)
		case 'H':
			b = appendInt(b, t.Hour(), 2)
		case 'h', 'I':
			b = appendInt(b, h12, 2)
		case 'i':
			b = appendInt(b, t.Minute(), 2)
		case 'j':
			b = appendInt(b, t.YearDay(), 3)
		case 'k':
			b = strconv.AppendInt(b, int64(t.Hour()), 10)
		case 'l':
			b = strconv.AppendInt(b, int64(h12), 10)
		case 'M':
			b = append(b, t.Month().String()...)
		case 'm':
			b = appendInt(b, int(t.Month()), 2)
		case 'p':
			b = append(b, ampm(t.Hour())...)
		case 'r':
			b = appendInt(b, h12, 2)
			b = append(b, ':')
			b = appendInt(b, t.Minute(), 2)
			b = append(b, ':')
			b = appendInt(b, t.Second(), 2)
			b = append(b, ' ')
			b = append(b, ampm(t.Hour())...)
		case 'S', 's':
			b = appendInt(b, t.Second(), 2)
		case 'T':
			b = appendInt(b, t.Hour(), 2)
			b = append(b, ':')
			b = appendInt(b, t.Minute(), 2)
			b = append(b, ':')
			b = appendInt(b, t.Second(), 2)
		case 'U':
			b = appendInt(b, weekSunday(t), 2)
		case 'u':
			b = appendInt(b, weekMonday(t), 2)
		case 'V':
			_, w := weekSundayYear(t)
			b = appendInt(b, w, 2)
		case 'v':
			_, w := t.ISOWeek()
			b = appendInt(b, w, 2)
		case 'W':
			b = append(b, t.Weekday().String()...)
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'X':
			y, _ := weekSundayYear(t)
			b = appendInt(b, y, 4)
		case 'x':
			y, _ := t.ISOWeek()
			b = appendInt(b, y, 4)
		case 'Y':
			b = appendInt(b, t.Year(), 4)
		case 'y':
			b = appendInt(b, t.Year()%100, 2)
		default:
			b = append(b, f[i]) // %% and unknown specifiers print the character
		}
	}
	return string(b)
}

func ampm(h int) string {
	if h < 12 {
		return "AM"
	}
	return "PM"
}

func ordinalSuffix(d int) string {
	if d/10 == 1 {
		return "th"
	}
	switch d % 10 {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// weekSunday is MySQL's week mode 0 (%U): weeks start on Sunday, week 1
// begins with the year's first Sunday, days before it are week 0.
func weekSunday(t time.Time) int {
	jan1 := int(time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC).Weekday())
	first := (7 - jan1) % 7 // day-of-year index of the first Sunday
	return (t.YearDay() - 1 + 7 - first) / 7
}

// weekMonday is week mode 1 (%u): weeks start on Monday, week 1 is the
// first with four or more days of the year, days before it are week 0.
func weekMonday(t time.Time) int {
	wm := (int(time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
	w := (t.YearDay() - 1 + wm) / 7
	if wm <= 3 {
		w++
	}
	return w
}

// weekSundayYear is week mode 2 (%X %V): as mode 0, but days before the
// first Sunday belong to the last week of the previous year.
func weekSundayYear(t time.Time) (year, week int) {
	if w := weekSunday(t); w > 0 {
		return t.Year(), w
	}
	return t.Year() - 1, weekSunday(time.Date(t.Year()-1, 12, 31, 0, 0, 0, 0, time.UTC))
}

// strToDate implements STR_TO_DATE for the common specifiers (%Y %y %m %c
// %d %e %H %k %h %I %l %i %s %S %f %p %M %b %a %W %j %T %r %%). The result
// is a DATETIME if the format has time fields, a DATE otherwise.
func strToDate(s, f string) (Datum, bool) {
	var y, mo, d, h, mi, sec, us, yday int
	hasTime, pm, hasAMPM, hasFrac := false, false, false, false
	mo, d = -1, -1
	num := func(maxDigits int) (int, bool) {
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
		}
		i := 0
		for i < len(s) && i < maxDigits && isDigit(s[i]) {
			i++
		}
		if i == 0 {
			return 0, false
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		return n, true
	}
	name := func(list func(i int) string, n int) (int, bool) {
		for i := 0; i < n; i++ {
			full := list(i)
			for _, cand := range []string{full, full[:3]} {
				if len(s) >= len(cand) && strings.EqualFold(s[:len(cand)], cand) {
					s = s[len(cand):]
					return i, true
				}
			}
		}
		return 0, false
	}
	ok := true
	var expand func(f string)
	expand = func(f string) {
		for i := 0; i < len(f) && ok; i++ {
			c := f[i]
			if c != '%' || i+1 == len(f) {
				if c == ' ' {
					s = strings.TrimLeft(s, " ")
					continue
				}
				ok = len(s) > 0 && s[0] == c
				if ok {
					s = s[1:]
				}
				continue
			}
			i++
			switch f[i] {
			case 'Y':
				y, ok = num(4)
			case 'y':
				y, ok = num(2)
				y = twoDigitYear(y)
			case 'm', 'c':
				mo, ok = num(2)
			case 'd', 'e':
				d, ok = num(2)
			case 'H', 'k', 'h', 'I', 'l':
				h, ok = num(2)
				hasTime = true
			case 'i':
				mi, ok = num(2)
				hasTime = true
			case 's', 'S':
				sec, ok = num(2)
				hasTime = true
			case 'f':
				start := len(s)
				us, ok = num(6)
				for n := start - len(s); n < 6; n++ {
					us *= 10
				}
				hasTime, hasFrac = true, true
			case 'p':
				hasAMPM = true
				switch {
				case len(s) >= 2 && strings.EqualFold(s[:2], "AM"):
				case len(s) >= 2 && strings.EqualFold(s[:2], "PM"):
					pm = true
				default:
					ok = false
				}
				if ok {
					s = s[2:]
				}
			case 'M', 'b':
				var m int
				m, ok = name(func(i int) string { return time.Month(i + 1).String() }, 12)
				mo = m + 1
			case 'W', 'a':
				_, ok = name(func(i int) string { return time.Weekday(i).String() }, 7)
			case 'j':
				yday, ok = num(3)
			case 'T':
				expand("%H:%i:%s")
			case 'r':
				expand("%h:%i:%s %p")
			default: // %% and unknown specifiers match the character
				ok = len(s) > 0 && s[0] == f[i]
				if ok {
					s = s[1:]
				}
			}
		}
	}
	expand(f)
	if !ok {
		return Datum{}, false
	}
	if hasAMPM {
		if h < 1 || h > 12 {
			return Datum{}, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	if yday > 0 && mo < 0 && d < 0 {
		t := time.Date(y, 1, yday, 0, 0, 0, 0, time.UTC)
		if t.Year() != y {
			return Datum{}, false
		}
		mo, d = int(t.Month()), t.Day()
	}
	p, valid := makeTime(y, mo, d, h, mi, sec, "", !hasTime)
	if !valid {
		return Datum{}, false
	}
	if !hasTime {
		return newTime(Date, p.micros, 0), true
	}
	fsp := 0
	if hasFrac {
		fsp = MaxFsp
	}
	return newTime(DateTime, p.micros+int64(us), fsp), true
}
