// Package sqlbench measures Meridian's SQL layer through the database/sql
// driver named "meridian", as an application would use it: primary-key
// point SELECTs with a prepared statement, single-row autocommit INSERTs,
// and bulk loading with multi-row INSERTs.
//
// A run:
//
//  1. create the database named in the URL if missing, and the
//     workload's table (select: sb_point, loaded with Rows rows unless it
//     already holds them; insert: sb_insert and bulk: sb_bulk, both
//     dropped and created empty);
//  2. run the workload with loadgen (warm-up, then the measured period)
//     with one *sql.DB per URL, client i on URL i mod len, and print
//     throughput (and rows/s for bulk) and latency percentiles.
//
// Invariants:
//  1. Every statement is autocommit: one statement, one transaction.
//  2. Inserted primary keys are unique across the run (warm-up included),
//     so no statement fails on a duplicate key.
//
// The package is a client: it imports database/sql, the driver and
// loadgen, never a server package.
package sqlbench

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/meridiandb/meridian/bench/loadgen"
	_ "github.com/meridiandb/meridian/driver" // registers "meridian"
)

// Config is one benchmark run.
type Config struct {
	// URLs are driver DSNs (meridian://USER@HOST:PORT/DB), all naming the
	// same database. Default meridian://root@127.0.0.1:7400/bench.
	URLs []string
	// Workload is select, insert or bulk. Default select.
	Workload string
	// Clients is the number of concurrent clients (connections). Default 1.
	Clients int
	// Rows is the select table's size. Default 10,000.
	Rows int
	// Batch is the number of rows per bulk INSERT. Default 100.
	Batch int
	// Warmup is run first and not measured. Default 3s.
	Warmup time.Duration
	// Duration is the measured period. Default 20s.
	Duration time.Duration
}

// RegisterFlags binds the Config's fields to flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.URLs = []string{"meridian://root@127.0.0.1:7400/bench"}
	fs.Func("url", "comma-separated driver `DSN`s, clients spread over them (default meridian://root@127.0.0.1:7400/bench)", func(s string) error {
		c.URLs = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.URLs = append(c.URLs, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.Workload, "workload", "select", "workload: select (point SELECT by primary key), insert (single-row autocommit INSERT), bulk (multi-row INSERT)")
	fs.IntVar(&c.Clients, "clients", 1, "concurrent clients, one statement in flight each")
	fs.IntVar(&c.Rows, "rows", 10000, "select: rows in the table")
	fs.IntVar(&c.Batch, "batch", 100, "bulk: rows per INSERT statement")
	fs.DurationVar(&c.Warmup, "warmup", 3*time.Second, "unmeasured warm-up")
	fs.DurationVar(&c.Duration, "duration", 20*time.Second, "measured period")
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case len(c.URLs) == 0:
		return fmt.Errorf("sqlbench: --url needs a DSN")
	case c.Workload != "select" && c.Workload != "insert" && c.Workload != "bulk":
		return fmt.Errorf("sqlbench: --workload %q: want select, insert or bulk", c.Workload)
	case c.Clients < 1 || c.Rows < 1 || c.Batch < 1:
		return fmt.Errorf("sqlbench: --clients, --rows and --batch must be at least 1")
	case c.Duration <= 0:
		return fmt.Errorf("sqlbench: --duration must be positive")
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("sqlbench: --url %q: %w", u, err)
		}
		if strings.Trim(p.Path, "/") == "" {
			return fmt.Errorf("sqlbench: --url %q names no database", u)
		}
	}
	return nil
}

const createPoint = `CREATE TABLE IF NOT EXISTS sb_point (
  id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, c VARCHAR(120) NOT NULL, pad VARCHAR(60) NOT NULL)`

func createTable(name string) string {
	return strings.Replace(strings.Replace(createPoint, "sb_point", name, 1), "IF NOT EXISTS ", "", 1)
}

// row returns the values of row id as SQL literals, sysbench-sized.
func row(id int64) string {
	return fmt.Sprintf("(%d, %d, '%0119d', '%059d')", id, id%1000, id, id)
}

// Run executes the benchmark.
func Run(ctx context.Context, cfg Config, out io.Writer) (*loadgen.Result, error) {
	dbs := make([]*sql.DB, len(cfg.URLs))
	for i, u := range cfg.URLs {
		db, err := sql.Open("meridian", u)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		per := (cfg.Clients + len(cfg.URLs) - 1) / len(cfg.URLs)
		db.SetMaxOpenConns(per + 1)
		db.SetMaxIdleConns(per + 1)
		dbs[i] = db
	}
	if err := setup(ctx, cfg, out); err != nil {
		return nil, err
	}
	var op loadgen.Op
	unit := ""
	switch cfg.Workload {
	case "select":
		stmts := make([]*sql.Stmt, len(dbs))
		for i, db := range dbs {
			s, err := db.PrepareContext(ctx, "SELECT c FROM sb_point WHERE id = ?")
			if err != nil {
				return nil, fmt.Errorf("sqlbench: prepare: %w", err)
			}
			defer s.Close()
			stmts[i] = s
		}
		op = func(ctx context.Context, client int, seq int64) (int, int, error) {
			id := rand.Int64N(int64(cfg.Rows)) + 1
			var c string
			err := stmts[client%len(stmts)].QueryRowContext(ctx, id).Scan(&c)
			return 1, 0, err
		}
	case "insert":
		stmts := make([]*sql.Stmt, len(dbs))
		for i, db := range dbs {
			s, err := db.PrepareContext(ctx, "INSERT INTO sb_insert (id, k, c, pad) VALUES (?, ?, ?, ?)")
			if err != nil {
				return nil, fmt.Errorf("sqlbench: prepare: %w", err)
			}
			defer s.Close()
			stmts[i] = s
		}
		op = func(ctx context.Context, client int, seq int64) (int, int, error) {
			id := seq + 1
			_, err := stmts[client%len(stmts)].ExecContext(ctx, id, id%1000, fmt.Sprintf("%0119d", id), fmt.Sprintf("%059d", id))
			return 1, 0, err
		}
	case "bulk":
		unit = "rows"
		op = func(ctx context.Context, client int, seq int64) (int, int, error) {
			var b strings.Builder
			b.WriteString("INSERT INTO sb_bulk (id, k, c, pad) VALUES ")
			for j := range cfg.Batch {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(row(seq*int64(cfg.Batch) + int64(j) + 1))
			}
			_, err := dbs[client%len(dbs)].ExecContext(ctx, b.String())
			return cfg.Batch, 0, err
		}
	}
	res := loadgen.Run(ctx, loadgen.Config{Clients: cfg.Clients, Warmup: cfg.Warmup, Duration: cfg.Duration}, op)
	title := fmt.Sprintf("%s, %d clients over %d URLs", cfg.Workload, cfg.Clients, len(cfg.URLs))
	if cfg.Workload == "bulk" {
		title += fmt.Sprintf(", %d rows per INSERT", cfg.Batch)
	}
	res.Print(out, title, unit)
	if res.Ops == 0 && res.Errors > 0 {
		return res, fmt.Errorf("sqlbench: every statement failed, first: %s", res.ErrorSamples[0])
	}
	return res, ctx.Err()
}

// setup creates the database and the workload's table.
func setup(ctx context.Context, cfg Config, out io.Writer) error {
	u, _ := url.Parse(cfg.URLs[0])
	dbName := strings.Trim(u.Path, "/")
	u.Path = "/"
	admin, err := sql.Open("meridian", u.String())
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+dbName); err != nil {
		return fmt.Errorf("sqlbench: CREATE DATABASE: %w", err)
	}
	db, err := sql.Open("meridian", cfg.URLs[0])
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(8)
	exec := func(q string) error {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlbench: %s: %w", strings.SplitN(q, "(", 2)[0], err)
		}
		return nil
	}
	switch cfg.Workload {
	case "insert", "bulk":
		name := "sb_" + cfg.Workload
		if err := exec("DROP TABLE IF EXISTS " + name); err != nil {
			return err
		}
		return exec(createTable(name))
	}
	if err := exec(createPoint); err != nil {
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sb_point").Scan(&n); err != nil {
		return fmt.Errorf("sqlbench: count: %w", err)
	}
	if n == cfg.Rows {
		return nil
	}
	t0 := time.Now()
	if err := exec("DROP TABLE sb_point"); err != nil {
		return err
	}
	if err := exec(createPoint); err != nil {
		return err
	}
	const batch = 200
	errc := make(chan error, 8)
	sem := make(chan struct{}, 8)
	for lo := 1; lo <= cfg.Rows; lo += batch {
		var b strings.Builder
		b.WriteString("INSERT INTO sb_point (id, k, c, pad) VALUES ")
		for id := lo; id < lo+batch && id <= cfg.Rows; id++ {
			if id > lo {
				b.WriteByte(',')
			}
			b.WriteString(row(int64(id)))
		}
		select {
		case err := <-errc:
			return err
		case sem <- struct{}{}:
		}
		go func() {
			defer func() { <-sem }()
			if _, err := db.ExecContext(ctx, b.String()); err != nil {
				errc <- fmt.Errorf("sqlbench: load sb_point: %w", err)
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	select {
	case err := <-errc:
		return err
	default:
	}
	fmt.Fprintf(out, "loaded %d rows into %s.sb_point in %s\n", cfg.Rows, dbName, time.Since(t0).Round(time.Millisecond))
	return nil
}
