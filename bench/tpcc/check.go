package tpcc

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Violation is one consistency condition that does not hold.
type Violation struct {
	Condition int    // 1..4, the specification's numbering (3.3.2)
	Warehouse int    // W_ID
	District  int    // D_ID, 0 for a warehouse-level condition
	Detail    string // the values that disagree
}

func (v Violation) String() string {
	where := fmt.Sprintf("warehouse %d", v.Warehouse)
	if v.District > 0 {
		where += fmt.Sprintf(" district %d", v.District)
	}
	return fmt.Sprintf("consistency condition %d fails: %s: %s", v.Condition, where, v.Detail)
}

// CheckError is Check's error when conditions do not hold.
type CheckError struct{ Violations []Violation }

func (e *CheckError) Error() string {
	lines := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		lines[i] = v.String()
	}
	return fmt.Sprintf("tpcc: %d consistency violations:\n%s", len(e.Violations), strings.Join(lines, "\n"))
}

// conditions are the specification's consistency conditions 1-4 (3.3.2),
// each a description and a check over the per-district aggregates.
var conditions = []struct {
	n    int
	text string
}{
	{1, "W_YTD = sum(D_YTD)"},
	{2, "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID)"},
	{3, "max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW_ORDER)"},
	{4, "sum(O_OL_CNT) = count(ORDER_LINE)"},
}

type districtKey struct{ w, d int }

// districtAggs are the aggregates of one district that conditions 2-4 compare.
type districtAggs struct {
	nextO             int64
	maxO              sql.NullInt64
	maxNO, minNO      sql.NullInt64
	countNO           int64
	sumOLCnt, countOL int64
	ytd               string
}

// Check evaluates consistency conditions 1-4 over every warehouse and
// district in one read-only (snapshot) transaction, prints one line per
// condition on out, and returns a *CheckError listing each violation.
func Check(ctx context.Context, cfg Config, out io.Writer) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, err := openDB(cfg, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.StatementTimeout)
	defer cancel()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	viols, checked, err := checkTx(ctx, tx)
	if err != nil {
		return err
	}
	for _, c := range conditions {
		n := 0
		for _, v := range viols {
			if v.Condition == c.n {
				n++
			}
		}
		status := "ok"
		if n > 0 {
			status = fmt.Sprintf("FAILED (%d)", n)
		}
		fmt.Fprintf(out, "condition %d  %-52s %s\n", c.n, c.text, status)
	}
	fmt.Fprintf(out, "checked %d warehouses, %d districts\n", checked.w, checked.d)
	if len(viols) > 0 {
		for _, v := range viols {
			fmt.Fprintln(out, v)
		}
		return &CheckError{Violations: viols}
	}
	return nil
}

type checkedCount struct{ w, d int }

func checkTx(ctx context.Context, tx *sql.Tx) ([]Violation, checkedCount, error) {
	var cnt checkedCount
	aggs := map[districtKey]*districtAggs{}
	get := func(w, d int) *districtAggs {
		k := districtKey{w, d}
		if aggs[k] == nil {
			aggs[k] = &districtAggs{nextO: -1}
		}
		return aggs[k]
	}
	queries := []struct {
		q    string
		scan func(rows *sql.Rows) error
	}{
		{"SELECT d_w_id, d_id, d_next_o_id, d_ytd FROM district", func(rows *sql.Rows) error {
			var w, d int
			var next int64
			var ytd string
			if err := rows.Scan(&w, &d, &next, &ytd); err != nil {
				return err
			}
			a := get(w, d)
			a.nextO, a.ytd = next, ytd
			return nil
		}},
		{"SELECT o_w_id, o_d_id, MAX(o_id), SUM(o_ol_cnt) FROM orders GROUP BY o_w_id, o_d_id", func(rows *sql.Rows) error {
			var w, d int
			var maxO sql.NullInt64
			var sum int64
			if err := rows.Scan(&w, &d, &maxO, &sum); err != nil {
				return err
			}
			a := get(w, d)
			a.maxO, a.sumOLCnt = maxO, sum
			return nil
		}},
		{"SELECT no_w_id, no_d_id, MAX(no_o_id), MIN(no_o_id), COUNT(*) FROM new_order GROUP BY no_w_id, no_d_id", func(rows *sql.Rows) error {
			var w, d int
			var mx, mn sql.NullInt64
			var n int64
			if err := rows.Scan(&w, &d, &mx, &mn, &n); err != nil {
				return err
			}
			a := get(w, d)
			a.maxNO, a.minNO, a.countNO = mx, mn, n
			return nil
		}},
		{"SELECT ol_w_id, ol_d_id, COUNT(*) FROM order_line GROUP BY ol_w_id, ol_d_id", func(rows *sql.Rows) error {
			var w, d int
			var n int64
			if err := rows.Scan(&w, &d, &n); err != nil {
				return err
			}
			get(w, d).countOL = n
			return nil
		}},
	}
	for _, q := range queries {
		if err := queryEach(ctx, tx, q.q, q.scan); err != nil {
			return nil, cnt, err
		}
	}
	wYTD := map[int]string{}
	if err := queryEach(ctx, tx, "SELECT w_id, w_ytd FROM warehouse", func(rows *sql.Rows) error {
		var w int
		var ytd string
		if err := rows.Scan(&w, &ytd); err != nil {
			return err
		}
		wYTD[w] = ytd
		return nil
	}); err != nil {
		return nil, cnt, err
	}
	if len(wYTD) == 0 {
		return nil, cnt, fmt.Errorf("tpcc: check: no warehouse: is the database loaded?")
	}
	keys := make([]districtKey, 0, len(aggs))
	for k := range aggs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].w < keys[j].w || keys[i].w == keys[j].w && keys[i].d < keys[j].d
	})
	var viols []Violation
	sumD := map[int]int64{}
	for _, k := range keys {
		a := aggs[k]
		cents, err := parseCents(a.ytd)
		if a.nextO < 0 || err != nil {
			viols = append(viols, Violation{2, k.w, k.d, "orders or new orders of a district that does not exist"})
			continue
		}
		sumD[k.w] += cents
		viols = append(viols, districtViolations(k, a)...)
	}
	ws := make([]int, 0, len(wYTD))
	for w := range wYTD {
		ws = append(ws, w)
	}
	sort.Ints(ws)
	for _, w := range ws {
		cents, err := parseCents(wYTD[w])
		if err != nil {
			return nil, cnt, fmt.Errorf("tpcc: check: w_ytd %q: %w", wYTD[w], err)
		}
		if cents != sumD[w] {
			viols = append(viols, Violation{1, w, 0, fmt.Sprintf("w_ytd = %s, sum(d_ytd) = %s", money(cents), money(sumD[w]))})
		}
	}
	return viols, checkedCount{len(ws), len(keys)}, nil
}

// districtViolations checks conditions 2-4 for one district.
func districtViolations(k districtKey, a *districtAggs) []Violation {
	var v []Violation
	nullStr := func(n sql.NullInt64) string {
		if !n.Valid {
			return "none"
		}
		return fmt.Sprint(n.Int64)
	}
	// Condition 2; max(NO_O_ID) takes part only while the district has
	// undelivered orders.
	if !a.maxO.Valid || a.maxO.Int64 != a.nextO-1 || a.maxNO.Valid && a.maxNO.Int64 != a.nextO-1 {
		v = append(v, Violation{2, k.w, k.d, fmt.Sprintf("d_next_o_id - 1 = %d, max(o_id) = %s, max(no_o_id) = %s",
			a.nextO-1, nullStr(a.maxO), nullStr(a.maxNO))})
	}
	if a.maxNO.Valid && a.maxNO.Int64-a.minNO.Int64+1 != a.countNO {
		v = append(v, Violation{3, k.w, k.d, fmt.Sprintf("max(no_o_id) - min(no_o_id) + 1 = %d, count(new_order) = %d",
			a.maxNO.Int64-a.minNO.Int64+1, a.countNO)})
	}
	if a.sumOLCnt != a.countOL {
		v = append(v, Violation{4, k.w, k.d, fmt.Sprintf("sum(o_ol_cnt) = %d, count(order_line) = %d", a.sumOLCnt, a.countOL)})
	}
	return v
}

func queryEach(ctx context.Context, tx *sql.Tx, q string, scan func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("tpcc: check: %s: %w", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("tpcc: check: %s: %w", q, err)
		}
	}
	return rows.Err()
}

// parseCents parses a DECIMAL with at most two places exactly, so that
// condition 1 compares money without floating point.
func parseCents(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		if strings.TrimRight(frac[2:], "0") != "" {
			return 0, fmt.Errorf("more than two decimal places in %q", s)
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	var n int64
	for _, c := range whole + frac {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a decimal: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}
