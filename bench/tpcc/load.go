package tpcc

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadBatchRows is the number of rows per multi-row INSERT.
const loadBatchRows = 100

// loadTimestamp is the DATETIME literal for C_SINCE, H_DATE and
// O_ENTRY_D of the initial population.
func loadTimestamp() string { return time.Now().UTC().Format("2006-01-02 15:04:05") }

// Init drops and creates the database's nine tables and loads
// cfg.Warehouses warehouses with cfg.Loaders concurrent connections,
// drawing a progress bar on progress.
func Init(ctx context.Context, cfg Config, out, progress io.Writer) error {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := createSchema(ctx, cfg); err != nil {
		return err
	}
	db, err := openDB(cfg, cfg.Loaders)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	rows, err := load(ctx, db, cfg, progress)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(out, "loaded %d warehouses: %d rows in %s (%.0f rows/s)\n",
		cfg.Warehouses, rows, el.Round(time.Millisecond), float64(rows)/el.Seconds())
	return nil
}

// openDB opens cfg.URL with a pool of conns connections.
func openDB(cfg Config, conns int) (*sql.DB, error) {
	driverName, dsn, err := driverDSN(cfg.URL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("tpcc: open %s: %w", cfg.URL, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, nil
}

// createSchema creates the database if missing and (re)creates the tables.
func createSchema(ctx context.Context, cfg Config) error {
	driverName, dsn, err := serverDSN(cfg.URL)
	if err != nil {
		return err
	}
	admin, err := sql.Open(driverName, dsn)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+databaseName(cfg.URL)); err != nil {
		return fmt.Errorf("tpcc: create database: %w", err)
	}
	db, err := openDB(cfg, 1)
	if err != nil {
		return err
	}
	defer db.Close()
	for i := len(tables) - 1; i >= 0; i-- {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+tables[i].name); err != nil {
			return fmt.Errorf("tpcc: drop %s: %w", tables[i].name, err)
		}
	}
	for _, t := range tables {
		if _, err := db.ExecContext(ctx, t.ddl); err != nil {
			return fmt.Errorf("tpcc: create %s: %w", t.name, err)
		}
	}
	return nil
}

// loadUnit is one piece of the initial population that one loader
// connection inserts.
type loadUnit struct {
	name string
	run  func(ctx context.Context, b *batcher, r *rand.Rand) error
}

// load inserts the initial population (4.3.3.1) and returns the row count.
func load(ctx context.Context, db *sql.DB, cfg Config, progress io.Writer) (int64, error) {
	units := loadUnits(cfg)
	var done atomic.Int64
	total := expectedRows(cfg)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	barDone := make(chan struct{})
	go func() {
		defer close(barDone)
		drawBar(ctx, progress, &done, total)
	}()

	work := make(chan int)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range cfg.Loaders {
		wg.Go(func() {
			for i := range work {
				u := units[i]
				b := &batcher{db: db, rows: &done, timeout: cfg.StatementTimeout}
				r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
				err := u.run(ctx, b, r)
				if err == nil {
					err = b.flush(ctx)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("tpcc: load %s: %w", u.name, err); cancel() })
					return
				}
			}
		})
	}
	for i := range units {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	cancel()
	<-barDone
	if firstErr != nil {
		return done.Load(), firstErr
	}
	fmt.Fprintf(progress, "\r%s\n", bar(done.Load(), done.Load()))
	return done.Load(), nil
}

// expectedRows estimates the population's size for the progress bar
// (order lines average 10 per order).
func expectedRows(cfg Config) int64 {
	s := cfg.scale()
	items, cust := int64(s.itemCount()), int64(s.customerCount())
	perDistrict := cust*3 + cust*10 + cust - int64(s.deliveredOrders())
	perWarehouse := 1 + items + districtsPerWarehouse*(1+perDistrict)
	return items + int64(cfg.Warehouses)*perWarehouse
}

func drawBar(ctx context.Context, w io.Writer, done *atomic.Int64, total int64) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintf(w, "\r%s", bar(done.Load(), total))
		}
	}
}

// bar renders "[#####.....]  50%  123456/246912 rows".
func bar(done, total int64) string {
	const width = 40
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	n := int(frac * width)
	return fmt.Sprintf("loading [%s%s] %3.0f%% %d/%d rows", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, done, total)
}

// loadUnits splits the population into units: items in chunks, then per
// warehouse its row and districts, stock in chunks, and per district its
// customers (with history) and its orders (with order lines and new orders).
func loadUnits(cfg Config) []loadUnit {
	const chunk = 10000
	s := cfg.scale()
	items := s.itemCount()
	var units []loadUnit
	for lo := 1; lo <= items; lo += chunk {
		hi := min(items, lo+chunk-1)
		units = append(units, loadUnit{fmt.Sprintf("item %d-%d", lo, hi), func(ctx context.Context, b *batcher, r *rand.Rand) error {
			return loadItems(ctx, b, r, lo, hi, items)
		}})
	}
	for w := 1; w <= cfg.Warehouses; w++ {
		units = append(units, loadUnit{fmt.Sprintf("warehouse %d", w), func(ctx context.Context, b *batcher, r *rand.Rand) error {
			return loadWarehouse(ctx, b, r, w, s)
		}})
		for lo := 1; lo <= items; lo += chunk {
			hi := min(items, lo+chunk-1)
			units = append(units, loadUnit{fmt.Sprintf("stock w%d %d-%d", w, lo, hi), func(ctx context.Context, b *batcher, r *rand.Rand) error {
				return loadStock(ctx, b, r, w, lo, hi)
			}})
		}
		for d := 1; d <= districtsPerWarehouse; d++ {
			units = append(units, loadUnit{fmt.Sprintf("customer w%d d%d", w, d), func(ctx context.Context, b *batcher, r *rand.Rand) error {
				return loadCustomers(ctx, b, r, w, d, s)
			}}, loadUnit{fmt.Sprintf("orders w%d d%d", w, d), func(ctx context.Context, b *batcher, r *rand.Rand) error {
				return loadOrders(ctx, b, r, w, d, s)
			}})
		}
	}
	return units
}

// batcher accumulates rows of one table into multi-row INSERTs of
// loadBatchRows rows, each its own (autocommit) transaction.
type batcher struct {
	db      *sql.DB
	timeout time.Duration // per INSERT
	rows    *atomic.Int64 // rows inserted, for the progress bar
	prefix  string        // "INSERT INTO t (...) VALUES "
	vals    []string
}

// add queues one row (a parenthesised list of literals) for the INSERT
// prefix, flushing first when the table changes or the batch is full.
func (b *batcher) add(ctx context.Context, prefix, row string) error {
	if prefix != b.prefix || len(b.vals) >= loadBatchRows {
		if err := b.flush(ctx); err != nil {
			return err
		}
		b.prefix = prefix
	}
	b.vals = append(b.vals, row)
	return nil
}

func (b *batcher) flush(ctx context.Context) error {
	if len(b.vals) == 0 {
		return nil
	}
	stmt := b.prefix + strings.Join(b.vals, ",")
	for attempt := 0; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, b.timeout)
		_, err := b.db.ExecContext(sctx, stmt)
		cancel()
		if err == nil {
			break
		}
		if !retryable(err) || attempt >= 20 {
			return err
		}
	}
	b.rows.Add(int64(len(b.vals)))
	b.vals = b.vals[:0]
	return nil
}

const (
	insItem      = "INSERT INTO item (i_id, i_im_id, i_name, i_price, i_data) VALUES "
	insWarehouse = "INSERT INTO warehouse (w_id, w_name, w_street_1, w_street_2, w_city, w_state, w_zip, w_tax, w_ytd) VALUES "
	insDistrict  = "INSERT INTO district (d_id, d_w_id, d_name, d_street_1, d_street_2, d_city, d_state, d_zip, d_tax, d_ytd, d_next_o_id) VALUES "
	insStock     = "INSERT INTO stock (s_i_id, s_w_id, s_quantity, s_dist_01, s_dist_02, s_dist_03, s_dist_04, s_dist_05, s_dist_06, s_dist_07, s_dist_08, s_dist_09, s_dist_10, s_ytd, s_order_cnt, s_remote_cnt, s_data) VALUES "
	insCustomer  = "INSERT INTO customer (c_id, c_d_id, c_w_id, c_first, c_middle, c_last, c_street_1, c_street_2, c_city, c_state, c_zip, c_phone, c_since, c_credit, c_credit_lim, c_discount, c_balance, c_ytd_payment, c_payment_cnt, c_delivery_cnt, c_data) VALUES "
	insHistory   = "INSERT INTO history (h_c_id, h_c_d_id, h_c_w_id, h_d_id, h_w_id, h_date, h_amount, h_data) VALUES "
	insOrders    = "INSERT INTO orders (o_id, o_d_id, o_w_id, o_c_id, o_entry_d, o_carrier_id, o_ol_cnt, o_all_local) VALUES "
	insOrderLine = "INSERT INTO order_line (ol_o_id, ol_d_id, ol_w_id, ol_number, ol_i_id, ol_supply_w_id, ol_delivery_d, ol_quantity, ol_amount, ol_dist_info) VALUES "
	insNewOrder  = "INSERT INTO new_order (no_o_id, no_d_id, no_w_id) VALUES "
)

func loadItems(ctx context.Context, b *batcher, r *rand.Rand, lo, hi, items int) error {
	for i := lo; i <= hi; i++ {
		row := fmt.Sprintf("(%d,%d,'%s',%s,'%s')", i, randInt(r, 1, 10000), aString(r, 14, 24),
			money(int64(randInt(r, 100, 10000))), dataString(r))
		if err := b.add(ctx, insItem, row); err != nil {
			return err
		}
	}
	return nil
}

// address is street_1, street_2, city, state, zip as SQL literals.
func address(r *rand.Rand) string {
	return fmt.Sprintf("'%s','%s','%s','%s','%s'", aString(r, 10, 20), aString(r, 10, 20), aString(r, 10, 20), aString(r, 2, 2), zip(r))
}

func loadWarehouse(ctx context.Context, b *batcher, r *rand.Rand, w int, s scale) error {
	row := fmt.Sprintf("(%d,'%s',%s,%s,%s)", w, aString(r, 6, 10), address(r), fraction(randInt(r, 0, 2000)), money(30000000))
	if err := b.add(ctx, insWarehouse, row); err != nil {
		return err
	}
	for d := 1; d <= districtsPerWarehouse; d++ {
		row := fmt.Sprintf("(%d,%d,'%s',%s,%s,%s,%d)", d, w, aString(r, 6, 10), address(r),
			fraction(randInt(r, 0, 2000)), money(3000000), s.customerCount()+1)
		if err := b.add(ctx, insDistrict, row); err != nil {
			return err
		}
	}
	return nil
}

func loadStock(ctx context.Context, b *batcher, r *rand.Rand, w, lo, hi int) error {
	for i := lo; i <= hi; i++ {
		var sb strings.Builder
		fmt.Fprintf(&sb, "(%d,%d,%d", i, w, randInt(r, 10, 100))
		for range districtsPerWarehouse {
			fmt.Fprintf(&sb, ",'%s'", aString(r, 24, 24))
		}
		fmt.Fprintf(&sb, ",0,0,0,'%s')", dataString(r))
		if err := b.add(ctx, insStock, sb.String()); err != nil {
			return err
		}
	}
	return nil
}

func loadCustomers(ctx context.Context, b *batcher, r *rand.Rand, w, d int, s scale) error {
	now := loadTimestamp()
	n := s.customerCount()
	for c := 1; c <= n; c++ {
		last := c - 1
		if c > 1000 {
			last = nurand(r, nurandLastA, cLoad.last, 0, maxLastIndex)
		}
		credit := "GC"
		if r.IntN(10) == 0 {
			credit = "BC"
		}
		row := fmt.Sprintf("(%d,%d,%d,'%s','OE','%s',%s,'%s','%s','%s',%s,%s,%s,%s,1,0,'%s')",
			c, d, w, aString(r, 8, 16), lastName(last), address(r), nString(r, 16, 16), now, credit,
			money(5000000), fraction(randInt(r, 0, 5000)), money(-1000), money(1000), aString(r, 300, 500))
		if err := b.add(ctx, insCustomer, row); err != nil {
			return err
		}
	}
	for c := 1; c <= n; c++ {
		row := fmt.Sprintf("(%d,%d,%d,%d,%d,'%s',%s,'%s')", c, d, w, d, w, now, money(1000), aString(r, 12, 24))
		if err := b.add(ctx, insHistory, row); err != nil {
			return err
		}
	}
	return nil
}

func loadOrders(ctx context.Context, b *batcher, r *rand.Rand, w, d int, s scale) error {
	now := loadTimestamp()
	n, delivered := s.customerCount(), s.deliveredOrders()
	perm := r.Perm(n)
	olCnt := make([]int, n+1)
	for o := 1; o <= n; o++ {
		olCnt[o] = randInt(r, 5, 15)
		carrier := "NULL"
		if o <= delivered {
			carrier = fmt.Sprint(randInt(r, 1, 10))
		}
		row := fmt.Sprintf("(%d,%d,%d,%d,'%s',%s,%d,1)", o, d, w, perm[o-1]+1, now, carrier, olCnt[o])
		if err := b.add(ctx, insOrders, row); err != nil {
			return err
		}
	}
	items := s.itemCount()
	for o := 1; o <= n; o++ {
		for l := 1; l <= olCnt[o]; l++ {
			deliveryD, amount := "'"+now+"'", "0.00"
			if o > delivered {
				deliveryD, amount = "NULL", money(int64(randInt(r, 1, 999999)))
			}
			row := fmt.Sprintf("(%d,%d,%d,%d,%d,%d,%s,5,%s,'%s')", o, d, w, l, randInt(r, 1, items), w, deliveryD, amount, aString(r, 24, 24))
			if err := b.add(ctx, insOrderLine, row); err != nil {
				return err
			}
		}
	}
	for o := delivered + 1; o <= n; o++ {
		if err := b.add(ctx, insNewOrder, fmt.Sprintf("(%d,%d,%d)", o, d, w)); err != nil {
			return err
		}
	}
	return nil
}
