package tpcc

import (
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is one invocation of init, run or check.
type Config struct {
	// URL names the database: meridian://USER@HOST:PORT/DB (Meridian's
	// driver, registered as "meridian") or mysql://USER[:PASS]@HOST[:PORT]/DB
	// (go-sql-driver/mysql, registered as "mysql"). The caller registers
	// the drivers. Default meridian://root@127.0.0.1:7400/tpcc.
	URL string
	// Warehouses is W. Default 1.
	Warehouses int
	// Terminals is the number of concurrent terminals in run. Default 0,
	// meaning 10 per warehouse as the specification has it.
	Terminals int
	// Duration is run's measured period, after Ramp. Default 1m.
	Duration time.Duration
	// Ramp is run's unmeasured warm-up. Default 10s.
	Ramp time.Duration
	// Wait paces terminals with the specification's keying and think
	// times (5.2.5). Default false: each terminal submits its next
	// transaction as soon as the last one finished.
	Wait bool
	// JSON, when set, is the file run writes its results to.
	JSON string
	// Loaders is the number of concurrent loading connections in init.
	// Default 4.
	Loaders int
	// StatementTimeout bounds one transaction of run (all its
	// statements and the commit), one INSERT of init and the whole of
	// check, so that a stuck server shows up as a counted error or a
	// failure instead of a silent hang. Default 1m.
	StatementTimeout time.Duration
	// ProgressInterval is how often run and init report progress on
	// stderr. Default 5s for run, 1s for init's bar.
	ProgressInterval time.Duration

	// TestingKnobs shrink the data set for tests, of this package and of
	// programs built on it (meridian demo --with tpcc). Not settable from
	// flags; never set for a measurement.
	TestingKnobs TestingKnobs
}

// TestingKnobs are Config's test-only settings. init, run and check of one
// database must use the same ones.
type TestingKnobs struct {
	// Items replaces the specification's 100,000 items (and stock rows
	// per warehouse) when positive.
	Items int
	// CustomersPerDistrict replaces the specification's 3,000 customers
	// (and initial orders) per district when positive.
	CustomersPerDistrict int
}

// scale holds the cardinalities that tests may shrink (Config.scale
// derives it from the TestingKnobs). init and run of one database must use
// the same scale.
type scale struct {
	items     int // rows in item and per warehouse in stock; 0 = 100,000
	customers int // customers (and initial orders) per district; 0 = 3,000
}

// scale is the data set's cardinalities: the specification's, less what
// the TestingKnobs shrink.
func (c *Config) scale() scale {
	k := c.TestingKnobs
	if k.Items > 0 || k.CustomersPerDistrict > 0 {
		return scale{items: k.Items, customers: k.CustomersPerDistrict}
	}
	return scale{}
}

func (s scale) itemCount() int {
	if s.items == 0 {
		return 100000
	}
	return s.items
}

func (s scale) customerCount() int {
	if s.customers == 0 {
		return 3000
	}
	return s.customers
}

// lastNameMax is the largest last-name number that exists: with fewer
// than 1,000 customers per district (tests only) some names do not.
func (s scale) lastNameMax() int {
	return min(maxLastIndex, s.customerCount()-1)
}

// deliveredOrders is how many of each district's initial orders are
// already delivered: 2,100 of 3,000 (4.3.3.1), i.e. all but the last 900.
func (s scale) deliveredOrders() int {
	return s.customerCount() * 7 / 10
}

const districtsPerWarehouse = 10

// RegisterFlags binds the Config's fields to flags and sets the defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "url", "meridian://root@127.0.0.1:7400/tpcc", "database `URL`: meridian://USER@HOST:PORT/DB or mysql://USER[:PASS]@HOST:PORT/DB")
	fs.IntVar(&c.Warehouses, "warehouses", 1, "number of warehouses (W)")
	fs.IntVar(&c.Terminals, "terminals", 0, "run: concurrent terminals (default 10 per warehouse)")
	fs.DurationVar(&c.Duration, "duration", time.Minute, "run: measured period, after --ramp")
	fs.DurationVar(&c.Ramp, "ramp", 10*time.Second, "run: unmeasured warm-up before --duration")
	fs.BoolVar(&c.Wait, "wait", false, "run: keying and think times per the specification (otherwise none)")
	fs.StringVar(&c.JSON, "json", "", "run: also write the results to this `FILE` as JSON")
	fs.IntVar(&c.Loaders, "loaders", 4, "init: concurrent loading connections")
	fs.DurationVar(&c.StatementTimeout, "timeout", time.Minute, "longest wait for one transaction (run), INSERT (init) or the whole check")
	fs.DurationVar(&c.ProgressInterval, "progress", 5*time.Second, "run: progress report interval on stderr")
}

// EnsureDefaults fills unset fields.
func (c *Config) EnsureDefaults() {
	if c.URL == "" {
		c.URL = "meridian://root@127.0.0.1:7400/tpcc"
	}
	if c.Warehouses == 0 {
		c.Warehouses = 1
	}
	if c.Terminals == 0 {
		c.Terminals = 10 * c.Warehouses
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Loaders == 0 {
		c.Loaders = 4
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = time.Minute
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 5 * time.Second
	}
}

// Validate reports the first problem with c (after EnsureDefaults).
func (c *Config) Validate() error {
	switch {
	case c.Warehouses < 1:
		return fmt.Errorf("tpcc: --warehouses must be at least 1")
	case c.Terminals < 1:
		return fmt.Errorf("tpcc: --terminals must be at least 1")
	case c.Duration <= 0:
		return fmt.Errorf("tpcc: --duration must be positive")
	case c.Ramp < 0:
		return fmt.Errorf("tpcc: --ramp must not be negative")
	case c.Loaders < 1:
		return fmt.Errorf("tpcc: --loaders must be at least 1")
	}
	_, _, err := driverDSN(c.URL)
	return err
}

// driverDSN turns a --url into a database/sql driver name and DSN.
// meridian:// URLs are the meridian driver's own DSNs; mysql:// URLs
// become go-sql-driver DSNs (USER:PASS@tcp(HOST:PORT)/DB?PARAMS), port
// 3306 by default.
func driverDSN(raw string) (driverName, dsn string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("tpcc: --url %q: %w", raw, err)
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		return "", "", fmt.Errorf("tpcc: --url %q names no database", raw)
	}
	switch u.Scheme {
	case "meridian":
		return "meridian", raw, nil
	case "mysql":
		return "mysql", mysqlDSN(u, db), nil
	default:
		return "", "", fmt.Errorf("tpcc: --url %q: scheme must be meridian or mysql", raw)
	}
}

// serverDSN is driverDSN's DSN without the database, to create it.
func serverDSN(raw string) (driverName, dsn string, err error) {
	driverName, _, err = driverDSN(raw)
	if err != nil {
		return "", "", err
	}
	u, _ := url.Parse(raw)
	if driverName == "mysql" {
		return driverName, mysqlDSN(u, ""), nil
	}
	u.Path = "/"
	return driverName, u.String(), nil
}

func mysqlDSN(u *url.URL, db string) string {
	host := u.Host
	if host == "" {
		host = "127.0.0.1"
	}
	if u.Port() == "" {
		host += ":3306"
	}
	var user string
	if u.User != nil {
		user = u.User.Username()
		if p, ok := u.User.Password(); ok {
			user += ":" + p
		}
		user += "@"
	}
	dsn := fmt.Sprintf("%stcp(%s)/%s", user, host, db)
	if u.RawQuery != "" {
		dsn += "?" + u.RawQuery
	}
	return dsn
}

// databaseName is the database a --url names.
func databaseName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.Trim(u.Path, "/")
}
