package tpcc

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// txnType is one of the five transactions.
type txnType int

const (
	newOrder txnType = iota
	payment
	orderStatus
	delivery
	stockLevel
	numTxnTypes
)

var txnNames = [numTxnTypes]string{"new_order", "payment", "order_status", "delivery", "stock_level"}

func (t txnType) String() string { return txnNames[t] }

// statements are the prepared statements of the five transactions,
// prepared once on the *sql.DB and rebound to each transaction with
// Tx.StmtContext (database/sql prepares each once per connection).
type statements struct {
	// New-Order
	noWarehouse, noDistrict, noDistrictNext, noCustomer, noInsOrder, noInsNewOrder *sql.Stmt
	noItem, noStock, noStockUpdate, noInsLine                                      *sql.Stmt
	// Payment
	payWarehouse, payWarehouseRead, payDistrict, payDistrictRead *sql.Stmt
	payCustByName, payCustomer, payCustData                      *sql.Stmt
	payCustUpdate, payCustUpdateBC, payInsHistory                *sql.Stmt
	// Order-Status
	osCustByName, osCustomer, osLastOrder, osLines *sql.Stmt
	// Delivery
	dlOldest, dlDeleteNO, dlOrder, dlCarrier, dlLines, dlSum, dlCustomer *sql.Stmt
	// Stock-Level
	slNext, slCount *sql.Stmt
}

const custNameQuery = "SELECT c_id FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_last = ? ORDER BY c_first"

var statementText = []struct {
	dst  func(*statements) **sql.Stmt
	text string
}{
	{func(s *statements) **sql.Stmt { return &s.noWarehouse }, "SELECT w_tax FROM warehouse WHERE w_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.noDistrict }, "SELECT d_tax, d_next_o_id FROM district WHERE d_w_id = ? AND d_id = ? FOR UPDATE"},
	{func(s *statements) **sql.Stmt { return &s.noDistrictNext }, "UPDATE district SET d_next_o_id = ? WHERE d_w_id = ? AND d_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.noCustomer }, "SELECT c_discount, c_last, c_credit FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.noInsOrder }, "INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_ol_cnt, o_all_local) VALUES (?, ?, ?, ?, ?, ?, ?)"},
	{func(s *statements) **sql.Stmt { return &s.noInsNewOrder }, "INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES (?, ?, ?)"},
	{func(s *statements) **sql.Stmt { return &s.noItem }, "SELECT i_price, i_name, i_data FROM item WHERE i_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.noStock }, "SELECT s_quantity, s_data, s_dist_01, s_dist_02, s_dist_03, s_dist_04, s_dist_05, s_dist_06, s_dist_07, s_dist_08, s_dist_09, s_dist_10 FROM stock WHERE s_w_id = ? AND s_i_id = ? FOR UPDATE"},
	{func(s *statements) **sql.Stmt { return &s.noStockUpdate }, "UPDATE stock SET s_quantity = ?, s_ytd = s_ytd + ?, s_order_cnt = s_order_cnt + 1, s_remote_cnt = s_remote_cnt + ? WHERE s_w_id = ? AND s_i_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.noInsLine }, "INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_dist_info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},

	{func(s *statements) **sql.Stmt { return &s.payWarehouse }, "UPDATE warehouse SET w_ytd = w_ytd + ? WHERE w_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payWarehouseRead }, "SELECT w_name, w_street_1, w_street_2, w_city, w_state, w_zip FROM warehouse WHERE w_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payDistrict }, "UPDATE district SET d_ytd = d_ytd + ? WHERE d_w_id = ? AND d_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payDistrictRead }, "SELECT d_name, d_street_1, d_street_2, d_city, d_state, d_zip FROM district WHERE d_w_id = ? AND d_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payCustByName }, custNameQuery},
	{func(s *statements) **sql.Stmt { return &s.payCustomer }, "SELECT c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, c_zip, c_phone, c_since, c_credit, c_credit_lim, c_discount, c_balance FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ? FOR UPDATE"},
	{func(s *statements) **sql.Stmt { return &s.payCustData }, "SELECT c_data FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payCustUpdate }, "UPDATE customer SET c_balance = c_balance - ?, c_ytd_payment = c_ytd_payment + ?, c_payment_cnt = c_payment_cnt + 1 WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payCustUpdateBC }, "UPDATE customer SET c_balance = c_balance - ?, c_ytd_payment = c_ytd_payment + ?, c_payment_cnt = c_payment_cnt + 1, c_data = ? WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.payInsHistory }, "INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},

	{func(s *statements) **sql.Stmt { return &s.osCustByName }, custNameQuery},
	{func(s *statements) **sql.Stmt { return &s.osCustomer }, "SELECT c_balance, c_first, c_middle, c_last FROM customer WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.osLastOrder }, "SELECT o_id, o_carrier_id, o_entry_d FROM orders WHERE o_w_id = ? AND o_d_id = ? AND o_c_id = ? ORDER BY o_id DESC LIMIT 1"},
	{func(s *statements) **sql.Stmt { return &s.osLines }, "SELECT ol_i_id, ol_supply_w_id, ol_quantity, ol_amount, ol_delivery_d FROM order_line WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?"},

	{func(s *statements) **sql.Stmt { return &s.dlOldest }, "SELECT no_o_id FROM new_order WHERE no_w_id = ? AND no_d_id = ? ORDER BY no_o_id LIMIT 1 FOR UPDATE"},
	{func(s *statements) **sql.Stmt { return &s.dlDeleteNO }, "DELETE FROM new_order WHERE no_w_id = ? AND no_d_id = ? AND no_o_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.dlOrder }, "SELECT o_c_id FROM orders WHERE o_w_id = ? AND o_d_id = ? AND o_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.dlCarrier }, "UPDATE orders SET o_carrier_id = ? WHERE o_w_id = ? AND o_d_id = ? AND o_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.dlLines }, "UPDATE order_line SET ol_delivery_d = ? WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.dlSum }, "SELECT COALESCE(SUM(ol_amount), 0) FROM order_line WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.dlCustomer }, "UPDATE customer SET c_balance = c_balance + ?, c_delivery_cnt = c_delivery_cnt + 1 WHERE c_w_id = ? AND c_d_id = ? AND c_id = ?"},

	{func(s *statements) **sql.Stmt { return &s.slNext }, "SELECT d_next_o_id FROM district WHERE d_w_id = ? AND d_id = ?"},
	{func(s *statements) **sql.Stmt { return &s.slCount }, "SELECT COUNT(DISTINCT s_i_id) FROM order_line JOIN stock ON s_w_id = ol_w_id AND s_i_id = ol_i_id WHERE ol_w_id = ? AND ol_d_id = ? AND ol_o_id < ? AND ol_o_id >= ? AND s_quantity < ?"},
}

func prepareAll(ctx context.Context, db *sql.DB) (*statements, error) {
	s := &statements{}
	for _, st := range statementText {
		p, err := db.PrepareContext(ctx, st.text)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("tpcc: prepare %q: %w", st.text, err)
		}
		*st.dst(s) = p
	}
	return s, nil
}

func (s *statements) close() {
	for _, st := range statementText {
		if p := *st.dst(s); p != nil {
			_ = p.Close()
		}
	}
}

// now is a DATETIME argument both drivers pass as text.
func now() string { return time.Now().UTC().Format("2006-01-02 15:04:05") }

// --- New-Order (2.4) ---

type orderLine struct {
	number   int // OL_NUMBER, 1-based position in the input
	item     int
	supplyW  int
	quantity int
}

type newOrderInput struct {
	w, d, c int
	lines   []orderLine // sorted by (supply warehouse, item) to lock stock in one order
	allHome bool
}

func (t *terminal) genNewOrder() newOrderInput {
	r, s := t.r, t.scale
	in := newOrderInput{w: t.w, d: randInt(r, 1, districtsPerWarehouse), allHome: true}
	in.c = nurand(r, nurandCustA, t.c.cust, 1, s.customerCount())
	n := randInt(r, 5, 15)
	rollback := randInt(r, 1, 100) == 1
	seen := map[[2]int]bool{}
	for i := 1; i <= n; i++ {
		ol := orderLine{number: i, supplyW: t.w, quantity: randInt(r, 1, 10)}
		for {
			ol.item = nurand(r, nurandItemA, t.c.item, 1, s.itemCount())
			if t.warehouses > 1 && randInt(r, 1, 100) == 1 {
				ol.supplyW = randOther(r, t.w, t.warehouses)
			}
			// An order names each (item, supplier) once, so that one stock
			// row is not updated twice by one order.
			if !seen[[2]int{ol.item, ol.supplyW}] {
				break
			}
		}
		seen[[2]int{ol.item, ol.supplyW}] = true
		if i == n && rollback {
			ol.item = s.itemCount() + 1 // unused: the transaction rolls back (2.4.1.4)
		}
		if ol.supplyW != t.w {
			in.allHome = false
		}
		in.lines = append(in.lines, ol)
	}
	sort.Slice(in.lines, func(i, j int) bool {
		a, b := in.lines[i], in.lines[j]
		return a.supplyW < b.supplyW || a.supplyW == b.supplyW && a.item < b.item
	})
	return in
}

// randOther is a uniformly random warehouse other than w, in [1, n].
func randOther(r *rand.Rand, w, n int) int {
	o := randInt(r, 1, n-1)
	if o >= w {
		o++
	}
	return o
}

// newOrder runs New-Order (2.4.2). The statements come in an order that
// holds the hot rows' locks for the least time, with the same outcome as
// the specification's order: the customer and every item and stock row
// first, then the district's next order id (an exclusive lock every
// New-Order and Payment of the district wants) and the inserts, and last
// the warehouse's tax (a shared lock that every Payment's warehouse
// update conflicts with).
func (s *statements) newOrder(ctx context.Context, tx *sql.Tx, in newOrderInput) error {
	st := func(p *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, p) }
	var cDiscount float64
	var cLast, cCredit string
	if err := st(s.noCustomer).QueryRowContext(ctx, in.w, in.d, in.c).Scan(&cDiscount, &cLast, &cCredit); err != nil {
		return fmt.Errorf("customer %d/%d/%d: %w", in.w, in.d, in.c, err)
	}
	type lineOut struct {
		amount float64
		dist   string
	}
	outs := make([]lineOut, len(in.lines))
	total := 0.0
	for i, ol := range in.lines {
		var price float64
		var iName, iData string
		err := st(s.noItem).QueryRowContext(ctx, ol.item).Scan(&price, &iName, &iData)
		if err == sql.ErrNoRows {
			return errRollback
		}
		if err != nil {
			return err
		}
		var qty int
		var sData string
		dist := make([]string, districtsPerWarehouse)
		dst := []any{&qty, &sData}
		for i := range dist {
			dst = append(dst, &dist[i])
		}
		if err := st(s.noStock).QueryRowContext(ctx, ol.supplyW, ol.item).Scan(dst...); err != nil {
			return fmt.Errorf("stock %d/%d: %w", ol.supplyW, ol.item, err)
		}
		if qty >= ol.quantity+10 {
			qty -= ol.quantity
		} else {
			qty = qty - ol.quantity + 91
		}
		remote := 0
		if ol.supplyW != in.w {
			remote = 1
		}
		if _, err := st(s.noStockUpdate).ExecContext(ctx, qty, ol.quantity, remote, ol.supplyW, ol.item); err != nil {
			return err
		}
		outs[i] = lineOut{amount: float64(ol.quantity) * price, dist: dist[in.d-1]}
		total += outs[i].amount
	}

	var dTax float64
	var nextO int
	if err := st(s.noDistrict).QueryRowContext(ctx, in.w, in.d).Scan(&dTax, &nextO); err != nil {
		return fmt.Errorf("district %d/%d: %w", in.w, in.d, err)
	}
	if _, err := st(s.noDistrictNext).ExecContext(ctx, nextO+1, in.w, in.d); err != nil {
		return err
	}
	allLocal := 0
	if in.allHome {
		allLocal = 1
	}
	if _, err := st(s.noInsOrder).ExecContext(ctx, nextO, in.d, in.w, in.c, now(), len(in.lines), allLocal); err != nil {
		return err
	}
	if _, err := st(s.noInsNewOrder).ExecContext(ctx, nextO, in.d, in.w); err != nil {
		return err
	}
	for i, ol := range in.lines {
		if _, err := st(s.noInsLine).ExecContext(ctx, nextO, in.d, in.w, ol.number, ol.item, ol.supplyW,
			ol.quantity, fmt.Sprintf("%.2f", outs[i].amount), outs[i].dist); err != nil {
			return err
		}
	}
	var wTax float64
	if err := st(s.noWarehouse).QueryRowContext(ctx, in.w).Scan(&wTax); err != nil {
		return fmt.Errorf("warehouse %d: %w", in.w, err)
	}
	_ = total * (1 - cDiscount) * (1 + wTax + dTax) // the order's total, shown to the terminal
	return nil
}

// --- Payment (2.5) ---

type paymentInput struct {
	w, d       int
	cw, cd     int
	c          int    // 0 when by last name
	last       string // C_LAST when by name
	amountCent int64
}

func (t *terminal) genPayment() paymentInput {
	r := t.r
	in := paymentInput{w: t.w, d: randInt(r, 1, districtsPerWarehouse)}
	in.cw, in.cd = in.w, in.d
	if t.warehouses > 1 && randInt(r, 1, 100) > 85 {
		in.cw, in.cd = randOther(r, t.w, t.warehouses), randInt(r, 1, districtsPerWarehouse)
	}
	t.pickCustomer(&in.c, &in.last)
	in.amountCent = int64(randInt(r, 100, 500000))
	return in
}

// pickCustomer chooses a customer by last name (60%) or by id (2.5.1.2).
func (t *terminal) pickCustomer(c *int, last *string) {
	if randInt(t.r, 1, 100) <= 60 {
		*last = lastName(nurand(t.r, nurandLastA, t.c.last, 0, t.scale.lastNameMax()))
		return
	}
	*c = nurand(t.r, nurandCustA, t.c.cust, 1, t.scale.customerCount())
}

// customerByName returns the customer at position ceil(n/2) of those
// named last, sorted by first name (2.5.2.2).
func customerByName(ctx context.Context, q *sql.Stmt, w, d int, last string) (int, error) {
	rows, err := q.QueryContext(ctx, w, d, last)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("no customer %d/%d named %s", w, d, last)
	}
	return ids[(len(ids)+1)/2-1], nil
}

func (s *statements) payment(ctx context.Context, tx *sql.Tx, in paymentInput) error {
	st := func(p *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, p) }
	amount := money(in.amountCent)
	c := in.c
	if c == 0 {
		var err error
		if c, err = customerByName(ctx, st(s.payCustByName), in.cw, in.cd, in.last); err != nil {
			return err
		}
	}
	var cRow [14]any
	var credit string
	dst := make([]any, len(cRow))
	for i := range cRow {
		dst[i] = &cRow[i]
	}
	dst[10] = &credit
	if err := st(s.payCustomer).QueryRowContext(ctx, in.cw, in.cd, c).Scan(dst...); err != nil {
		return fmt.Errorf("customer %d/%d/%d: %w", in.cw, in.cd, c, err)
	}
	if credit == "BC" {
		var data string
		if err := st(s.payCustData).QueryRowContext(ctx, in.cw, in.cd, c).Scan(&data); err != nil {
			return err
		}
		data = fmt.Sprintf("%d %d %d %d %d %s|%s", c, in.cd, in.cw, in.d, in.w, amount, data)
		if len(data) > 500 {
			data = data[:500]
		}
		if _, err := st(s.payCustUpdateBC).ExecContext(ctx, amount, amount, data, in.cw, in.cd, c); err != nil {
			return err
		}
	} else if _, err := st(s.payCustUpdate).ExecContext(ctx, amount, amount, in.cw, in.cd, c); err != nil {
		return err
	}
	var wName, dName string
	var wAddr, dAddr [5]any
	if _, err := st(s.payDistrict).ExecContext(ctx, amount, in.w, in.d); err != nil {
		return err
	}
	if err := st(s.payDistrictRead).QueryRowContext(ctx, in.w, in.d).Scan(&dName, &dAddr[0], &dAddr[1], &dAddr[2], &dAddr[3], &dAddr[4]); err != nil {
		return err
	}
	// The warehouse row is every Payment's hot spot: update it last so
	// its lock is held for the shortest time.
	if _, err := st(s.payWarehouse).ExecContext(ctx, amount, in.w); err != nil {
		return err
	}
	if err := st(s.payWarehouseRead).QueryRowContext(ctx, in.w).Scan(&wName, &wAddr[0], &wAddr[1], &wAddr[2], &wAddr[3], &wAddr[4]); err != nil {
		return err
	}
	hData := wName + "    " + dName
	if len(hData) > 24 {
		hData = hData[:24]
	}
	_, err := st(s.payInsHistory).ExecContext(ctx, c, in.cd, in.cw, in.d, in.w, now(), amount, hData)
	return err
}

// --- Order-Status (2.6) ---

type orderStatusInput struct {
	w, d int
	c    int
	last string
}

func (t *terminal) genOrderStatus() orderStatusInput {
	in := orderStatusInput{w: t.w, d: randInt(t.r, 1, districtsPerWarehouse)}
	t.pickCustomer(&in.c, &in.last)
	return in
}

func (s *statements) orderStatus(ctx context.Context, tx *sql.Tx, in orderStatusInput) error {
	st := func(p *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, p) }
	c := in.c
	if c == 0 {
		var err error
		if c, err = customerByName(ctx, st(s.osCustByName), in.w, in.d, in.last); err != nil {
			return err
		}
	}
	var balance, first, middle, last any
	if err := st(s.osCustomer).QueryRowContext(ctx, in.w, in.d, c).Scan(&balance, &first, &middle, &last); err != nil {
		return fmt.Errorf("customer %d/%d/%d: %w", in.w, in.d, c, err)
	}
	var oID int
	var carrier, entry any
	if err := st(s.osLastOrder).QueryRowContext(ctx, in.w, in.d, c).Scan(&oID, &carrier, &entry); err != nil {
		if err == sql.ErrNoRows {
			return nil // a customer without orders (possible only in shrunken test data)
		}
		return err
	}
	rows, err := st(s.osLines).QueryContext(ctx, in.w, in.d, oID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var item, supply, qty, amount, delivered any
		if err := rows.Scan(&item, &supply, &qty, &amount, &delivered); err != nil {
			return err
		}
	}
	return rows.Err()
}

// --- Delivery (2.7) ---

type deliveryInput struct{ w, carrier int }

func (t *terminal) genDelivery() deliveryInput {
	return deliveryInput{w: t.w, carrier: randInt(t.r, 1, 10)}
}

// delivery delivers the oldest undelivered order of each district, all
// ten in one transaction, run by the terminal itself rather than queued
// (2.7.2 allows deferred execution; the harness does not defer).
func (s *statements) delivery(ctx context.Context, tx *sql.Tx, in deliveryInput) error {
	st := func(p *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, p) }
	when := now()
	for d := 1; d <= districtsPerWarehouse; d++ {
		var o int
		err := st(s.dlOldest).QueryRowContext(ctx, in.w, d).Scan(&o)
		if err == sql.ErrNoRows {
			continue // nothing to deliver in this district (2.7.4.2)
		}
		if err != nil {
			return err
		}
		if _, err := st(s.dlDeleteNO).ExecContext(ctx, in.w, d, o); err != nil {
			return err
		}
		var c int
		if err := st(s.dlOrder).QueryRowContext(ctx, in.w, d, o).Scan(&c); err != nil {
			return fmt.Errorf("order %d/%d/%d: %w", in.w, d, o, err)
		}
		if _, err := st(s.dlCarrier).ExecContext(ctx, in.carrier, in.w, d, o); err != nil {
			return err
		}
		if _, err := st(s.dlLines).ExecContext(ctx, when, in.w, d, o); err != nil {
			return err
		}
		var sum string
		if err := st(s.dlSum).QueryRowContext(ctx, in.w, d, o).Scan(&sum); err != nil {
			return err
		}
		if _, err := st(s.dlCustomer).ExecContext(ctx, sum, in.w, d, c); err != nil {
			return err
		}
	}
	return nil
}

// --- Stock-Level (2.8) ---

type stockLevelInput struct{ w, d, threshold int }

func (t *terminal) genStockLevel() stockLevelInput {
	return stockLevelInput{w: t.w, d: t.d, threshold: randInt(t.r, 10, 20)}
}

// stockLevel counts the distinct items of the district's last 20 orders
// whose stock is below the threshold, with a join rather than the
// specification's nested query (2.8.2.2 allows any equivalent).
func (s *statements) stockLevel(ctx context.Context, tx *sql.Tx, in stockLevelInput) error {
	st := func(p *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, p) }
	var next int
	if err := st(s.slNext).QueryRowContext(ctx, in.w, in.d).Scan(&next); err != nil {
		return err
	}
	var n int
	return st(s.slCount).QueryRowContext(ctx, in.w, in.d, next, next-20, in.threshold).Scan(&n)
}
