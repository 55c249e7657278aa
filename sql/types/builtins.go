package types

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meridiandb/meridian/sql/sqlerr"
)

// EvalContext is the statement-level state built-in functions may read.
// The executor makes one per statement; builtins never read a clock.
type EvalContext struct {
	// Now is the statement's start time. NOW(), CURDATE(),
	// UNIX_TIMESTAMP() and friends read it, so that every row of a
	// statement sees one time, as in MySQL. It is used in UTC.
	Now time.Time
	// Warn, if not nil, is told about each value MySQL would raise a
	// warning for (a string read as a number with trailing garbage, a
	// date that did not parse and became NULL). Warnings never fail the
	// statement.
	Warn func(*sqlerr.Error)
}

func (c *EvalContext) warn(e *sqlerr.Error) {
	if c != nil && c.Warn != nil {
		c.Warn(e)
	}
}

// Func is a built-in function. args have been evaluated; their number has
// been checked against the definition. The function neither keeps nor
// modifies args.
type Func func(ctx *EvalContext, args []Datum) (Datum, error)

// BuiltinDef describes a built-in function.
type BuiltinDef struct {
	// Name is the canonical upper-case name.
	Name string
	// MinArgs and MaxArgs bound the argument count; MaxArgs -1 means any
	// number from MinArgs.
	MinArgs, MaxArgs int
	// Fn evaluates the function.
	Fn Func
}

// CheckArity returns error 1582 unless n arguments suit f.
func (f *BuiltinDef) CheckArity(n int) error {
	if n < f.MinArgs || (f.MaxArgs >= 0 && n > f.MaxArgs) {
		return sqlerr.WrongParamCount(strings.ToLower(f.Name))
	}
	return nil
}

// LookupBuiltin finds a built-in function by name, case-insensitively.
//
// Not here, because they are not ordinary functions of evaluated values:
// CAST and CONVERT (use Cast with the target T), the arithmetic and
// comparison operators (Add..., Compare), and aggregates. DATE_ADD and
// friends take the INTERVAL as two arguments: the amount and the unit name
// as a string ('DAY', 'HOUR_MINUTE'); TIMESTAMPDIFF takes the unit first.
// TRIM([BOTH|LEADING|TRAILING] r FROM s) is TRIM(s, r, 'BOTH').
func LookupBuiltin(name string) (*BuiltinDef, bool) {
	f, ok := builtins[strings.ToUpper(name)]
	return f, ok
}

// Builtin returns the function called name, if there is one.
func Builtin(name string) (Func, bool) {
	f, ok := LookupBuiltin(name)
	if !ok {
		return nil, false
	}
	return f.Fn, true
}

// CallBuiltin looks name up, checks the argument count and calls it.
func CallBuiltin(ctx *EvalContext, name string, args []Datum) (Datum, error) {
	f, ok := LookupBuiltin(name)
	if !ok {
		return Datum{}, sqlerr.DoesNotExist("FUNCTION", name)
	}
	if err := f.CheckArity(len(args)); err != nil {
		return Datum{}, err
	}
	return f.Fn(ctx, args)
}

// builtins is filled once at package initialisation and only read after.
var builtins = map[string]*BuiltinDef{}

// register adds fn under each name. strict wraps fn so that any NULL
// argument gives NULL without calling it, which is the rule for most
// MySQL functions.
func register(names []string, minArgs, maxArgs int, strict bool, fn Func) {
	if strict {
		inner := fn
		fn = func(ctx *EvalContext, args []Datum) (Datum, error) {
			for _, a := range args {
				if a.IsNull() {
					return Null(), nil
				}
			}
			return inner(ctx, args)
		}
	}
	for _, n := range names {
		builtins[n] = &BuiltinDef{Name: n, MinArgs: minArgs, MaxArgs: maxArgs, Fn: fn}
	}
}

func names(n ...string) []string { return n }

func init() {
	registerControl()
	registerStrings()
	registerMath()
	registerTime()
}

func registerControl() {
	register(names("IFNULL"), 2, 2, false, func(_ *EvalContext, a []Datum) (Datum, error) {
		if a[0].IsNull() {
			return a[1], nil
		}
		return a[0], nil
	})
	register(names("NULLIF"), 2, 2, false, func(_ *EvalContext, a []Datum) (Datum, error) {
		if a[0].IsNull() || a[1].IsNull() {
			return a[0], nil
		}
		c, err := Compare(a[0], a[1])
		if err != nil || c == 0 {
			return Null(), err
		}
		return a[0], nil
	})
	register(names("COALESCE"), 1, -1, false, func(_ *EvalContext, a []Datum) (Datum, error) {
		for _, d := range a {
			if !d.IsNull() {
				return d, nil
			}
		}
		return Null(), nil
	})
	register(names("IF"), 3, 3, false, func(_ *EvalContext, a []Datum) (Datum, error) {
		if !a[0].IsNull() && ToBool(a[0]) {
			return a[1], nil
		}
		return a[2], nil
	})
	extreme := func(want int) Func {
		return func(_ *EvalContext, a []Datum) (Datum, error) {
			best := a[0]
			for _, d := range a[1:] {
				c, err := Compare(d, best)
				if err != nil {
					return Datum{}, err
				}
				if c*want > 0 {
					best = d
				}
			}
			return best, nil
		}
	}
	register(names("GREATEST"), 2, -1, true, extreme(1))
	register(names("LEAST"), 2, -1, true, extreme(-1))
}

// textResult makes a string result binary if any argument was binary, as
// MySQL does.
func textResult(args []Datum, s string) Datum {
	for _, a := range args {
		if a.kind == KindBytes {
			return NewBytesString(s)
		}
	}
	return NewString(s)
}

// text is a string argument measured in MySQL's unit: characters of text,
// bytes of binary strings.
type text struct {
	s      string
	binary bool
}

func textOf(d Datum) text { return text{ToString(d), d.kind == KindBytes} }

func (t text) len() int {
	if t.binary {
		return len(t.s)
	}
	return utf8.RuneCountInString(t.s)
}

// offset is the byte offset of character i, clamped to [0, len(s)].
func (t text) offset(i int64) int {
	if i <= 0 {
		return 0
	}
	if t.binary {
		return int(min(i, int64(len(t.s))))
	}
	off := 0
	for n := int64(0); n < i && off < len(t.s); n++ {
		_, w := utf8.DecodeRuneInString(t.s[off:])
		off += w
	}
	return off
}

// slice returns characters [from, to).
func (t text) slice(from, to int64) string {
	if to <= from {
		return ""
	}
	a := t.offset(from)
	return t.s[a : a+text{t.s[a:], t.binary}.offset(to-from)]
}

func charCount(d Datum) int { return textOf(d).len() }

func argInt(d Datum) int64 { v, _ := ToInt64(d); return v }

func registerStrings() {
	register(names("CONCAT"), 1, -1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		var b strings.Builder
		for _, d := range a {
			b.WriteString(ToString(d))
		}
		return textResult(a, b.String()), nil
	})
	register(names("CONCAT_WS"), 2, -1, false, func(_ *EvalContext, a []Datum) (Datum, error) {
		if a[0].IsNull() {
			return Null(), nil
		}
		parts := make([]string, 0, len(a)-1)
		for _, d := range a[1:] {
			if !d.IsNull() {
				parts = append(parts, ToString(d))
			}
		}
		return textResult(a, strings.Join(parts, ToString(a[0]))), nil
	})
	register(names("LENGTH", "OCTET_LENGTH"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return NewInt(int64(len(ToString(a[0])))), nil
	})
	register(names("CHAR_LENGTH", "CHARACTER_LENGTH"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return NewInt(int64(charCount(a[0]))), nil
	})
	caseFn := func(f func(string) string) Func {
		return func(_ *EvalContext, a []Datum) (Datum, error) {
			if a[0].kind == KindBytes { // binary strings have no case
				return a[0], nil
			}
			return NewString(f(ToString(a[0]))), nil
		}
	}
	register(names("LOWER", "LCASE"), 1, 1, true, caseFn(strings.ToLower))
	register(names("UPPER", "UCASE"), 1, 1, true, caseFn(strings.ToUpper))
	register(names("SUBSTRING", "SUBSTR", "MID"), 2, 3, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		c := textOf(a[0])
		pos := argInt(a[1])
		n := int64(c.len())
		if pos < 0 {
			pos = n + pos + 1
			if pos < 1 {
				return textResult(a[:1], ""), nil
			}
		}
		if pos == 0 || pos > n {
			return textResult(a[:1], ""), nil
		}
		end := n
		if len(a) == 3 {
			l := argInt(a[2])
			if l <= 0 {
				return textResult(a[:1], ""), nil
			}
			end = min(n, pos-1+min(l, n))
		}
		return textResult(a[:1], c.slice(pos-1, end)), nil
	})
	register(names("LEFT"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return textResult(a[:1], textOf(a[0]).slice(0, argInt(a[1]))), nil
	})
	register(names("RIGHT"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		c := textOf(a[0])
		n := int64(c.len())
		return textResult(a[:1], c.slice(n-max(min(argInt(a[1]), n), 0), n)), nil
	})
	register(names("TRIM"), 1, 3, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		s, rem, dir := ToString(a[0]), " ", "BOTH"
		if len(a) > 1 {
			rem = ToString(a[1])
		}
		if len(a) > 2 {
			dir = strings.ToUpper(ToString(a[2]))
		}
		if rem == "" {
			return textResult(a[:1], s), nil
		}
		if dir == "BOTH" || dir == "LEADING" {
			for strings.HasPrefix(s, rem) {
				s = s[len(rem):]
			}
		}
		if dir == "BOTH" || dir == "TRAILING" {
			for strings.HasSuffix(s, rem) {
				s = s[:len(s)-len(rem)]
			}
		}
		return textResult(a[:1], s), nil
	})
	register(names("LTRIM"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return textResult(a, strings.TrimLeft(ToString(a[0]), " ")), nil
	})
	register(names("RTRIM"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return textResult(a, strings.TrimRight(ToString(a[0]), " ")), nil
	})
	register(names("REPLACE"), 3, 3, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		from := ToString(a[1])
		if from == "" {
			return textResult(a, ToString(a[0])), nil
		}
		return textResult(a, strings.ReplaceAll(ToString(a[0]), from, ToString(a[2]))), nil
	})
	register(names("REVERSE"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		if a[0].kind == KindBytes {
			b := []byte(a[0].s)
			slices.Reverse(b)
			return NewBytesString(string(b)), nil
		}
		r := []rune(ToString(a[0]))
		slices.Reverse(r)
		return NewString(string(r)), nil
	})
	register(names("LPAD"), 3, 3, true, func(_ *EvalContext, a []Datum) (Datum, error) { return pad(a, true) })
	register(names("RPAD"), 3, 3, true, func(_ *EvalContext, a []Datum) (Datum, error) { return pad(a, false) })
	register(names("INSTR"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return NewInt(int64(locate(a[0], a[1], 1))), nil
	})
	register(names("LOCATE", "POSITION"), 2, 3, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		start := int64(1)
		if len(a) == 3 {
			start = argInt(a[2])
		}
		return NewInt(int64(locate(a[1], a[0], start))), nil
	})
	register(names("REPEAT"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		s := ToString(a[0])
		n := argInt(a[1])
		if n <= 0 || s == "" {
			return textResult(a[:1], ""), nil
		}
		if n > maxAllowedPacket/int64(len(s)) {
			return Null(), nil // MySQL: NULL beyond max_allowed_packet
		}
		return textResult(a[:1], strings.Repeat(s, int(n))), nil
	})
	register(names("SPACE"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		n := argInt(a[0])
		if n > maxAllowedPacket {
			return Null(), nil
		}
		return NewString(strings.Repeat(" ", max(int(n), 0))), nil
	})
	register(names("ASCII"), 1, 1, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		s := ToString(a[0])
		if s == "" {
			return NewInt(0), nil
		}
		return NewInt(int64(s[0])), nil
	})
	register(names("STRCMP"), 2, 2, true, func(_ *EvalContext, a []Datum) (Datum, error) {
		return NewInt(int64(strings.Compare(ToString(a[0]), ToString(a[1])))), nil
	})
}

// maxAllowedPacket bounds string results as MySQL's max_allowed_packet
// (64 MiB) does: REPEAT and friends return NULL beyond it.
const maxAllowedPacket = 64 << 20

// pad implements LPAD and RPAD: pad or cut s to n characters.
func pad(a []Datum, left bool) (Datum, error) {
	c := textOf(a[0])
	n := argInt(a[1])
	if n < 0 || n > maxAllowedPacket {
		return Null(), nil
	}
	have := int64(c.len())
	if n <= have {
		return textResult(a[:1], c.slice(0, n)), nil
	}
	p := textOf(a[2])
	plen := int64(p.len())
	if plen == 0 {
		return Null(), nil
	}
	k := n - have
	if (k/plen+1)*int64(len(p.s)) > maxAllowedPacket {
		return Null(), nil
	}
	fill := strings.Repeat(p.s, int(k/plen)) + p.slice(0, k%plen)
	if left {
		return textResult(a, fill+c.s), nil
	}
	return textResult(a, c.s+fill), nil
}

// locate returns the 1-based character position of sub in s at or after
// start, 0 if absent.
func locate(s, sub Datum, start int64) int {
	c := textOf(s)
	if start < 1 || start > int64(c.len())+1 {
		return 0
	}
	hay := c.s[c.offset(start-1):]
	i := strings.Index(hay, ToString(sub))
	if i < 0 {
		return 0
	}
	if s.kind == KindBytes || sub.kind == KindBytes {
		return int(start) + i
	}
	return int(start) + utf8.RuneCountInString(hay[:i])
}
