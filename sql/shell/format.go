package shell

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// Format is how result sets are printed.
type Format string

const (
	// FormatTable draws boxed tables like the mysql client, followed by
	// "N rows in set" / "Query OK, N rows affected" / "Empty set" lines.
	// The whole result is read before it is drawn, to size the columns.
	FormatTable Format = "table"
	// FormatCSV prints RFC 4180 CSV: a header record of column names,
	// then one record per row, "\n"-terminated. Fields holding ',', '"',
	// CR or LF are quoted with '"' doubled. NULL is an empty unquoted
	// field and the empty string is "" — PostgreSQL's CSV convention, so
	// the two stay distinguishable.
	FormatCSV Format = "csv"
	// FormatTSV prints what `mariadb -B` prints: a line of column names,
	// then one line per row, fields separated by tabs, NULL as NULL, and
	// NUL, tab, line feed and backslash written as \0, \t, \n and \\.
	// Unlike mariadb, the header line is printed for an empty result too
	// and column names are escaped like values, so that a consumer always
	// gets exactly one header line.
	FormatTSV Format = "tsv"
	// FormatJSON prints each result set as one JSON array of objects, one
	// object per row on its own line, keys in column order. NULL is null;
	// values of numeric columns are JSON numbers, copied digit for digit
	// from the server's text (no float rounding), unless that text is not
	// a JSON number (NaN); everything else is a string (invalid UTF-8 is
	// replaced by U+FFFD). An array rather than JSON lines so that several
	// result sets stay apart; jq '.[]' turns it into lines.
	FormatJSON Format = "json"
)

// ParseFormat checks a --format flag value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatTable, FormatCSV, FormatTSV, FormatJSON:
		return f, nil
	}
	return "", errors.Newf("shell: unknown format %q (want table, csv, tsv or json)", s)
}

// column is what the printers need to know about a result column.
type column struct {
	name string
	// numeric columns are right-aligned in tables and become JSON
	// numbers, as the mysql client right-aligns its numeric types.
	numeric bool
}

// cell is one printed value: its text as the driver returned it, or
// NULL, which must stay distinct from the empty string.
type cell struct {
	text string
	null bool
}

// resultSet is one result set of a statement, read row by row. The
// database/sql backend implements it over *sql.Rows; the printers see
// only this, so they are tested from fixed columns and rows.
type resultSet interface {
	columns() []column
	// next returns the next row, or io.EOF after the last one. The slice
	// is the caller's to keep.
	next() ([]cell, error)
}

// streamWriter prints result sets in a machine-readable format as the
// rows arrive. It returns the number of rows written.
type streamWriter func(w io.Writer, rs resultSet) (int, error)

func streamWriterFor(f Format) streamWriter {
	switch f {
	case FormatCSV:
		return writeCSV
	case FormatTSV:
		return writeTSV
	case FormatJSON:
		return writeJSON
	}
	return nil
}

// readAll drains a result set; the table printer needs every row.
func readAll(rs resultSet) ([][]cell, error) {
	var rows [][]cell
	for {
		row, err := rs.next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

// renderTable draws rows as the mysql client does: +---+ borders, a
// header of column names left-aligned, numeric columns right-aligned.
func renderTable(w io.Writer, cols []column, rows [][]cell) error {
	t := table.NewWriter()
	t.SetStyle(table.StyleDefault)
	t.Style().Format.Header = text.FormatDefault // StyleDefault upper-cases headers
	header := make(table.Row, len(cols))
	configs := make([]table.ColumnConfig, len(cols))
	for i, c := range cols {
		header[i] = c.name
		align := text.AlignLeft
		if c.numeric {
			align = text.AlignRight
		}
		configs[i] = table.ColumnConfig{Number: i + 1, Align: align, AlignHeader: text.AlignLeft}
	}
	t.AppendHeader(header)
	t.SetColumnConfigs(configs)
	for _, row := range rows {
		r := make(table.Row, len(row))
		for i, c := range row {
			if c.null {
				r[i] = "NULL"
			} else {
				r[i] = c.text
			}
		}
		t.AppendRow(r)
	}
	_, err := io.WriteString(w, t.Render()+"\n")
	return err
}

// rowCountLine is the line after a result set in table format.
func rowCountLine(n int) string {
	switch n {
	case 0:
		return "Empty set"
	case 1:
		return "1 row in set"
	}
	return fmt.Sprintf("%d rows in set", n)
}

// affectedLine is the line after a statement that returned no rows.
// known is false when the driver could not say how many rows changed.
func affectedLine(n int64, known bool) string {
	switch {
	case !known:
		return "Query OK"
	case n == 1:
		return "Query OK, 1 row affected"
	}
	return fmt.Sprintf("Query OK, %d rows affected", n)
}

// elapsedText formats a duration as the mysql client does: "(0.01 sec)",
// "(1 min 2.50 sec)", "(1 hour 1 min 0.00 sec)".
func elapsedText(d time.Duration) string {
	sec := d.Seconds()
	var b strings.Builder
	b.WriteByte('(')
	for _, u := range []struct {
		secs       float64
		one, other string
	}{{86400, "day", "days"}, {3600, "hour", "hours"}, {60, "min", "min"}} {
		if sec >= u.secs {
			n := math.Floor(sec / u.secs)
			sec -= n * u.secs
			unit := u.other
			if n == 1 {
				unit = u.one
			}
			fmt.Fprintf(&b, "%d %s ", int64(n), unit)
		}
	}
	fmt.Fprintf(&b, "%.2f sec)", sec)
	return b.String()
}

func writeCSV(w io.Writer, rs resultSet) (int, error) {
	cols := rs.columns()
	var line []byte
	for i, c := range cols {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVField(line, cell{text: c.name})
	}
	line = append(line, '\n')
	if _, err := w.Write(line); err != nil {
		return 0, err
	}
	return streamRows(w, rs, func(line []byte, row []cell) []byte {
		for i, c := range row {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendCSVField(line, c)
		}
		return append(line, '\n')
	})
}

func appendCSVField(b []byte, c cell) []byte {
	switch {
	case c.null:
		return b
	case c.text == "" || strings.ContainsAny(c.text, ",\"\r\n"):
		b = append(b, '"')
		b = append(b, strings.ReplaceAll(c.text, `"`, `""`)...)
		return append(b, '"')
	}
	return append(b, c.text...)
}

func writeTSV(w io.Writer, rs resultSet) (int, error) {
	var line []byte
	for i, c := range rs.columns() {
		if i > 0 {
			line = append(line, '\t')
		}
		line = appendTSVField(line, cell{text: c.name})
	}
	line = append(line, '\n')
	if _, err := w.Write(line); err != nil {
		return 0, err
	}
	return streamRows(w, rs, func(line []byte, row []cell) []byte {
		for i, c := range row {
			if i > 0 {
				line = append(line, '\t')
			}
			line = appendTSVField(line, c)
		}
		return append(line, '\n')
	})
}

// appendTSVField escapes as the mariadb client's safe_put_field does.
func appendTSVField(b []byte, c cell) []byte {
	if c.null {
		return append(b, "NULL"...)
	}
	for i := 0; i < len(c.text); i++ {
		switch ch := c.text[i]; ch {
		case 0:
			b = append(b, `\0`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\\':
			b = append(b, `\\`...)
		default:
			b = append(b, ch)
		}
	}
	return b
}

func writeJSON(w io.Writer, rs resultSet) (int, error) {
	cols := rs.columns()
	// Keys are encoded once; encoding/json maps would sort them.
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		keys[i] = jsonString(c.name)
	}
	if _, err := io.WriteString(w, "["); err != nil {
		return 0, err
	}
	first := true
	n, err := streamRows(w, rs, func(line []byte, row []cell) []byte {
		if first {
			line = append(line, '\n')
			first = false
		} else {
			line = append(line, ",\n"...)
		}
		line = append(line, '{')
		for i, c := range row {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(line, keys[i]...)
			line = append(line, ':')
			switch {
			case c.null:
				line = append(line, "null"...)
			case cols[i].numeric && isJSONNumber(c.text):
				line = append(line, c.text...)
			default:
				line = append(line, jsonString(c.text)...)
			}
		}
		return append(line, '}')
	})
	if err != nil {
		return n, err
	}
	end := "\n]\n"
	if first {
		end = "]\n"
	}
	_, err = io.WriteString(w, end)
	return n, err
}

func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// isJSONNumber reports whether s can be copied into JSON as a number.
// DECIMAL text such as "1.50" can; "NaN", "Infinity" and "+1" cannot.
func isJSONNumber(s string) bool {
	if s == "" || !(s[0] == '-' || ('0' <= s[0] && s[0] <= '9')) {
		return false
	}
	return json.Valid([]byte(s))
}

// streamRows writes each row as one line built by appendRow, reusing
// one buffer so that large results cost no allocation per row.
func streamRows(
	w io.Writer, rs resultSet, appendRow func(line []byte, row []cell) []byte,
) (int, error) {
	var line []byte
	n := 0
	for {
		row, err := rs.next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		line = appendRow(line[:0], row)
		if _, err := w.Write(line); err != nil {
			return n, err
		}
		n++
	}
}
