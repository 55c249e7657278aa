package tpcc

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// maxRetries bounds the retries of one transaction after 1213/1205
// conflicts; past it the transaction counts as an error.
const maxRetries = 100

// terminal is one emulated terminal: a home warehouse and district, its
// own random source and deck, sharing the pool and statements.
type terminal struct {
	w, d       int
	warehouses int
	scale      scale
	r          *rand.Rand
	c          nurandC
	deck       *deck
	db         *sql.DB
	st         *statements
	timeout    time.Duration // per attempt
}

// Run drives cfg.Terminals terminals over cfg.Warehouses warehouses for
// cfg.Ramp unmeasured and then cfg.Duration measured, reports progress on
// progress, prints the summary on out and writes cfg.JSON if set.
func Run(ctx context.Context, cfg Config, out, progress io.Writer) (*Result, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := openDB(cfg, cfg.Terminals)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := checkLoaded(ctx, db, cfg); err != nil {
		return nil, err
	}
	st, err := prepareAll(ctx, db)
	if err != nil {
		return nil, err
	}
	defer st.close()

	rec := newRecorder()
	start := time.Now()
	rec.from, rec.to = start.Add(cfg.Ramp), start.Add(cfg.Ramp+cfg.Duration)
	stop := make(chan struct{})
	timer := time.AfterFunc(cfg.Ramp+cfg.Duration, func() { close(stop) })
	defer timer.Stop()

	seed := uint64(time.Now().UnixNano())
	c := runC(rand.New(rand.NewPCG(seed, 0)))
	var wg sync.WaitGroup
	for i := range cfg.Terminals {
		t := &terminal{
			w: i%cfg.Warehouses + 1, d: (i/cfg.Warehouses)%districtsPerWarehouse + 1,
			warehouses: cfg.Warehouses, scale: cfg.scale(), c: c, deck: newDeck(),
			r: rand.New(rand.NewPCG(seed, uint64(i)+1)), db: db, st: st, timeout: cfg.StatementTimeout,
		}
		wg.Go(func() { t.loop(ctx, cfg.Wait, stop, rec) })
	}
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		rec.report(progress, start, cfg.ProgressInterval, stop)
	}()
	wg.Wait()
	<-progressDone
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := rec.result(cfg)
	res.Print(out)
	if cfg.JSON != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return res, err
		}
		if err := os.WriteFile(cfg.JSON, append(b, '\n'), 0o644); err != nil {
			return res, fmt.Errorf("tpcc: --json: %w", err)
		}
	}
	if res.Transactions == 0 {
		return res, fmt.Errorf("tpcc: no transaction completed in the measured period")
	}
	return res, nil
}

// checkLoaded fails clearly when init has not loaded enough warehouses.
func checkLoaded(ctx context.Context, db *sql.DB, cfg Config) error {
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM warehouse").Scan(&n); err != nil {
		return fmt.Errorf("tpcc: is the database loaded (meridian bench tpcc init)? %w", err)
	}
	if n < cfg.Warehouses {
		return fmt.Errorf("tpcc: the database has %d warehouses, --warehouses is %d: run init first", n, cfg.Warehouses)
	}
	return nil
}

// loop runs transactions until stop is closed or ctx is done.
func (t *terminal) loop(ctx context.Context, wait bool, stop <-chan struct{}, rec *recorder) {
	sleep := func(d time.Duration) bool {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			return true
		case <-stop:
		case <-ctx.Done():
		}
		return false
	}
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		typ := t.deck.deal(t.r)
		if wait && !sleep(keyingTime[typ]) {
			return
		}
		begin := time.Now()
		retries, rolledBack, err := t.execute(ctx, typ)
		end := time.Now()
		if ctx.Err() != nil {
			return
		}
		rec.record(typ, begin, end, retries, rolledBack, err)
		if wait && !sleep(thinkTime(t.r, typ)) {
			return
		}
	}
}

// execute generates one transaction's input and runs it, retrying the
// same input on retryable conflicts.
func (t *terminal) execute(ctx context.Context, typ txnType) (retries int, rolledBack bool, err error) {
	switch typ {
	case newOrder:
		in := t.genNewOrder()
		return t.attempt(ctx, false, func(tx *sql.Tx) error { return t.st.newOrder(ctx, tx, in) })
	case payment:
		in := t.genPayment()
		return t.attempt(ctx, false, func(tx *sql.Tx) error { return t.st.payment(ctx, tx, in) })
	case orderStatus:
		in := t.genOrderStatus()
		return t.attempt(ctx, true, func(tx *sql.Tx) error { return t.st.orderStatus(ctx, tx, in) })
	case delivery:
		in := t.genDelivery()
		return t.attempt(ctx, false, func(tx *sql.Tx) error { return t.st.delivery(ctx, tx, in) })
	default:
		in := t.genStockLevel()
		return t.attempt(ctx, true, func(tx *sql.Tx) error { return t.st.stockLevel(ctx, tx, in) })
	}
}

// attempt runs fn in an explicit transaction (read-only ones are
// snapshot transactions) and commits, retrying after a retryable error.
func (t *terminal) attempt(ctx context.Context, readOnly bool, fn func(*sql.Tx) error) (retries int, rolledBack bool, err error) {
	for {
		err = t.attemptOnce(ctx, readOnly, fn)
		if errors.Is(err, errRollback) {
			return retries, true, nil
		}
		if err == nil || !retryable(err) || ctx.Err() != nil || retries >= maxRetries {
			return retries, false, err
		}
		retries++
		if retries > 3 {
			// Back off a little when a transaction keeps losing.
			time.Sleep(time.Duration(t.r.IntN(retries*1000)) * time.Microsecond)
		}
	}
}

func (t *terminal) attemptOnce(ctx context.Context, readOnly bool, fn func(*sql.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	tx, err := t.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// recorder collects the outcomes of the measured period, and counters
// over the whole run for the progress line.
type recorder struct {
	from, to time.Time // the measured period
	mu       struct {
		sync.Mutex
		types   [numTxnTypes]typeStats
		samples map[string]int // error text -> count
	}
	newOrders atomic.Int64 // completed New-Orders, ramp included
	txns      atomic.Int64
	retries   atomic.Int64
	errors    atomic.Int64
}

type typeStats struct {
	count, rollbacks, retries, errors int64
	hist                              *hdrhistogram.Histogram // microseconds
}

func newRecorder() *recorder {
	r := &recorder{}
	for i := range r.mu.types {
		r.mu.types[i].hist = hdrhistogram.New(1, int64(10*time.Minute/time.Microsecond), 3)
	}
	r.mu.samples = map[string]int{}
	return r
}

func (r *recorder) record(typ txnType, begin, end time.Time, retries int, rolledBack bool, err error) {
	r.retries.Add(int64(retries))
	if err != nil {
		r.errors.Add(1)
	} else {
		r.txns.Add(1)
		if typ == newOrder {
			r.newOrders.Add(1)
		}
	}
	if end.Before(r.from) || end.After(r.to) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.mu.types[typ]
	s.retries += int64(retries)
	if err != nil {
		s.errors++
		if key := typ.String() + ": " + err.Error(); len(r.mu.samples) < 20 || r.mu.samples[key] > 0 {
			r.mu.samples[key]++
		}
		return
	}
	s.count++
	if rolledBack {
		s.rollbacks++
	}
	_ = s.hist.RecordValue(max(1, end.Sub(begin).Microseconds()))
}

// report prints a progress line every interval until stop is closed.
func (r *recorder) report(w io.Writer, start time.Time, interval time.Duration, stop <-chan struct{}) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	lastNO, lastT := int64(0), start
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			no := r.newOrders.Load()
			phase := "ramp"
			if now.After(r.from) {
				phase = "run "
			}
			rate := float64(no-lastNO) / now.Sub(lastT).Minutes()
			fmt.Fprintf(w, "%6s %s  tpmC %9.1f (last %s)  txns %8d  retries %6d  errors %5d\n",
				now.Sub(start).Round(time.Second), phase, rate, now.Sub(lastT).Round(time.Second),
				r.txns.Load(), r.retries.Load(), r.errors.Load())
			lastNO, lastT = no, now
		}
	}
}
