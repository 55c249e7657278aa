package driver

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultAddr is the node a DSN without a host reaches (meridian start's
// default --listen).
const DefaultAddr = "127.0.0.1:7400"

// Config is a parsed DSN:
//
//	meridian://[USER@]HOST[:PORT]/[DATABASE][?OPTION=VALUE&...]
//
// Options: region, timeout, staleness, textValues (see the fields). The zero Config
// reaches DefaultAddr as root.
type Config struct {
	// Addr is the node's gRPC HOST:PORT. Default DefaultAddr; the port
	// defaults to 7400.
	Addr string
	// User is the SQL user. Default "root".
	User string
	// Database is selected when a connection opens; "" for none.
	Database string
	// Region (?region=) is the client's region: under a simulated WAN
	// (--latency) the node delays this connection's traffic as if it came
	// from there. Default: none, not delayed.
	Region string
	// Timeout (?timeout=, a Go duration) bounds reaching the node and
	// opening a session. Default 10s.
	Timeout time.Duration
	// Staleness (?staleness=, a Go duration) lets read-only reads —
	// autocommit SELECTs and TxOptions{ReadOnly: true} transactions — read
	// a snapshot up to this old (bounded staleness: the freshest one a
	// nearby replica can serve at once), as SET read_staleness does.
	// Default 0: strong reads, at the present.
	Staleness time.Duration
	// TextValues (?textValues=true) returns FLOAT, DOUBLE, DATE, DATETIME
	// and TIMESTAMP values as the text MySQL prints ("1e100",
	// "2024-01-02 03:04:05.120" for a DATETIME(3)) rather than as float64
	// and time.Time: for tools that print values as mysql does, which
	// Go's formatting of those types would not (it drops a DATETIME's
	// trailing zero digits and writes 1e+100). Default false.
	TextValues bool
}

// ensureDefaults fills the fields a zero Config leaves unset.
func (c *Config) ensureDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.User == "" {
		c.User = "root"
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
}

const defaultTimeout = 10 * time.Second

// ParseDSN parses a meridian:// URL; the result has its defaults filled
// in. Unknown options are errors, so that a misspelled one does not
// silently do nothing.
func ParseDSN(dsn string) (Config, error) {
	var cfg Config
	cfg.ensureDefaults()
	u, err := url.Parse(dsn)
	if err != nil {
		return Config{}, fmt.Errorf("driver: invalid DSN (want a meridian:// URL): %w", err)
	}
	if u.Scheme != "meridian" {
		return Config{}, fmt.Errorf("driver: DSN %q: want a meridian:// URL", redact(dsn))
	}
	if u.Opaque != "" {
		return Config{}, fmt.Errorf("driver: DSN %q: want meridian://HOST:PORT/DATABASE", redact(dsn))
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return Config{}, fmt.Errorf("driver: DSN %q has a password, but Meridian's gRPC API does not authenticate yet; leave it out", redact(dsn))
		}
		if name := u.User.Username(); name != "" {
			cfg.User = name
		}
	}
	if u.Host != "" {
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			// No port: the default one.
			host, port = strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]"), "7400"
		}
		if host == "" {
			host = "127.0.0.1"
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return Config{}, fmt.Errorf("driver: DSN %q: invalid port %q", redact(dsn), port)
		}
		cfg.Addr = net.JoinHostPort(host, port)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return Config{}, fmt.Errorf("driver: DSN %q: the path must be one database name", redact(dsn))
	}
	cfg.Database = db
	for key, vals := range u.Query() {
		val := vals[len(vals)-1]
		switch key {
		case "region":
			cfg.Region = val
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return Config{}, fmt.Errorf("driver: DSN option timeout=%q: want a positive duration such as 5s", val)
			}
			cfg.Timeout = d
		case "staleness":
			d, err := time.ParseDuration(val)
			if err != nil || d < 0 {
				return Config{}, fmt.Errorf("driver: DSN option staleness=%q: want a duration such as 10s (0: strong reads)", val)
			}
			cfg.Staleness = d
		case "textValues":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return Config{}, fmt.Errorf("driver: DSN option textValues=%q: want true or false", val)
			}
			cfg.TextValues = b
		default:
			return Config{}, fmt.Errorf("driver: unknown DSN option %q (known: region, timeout, staleness, textValues)", key)
		}
	}
	return cfg, nil
}

// FormatDSN returns the DSN that parses to c.
func (c Config) FormatDSN() string {
	u := url.URL{Scheme: "meridian", Host: c.Addr, Path: "/" + c.Database}
	if u.Host == "" {
		u.Host = DefaultAddr
	}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	q := url.Values{}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	if c.Timeout != 0 && c.Timeout != defaultTimeout {
		q.Set("timeout", c.Timeout.String())
	}
	if c.Staleness != 0 {
		q.Set("staleness", c.Staleness.String())
	}
	if c.TextValues {
		q.Set("textValues", "true")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redact drops a password from a DSN quoted in an error message.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
