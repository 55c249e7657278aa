package types

import (
	"testing"
	"time"

	"github.com/meridiandb/meridian/sql/sqlerr"
)

func TestBuiltins(t *testing.T) {
	ctx := &EvalContext{Now: time.Date(2024, 3, 15, 13, 45, 30, 123456000, time.UTC)}
	s, i, f := NewString, NewInt, NewFloat
	dt := func(v string) Datum { d, _ := Convert(s(v), T{Kind: DateTime, Scale: 6}); return d }
	for _, tc := range []struct {
		fn   string
		args []Datum
		want string
	}{
		{"concat", []Datum{s("a"), i(1), f(1.5)}, "a11.5"},
		{"CONCAT", []Datum{s("a"), Null()}, "NULL"},
		{"concat_ws", []Datum{s(","), s("a"), Null(), s("b")}, "a,b"},
		{"concat_ws", []Datum{Null(), s("a")}, "NULL"},
		{"length", []Datum{s("héllo")}, "6"},
		{"char_length", []Datum{s("héllo")}, "5"},
		{"lower", []Datum{s("ÀbC")}, "àbc"},
		{"ucase", []Datum{s("abc")}, "ABC"},
		{"substring", []Datum{s("Quadratically"), i(5)}, "ratically"},
		{"substring", []Datum{s("Quadratically"), i(5), i(6)}, "ratica"},
		{"substr", []Datum{s("Sakila"), i(-3)}, "ila"},
		{"substr", []Datum{s("Sakila"), i(-5), i(3)}, "aki"},
		{"substr", []Datum{s("Sakila"), i(0)}, ""},
		{"mid", []Datum{s("héllo"), i(2), i(2)}, "él"},
		{"left", []Datum{s("foobarbar"), i(5)}, "fooba"},
		{"right", []Datum{s("foobarbar"), i(4)}, "rbar"},
		{"left", []Datum{s("ab"), i(-1)}, ""},
		{"trim", []Datum{s("  bar   ")}, "bar"},
		{"trim", []Datum{s("xxxbarxxx"), s("x"), s("LEADING")}, "barxxx"},
		{"trim", []Datum{s("xxxbarxxx"), s("x"), s("BOTH")}, "bar"},
		{"trim", []Datum{s("barxxyz"), s("xyz"), s("TRAILING")}, "barx"},
		{"ltrim", []Datum{s("  barbar")}, "barbar"},
		{"rtrim", []Datum{s("barbar   ")}, "barbar"},
		{"replace", []Datum{s("www.mysql.com"), s("w"), s("Ww")}, "WwWwWw.mysql.com"},
		{"reverse", []Datum{s("abcé")}, "écba"},
		{"lpad", []Datum{s("hi"), i(4), s("??")}, "??hi"},
		{"lpad", []Datum{s("hi"), i(1), s("??")}, "h"},
		{"rpad", []Datum{s("hi"), i(5), s("?")}, "hi???"},
		{"instr", []Datum{s("foobarbar"), s("bar")}, "4"},
		{"instr", []Datum{s("xbar"), s("foobar")}, "0"},
		{"locate", []Datum{s("bar"), s("foobarbar")}, "4"},
		{"locate", []Datum{s("bar"), s("foobarbar"), i(5)}, "7"},
		{"locate", []Datum{s("é"), s("aéé"), i(3)}, "3"},
		{"repeat", []Datum{s("ab"), i(3)}, "ababab"},
		{"abs", []Datum{i(-3)}, "3"},
		{"abs", []Datum{mustDec(t, "-1.50")}, "1.50"},
		{"ceil", []Datum{mustDec(t, "1.23")}, "2"},
		{"ceiling", []Datum{mustDec(t, "-1.23")}, "-1"},
		{"floor", []Datum{f(-1.5)}, "-2"},
		{"round", []Datum{mustDec(t, "-1.58")}, "-2"},
		{"round", []Datum{mustDec(t, "1.298"), i(1)}, "1.3"},
		{"round", []Datum{mustDec(t, "1.298"), i(0)}, "1"},
		{"round", []Datum{i(23), i(-1)}, "20"},
		{"round", []Datum{i(25), i(-1)}, "30"},
		{"round", []Datum{mustDec(t, "2.5")}, "3"},
		{"round", []Datum{f(2.5)}, "2"},
		{"round", []Datum{mustDec(t, "1.2"), i(3)}, "1.200"},
		{"truncate", []Datum{mustDec(t, "1.223"), i(1)}, "1.2"},
		{"truncate", []Datum{mustDec(t, "-1.999"), i(1)}, "-1.9"},
		{"truncate", []Datum{i(122), i(-2)}, "100"},
		{"mod", []Datum{i(29), i(9)}, "2"},
		{"pow", []Datum{i(2), i(10)}, "1024"},
		{"power", []Datum{i(2), i(-2)}, "0.25"},
		{"sqrt", []Datum{i(4)}, "2"},
		{"sqrt", []Datum{i(-4)}, "NULL"},
		{"greatest", []Datum{i(2), i(0), mustDec(t, "34.0"), i(3)}, "34.0"},
		{"least", []Datum{s("B"), s("A"), s("C")}, "A"},
		{"greatest", []Datum{i(1), Null()}, "NULL"},
		{"ifnull", []Datum{Null(), i(10)}, "10"},
		{"ifnull", []Datum{i(1), i(10)}, "1"},
		{"nullif", []Datum{i(1), i(1)}, "NULL"},
		{"nullif", []Datum{i(1), i(2)}, "1"},
		{"coalesce", []Datum{Null(), Null(), i(3)}, "3"},
		{"coalesce", []Datum{Null()}, "NULL"},
		{"if", []Datum{i(1), s("y"), s("n")}, "y"},
		{"if", []Datum{Null(), s("y"), s("n")}, "n"},
		{"if", []Datum{s("0.0"), s("y"), s("n")}, "n"},
		{"now", nil, "2024-03-15 13:45:30"},
		{"current_timestamp", []Datum{i(3)}, "2024-03-15 13:45:30.123"},
		{"curdate", nil, "2024-03-15"},
		{"date", []Datum{s("2024-01-02 03:04:05")}, "2024-01-02"},
		{"date", []Datum{s("garbage")}, "NULL"},
		{"year", []Datum{s("2024-01-02")}, "2024"},
		{"month", []Datum{dt("2024-11-02 03:04:05")}, "11"},
		{"day", []Datum{s("2024-01-02")}, "2"},
		{"dayofmonth", []Datum{s("2024-01-31")}, "31"},
		{"hour", []Datum{dt("2024-01-02 03:04:05")}, "3"},
		{"minute", []Datum{dt("2024-01-02 03:04:05")}, "4"},
		{"second", []Datum{dt("2024-01-02 03:04:05")}, "5"},
		{"dayofweek", []Datum{s("2024-03-15")}, "6"},
		{"weekday", []Datum{s("2024-03-15")}, "4"},
		{"dayname", []Datum{s("2024-03-15")}, "Friday"},
		{"last_day", []Datum{s("2024-02-10")}, "2024-02-29"},
		{"to_days", []Datum{s("2007-10-07")}, "733321"},
		{"from_days", []Datum{i(733321)}, "2007-10-07"},
		{"date_format", []Datum{s("2009-10-04 22:23:00"), s("%W %M %Y")}, "Sunday October 2009"},
		{"date_format", []Datum{s("2007-10-04 22:23:00"), s("%H:%i:%s")}, "22:23:00"},
		{"date_format", []Datum{s("1900-10-04 22:23:00"), s("%D %y %a %d %m %b %j")}, "4th 00 Thu 04 10 Oct 277"},
		{"date_format", []Datum{s("1997-10-04 22:23:00"), s("%H %k %I %r %T %S %w")}, "22 22 10 10:23:00 PM 22:23:00 00 6"},
		{"date_format", []Datum{s("1999-01-01"), s("%X %V")}, "1998 52"},
		{"date_format", []Datum{s("2006-06-00"), s("%d")}, "NULL"},
		{"date_format", []Datum{dt("2024-01-02 03:04:05.5"), s("%f %% %U %u %v %x %c %e %l %p")}, "500000 % 00 01 01 2024 1 2 3 AM"},
		{"date_add", []Datum{s("2018-05-01"), i(1), s("DAY")}, "2018-05-02"},
		{"date_add", []Datum{s("2024-01-31"), i(1), s("MONTH")}, "2024-02-29"},
		{"date_sub", []Datum{s("2018-05-01"), i(1), s("YEAR")}, "2017-05-01"},
		{"date_add", []Datum{s("2020-12-31 23:59:59"), i(1), s("SECOND")}, "2021-01-01 00:00:00"},
		{"date_add", []Datum{s("2018-12-31 23:59:59"), s("1:1"), s("MINUTE_SECOND")}, "2019-01-01 00:01:00"},
		{"date_sub", []Datum{s("2025-01-01 00:00:00"), s("1 1:1:1"), s("DAY_SECOND")}, "2024-12-30 22:58:59"},
		{"date_add", []Datum{s("1900-01-01 00:00:00"), s("-1 10"), s("DAY_HOUR")}, "1899-12-30 14:00:00"},
		{"date_sub", []Datum{s("1998-01-02"), i(31), s("DAY")}, "1997-12-02"},
		{"date_add", []Datum{s("1992-12-31 23:59:59.000002"), s("1.999999"), s("SECOND_MICROSECOND")}, "1993-01-01 00:00:01.000001"},
		{"date_add", []Datum{s("2024-01-01"), mustDec(t, "1.5"), s("SECOND")}, "2024-01-01 00:00:01.500000"},
		{"date_add", []Datum{s("2024-01-01"), i(2), s("HOUR")}, "2024-01-01 02:00:00"},
		{"adddate", []Datum{s("2024-01-01"), i(31)}, "2024-02-01"},
		{"date_add", []Datum{s("9999-12-31"), i(1), s("DAY")}, "NULL"},
		{"datediff", []Datum{s("2007-12-31 23:59:59"), s("2007-12-30")}, "1"},
		{"datediff", []Datum{s("2010-11-30 23:59:59"), s("2010-12-31")}, "-31"},
		{"timestampdiff", []Datum{s("MONTH"), s("2003-02-01"), s("2003-05-01")}, "3"},
		{"timestampdiff", []Datum{s("YEAR"), s("2002-05-01"), s("2001-01-01")}, "-1"},
		{"timestampdiff", []Datum{s("MINUTE"), s("2003-02-01"), s("2003-05-01 12:05:55")}, "128885"},
		{"timestampdiff", []Datum{s("MONTH"), s("2024-01-31"), s("2024-02-29")}, "0"},
		{"unix_timestamp", nil, "1710510330"},
		{"unix_timestamp", []Datum{s("2015-11-13 10:20:19")}, "1447410019"},
		{"unix_timestamp", []Datum{dt("2015-11-13 10:20:19.012")}, "1447410019.012000"},
		{"unix_timestamp", []Datum{s("1960-01-01")}, "0"},
		{"from_unixtime", []Datum{i(1447430881)}, "2015-11-13 16:08:01"},
		{"from_unixtime", []Datum{mustDec(t, "1447430881.5")}, "2015-11-13 16:08:01.5"},
		{"from_unixtime", []Datum{i(1447430881), s("%Y %D %M %h:%i:%s %x")}, "2015 13th November 04:08:01 2015"},
		{"str_to_date", []Datum{s("01,5,2013"), s("%d,%m,%Y")}, "2013-05-01"},
		{"str_to_date", []Datum{s("May 1, 2013"), s("%M %d,%Y")}, "2013-05-01"},
		{"str_to_date", []Datum{s("a09:30:17"), s("a%h:%i:%s")}, "NULL"},
		{"str_to_date", []Datum{s("2013-05-01 09:30:17 PM"), s("%Y-%m-%d %r")}, "2013-05-01 21:30:17"},
		{"str_to_date", []Datum{s("2024-01-02 03:04:05.12"), s("%Y-%m-%d %T.%f")}, "2024-01-02 03:04:05.120000"},
		{"str_to_date", []Datum{s("2013-02-30"), s("%Y-%m-%d")}, "NULL"},
		{"str_to_date", []Datum{s("2024 060"), s("%Y %j")}, "2024-02-29"},
	} {
		got, err := CallBuiltin(ctx, tc.fn, tc.args)
		if err != nil || got.String() != tc.want {
			t.Errorf("%s(%v) = %q, %v; want %q", tc.fn, tc.args, got, err, tc.want)
		}
	}
}

func TestBuiltinErrors(t *testing.T) {
	if _, err := CallBuiltin(nil, "concat_ws", []Datum{NewString(",")}); !sqlerr.Is(err, sqlerr.CodeWrongParamcountToFunc) {
		t.Errorf("arity: %v", err)
	}
	if _, err := CallBuiltin(nil, "no_such_fn", nil); !sqlerr.Is(err, sqlerr.CodeSPDoesNotExist) {
		t.Errorf("unknown: %v", err)
	}
	if _, err := CallBuiltin(&EvalContext{}, "now", nil); err == nil {
		t.Error("NOW() without a statement time must fail, not read a clock")
	}
	if _, err := CallBuiltin(nil, "date_add", []Datum{NewString("2024-01-01"), NewInt(1), NewString("FORTNIGHT")}); !sqlerr.Is(err, sqlerr.CodeWrongArguments) {
		t.Errorf("bad unit: %v", err)
	}
	var warned []*sqlerr.Error
	ctx := &EvalContext{Warn: func(e *sqlerr.Error) { warned = append(warned, e) }}
	if d, err := CallBuiltin(ctx, "year", []Datum{NewString("nope")}); err != nil || !d.IsNull() || len(warned) != 1 {
		t.Errorf("bad date: %v %v %v", d, err, warned)
	}
	f, ok := Builtin("Upper")
	if !ok {
		t.Fatal("Builtin lookup is case-insensitive")
	}
	if d, _ := f(nil, []Datum{NewBytes([]byte("ab"))}); d.Kind() != KindBytes || d.Str() != "ab" {
		t.Errorf("UPPER of a binary string is unchanged: %v", d)
	}
}
