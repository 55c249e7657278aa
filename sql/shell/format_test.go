package shell

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// sliceResult is a result set over fixed rows: the printers are tested
// from column names and cells, with no driver.
type sliceResult struct {
	cols []column
	rows [][]cell
	err  error // returned after the rows, as a failing scan would be
	i    int
}

func (r *sliceResult) columns() []column { return r.cols }

func (r *sliceResult) next() ([]cell, error) {
	if r.i == len(r.rows) {
		if r.err != nil {
			return nil, r.err
		}
		return nil, io.EOF
	}
	r.i++
	return r.rows[r.i-1], nil
}

func txt(s string) cell { return cell{text: s} }

var null = cell{null: true}

// tricky holds the values every format must tell apart or escape.
func tricky() *sliceResult {
	return &sliceResult{
		cols: []column{{name: "id", numeric: true}, {name: "name"}, {name: "price", numeric: true}},
		rows: [][]cell{
			{txt("1"), txt("alice"), txt("1.50")},
			{txt("22"), null, null},
			{txt("3"), txt(""), txt("NaN")},
			{txt("4"), txt("a,b \"q\""), txt("-0.5")},
			{txt("5"), txt("tab\tnl\nbs\\nul\x00"), txt("1e3")},
			{txt("6"), txt("héllo 世界"), txt("100")},
		},
	}
}

func TestRenderTable(t *testing.T) {
	r := &sliceResult{
		cols: []column{{name: "id", numeric: true}, {name: "name"}, {name: "count(*)", numeric: true}},
		rows: [][]cell{
			{txt("1"), txt("alice"), txt("3")},
			{txt("22"), null, txt("1.50")},
			{txt("3"), txt(""), null},
		},
	}
	rows, err := readAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := renderTable(&b, r.cols, rows); err != nil {
		t.Fatal(err)
	}
	// Header left-aligned and not upper-cased; numbers (and their
	// NULLs) right-aligned; the empty string is an empty cell.
	want := `+----+-------+----------+
| id | name  | count(*) |
+----+-------+----------+
|  1 | alice |        3 |
| 22 | NULL  |     1.50 |
|  3 |       |     NULL |
+----+-------+----------+
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestStreamFormats(t *testing.T) {
	for _, tc := range []struct {
		format Format
		want   string
	}{
		{FormatTSV, "id\tname\tprice\n" +
			"1\talice\t1.50\n" +
			"22\tNULL\tNULL\n" +
			"3\t\tNaN\n" +
			"4\ta,b \"q\"\t-0.5\n" +
			`5	tab\tnl\nbs\\nul\0	1e3` + "\n" +
			"6\théllo 世界\t100\n"},
		{FormatCSV, "id,name,price\n" +
			"1,alice,1.50\n" +
			"22,,\n" +
			"3,\"\",NaN\n" +
			"4,\"a,b \"\"q\"\"\",-0.5\n" +
			"5,\"tab\tnl\nbs\\nul\x00\",1e3\n" +
			"6,héllo 世界,100\n"},
		{FormatJSON, `[
{"id":1,"name":"alice","price":1.50},
{"id":22,"name":null,"price":null},
{"id":3,"name":"","price":"NaN"},
{"id":4,"name":"a,b \"q\"","price":-0.5},
{"id":5,"name":"tab\tnl\nbs\\nul\u0000","price":1e3},
{"id":6,"name":"héllo 世界","price":100}
]
`},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			var b bytes.Buffer
			n, err := streamWriterFor(tc.format)(&b, tricky())
			if err != nil {
				t.Fatal(err)
			}
			if n != 6 {
				t.Errorf("wrote %d rows, want 6", n)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), tc.want)
			}
			if tc.format == FormatJSON && !json.Valid(b.Bytes()) {
				t.Errorf("invalid JSON:\n%s", b.String())
			}
		})
	}
}

func TestStreamFormatsEmptyResult(t *testing.T) {
	for f, want := range map[Format]string{
		FormatTSV:  "a\tb\\tc\n", // one header line, even with no rows
		FormatCSV:  "a,b\tc\n",
		FormatJSON: "[]\n",
	} {
		var b bytes.Buffer
		r := &sliceResult{cols: []column{{name: "a"}, {name: "b\tc"}}}
		if _, err := streamWriterFor(f)(&b, r); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s: got %q, want %q", f, b.String(), want)
		}
	}
}

func TestStreamFormatStopsOnError(t *testing.T) {
	r := tricky()
	r.rows = r.rows[:1]
	r.err = io.ErrUnexpectedEOF
	var b bytes.Buffer
	n, err := writeTSV(&b, r)
	if err != io.ErrUnexpectedEOF || n != 1 {
		t.Fatalf("n=%d err=%v, want 1 row then the error", n, err)
	}
}

func TestFooterLines(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{rowCountLine(0), "Empty set"},
		{rowCountLine(1), "1 row in set"},
		{rowCountLine(3), "3 rows in set"},
		{affectedLine(0, true), "Query OK, 0 rows affected"},
		{affectedLine(1, true), "Query OK, 1 row affected"},
		{affectedLine(12, true), "Query OK, 12 rows affected"},
		{affectedLine(0, false), "Query OK"},
		{elapsedText(0), "(0.00 sec)"},
		{elapsedText(12 * time.Millisecond), "(0.01 sec)"},
		{elapsedText(62500 * time.Millisecond), "(1 min 2.50 sec)"},
		{elapsedText(2*time.Hour + time.Second), "(2 hours 1.00 sec)"},
		{elapsedText(25*time.Hour + 61*time.Second), "(1 day 1 hour 1 min 1.00 sec)"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"table", "csv", "tsv", "json"} {
		if f, err := ParseFormat(s); err != nil || string(f) != s {
			t.Errorf("ParseFormat(%q) = %q, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("ParseFormat(xml) = %v, want an error naming it", err)
	}
}

func TestValueCell(t *testing.T) {
	ts := time.Date(2024, 3, 5, 7, 8, 9, 120000000, time.UTC)
	for _, tc := range []struct {
		v      any
		dbType string
		want   cell
	}{
		{nil, "VARCHAR", null},
		{[]byte{}, "VARCHAR", txt("")},
		{[]byte("12.340"), "DECIMAL", txt("12.340")},
		{int64(-7), "BIGINT", txt("-7")},
		{uint64(18446744073709551615), "UNSIGNED BIGINT", txt("18446744073709551615")},
		{0.1, "DOUBLE", txt("0.1")},
		{float32(0.1), "FLOAT", txt("0.1")},
		{true, "BOOL", txt("1")},
		{ts, "DATETIME", txt("2024-03-05 07:08:09.12")},
		{ts.Truncate(time.Second), "TIMESTAMP", txt("2024-03-05 07:08:09")},
		{ts, "DATE", txt("2024-03-05")},
	} {
		if got := valueCell(tc.v, tc.dbType); got != tc.want {
			t.Errorf("valueCell(%#v, %s) = %+v, want %+v", tc.v, tc.dbType, got, tc.want)
		}
	}
}

func TestIsNumericType(t *testing.T) {
	for name, want := range map[string]bool{
		"INT": true, "UNSIGNED BIGINT": true, "decimal": true, "DOUBLE": true,
		"YEAR": true, "NULL": true, "VARCHAR": false, "TIMESTAMP": false,
		"DATETIME": false, "BLOB": false, "JSON": false,
	} {
		if isNumericType(name) != want {
			t.Errorf("isNumericType(%q) = %v, want %v", name, !want, want)
		}
	}
}
