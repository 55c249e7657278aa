package driver

import (
	"strings"
	"testing"
	"time"
)

func TestParseDSN(t *testing.T) {
	defaults := Config{Addr: DefaultAddr, User: "root", Timeout: defaultTimeout}
	with := func(f func(c *Config)) Config {
		c := defaults
		f(&c)
		return c
	}
	for _, tc := range []struct {
		dsn  string
		want Config
	}{
		{"meridian://", defaults},
		{"meridian:///", defaults},
		{"meridian://root@127.0.0.1:7400/", defaults},
		{"meridian://root@127.0.0.1:7400/db?region=us-east", with(func(c *Config) { c.Database, c.Region = "db", "us-east" })},
		{"meridian://alice@db.example.com/shop", with(func(c *Config) { c.User, c.Addr, c.Database = "alice", "db.example.com:7400", "shop" })},
		{"meridian://[::1]:7500/", with(func(c *Config) { c.Addr = "[::1]:7500" })},
		{"meridian://[::1]/", with(func(c *Config) { c.Addr = "[::1]:7400" })},
		{"meridian://:7410/", with(func(c *Config) { c.Addr = "127.0.0.1:7410" })},
		{"meridian://h:1/?timeout=250ms", with(func(c *Config) { c.Addr, c.Timeout = "h:1", 250*time.Millisecond })},
		{"meridian://h:1/?staleness=10s", with(func(c *Config) { c.Addr, c.Staleness = "h:1", 10*time.Second })},
		{"meridian://h:1/?staleness=0", with(func(c *Config) { c.Addr = "h:1" })},
		{"meridian://h:1/?textValues=true", with(func(c *Config) { c.Addr, c.TextValues = "h:1", true })},
		{"meridian://h:1/?textValues=false", with(func(c *Config) { c.Addr = "h:1" })},
		{"meridian://h:1/my%20db", with(func(c *Config) { c.Addr, c.Database = "h:1", "my db" })},
	} {
		got, err := ParseDSN(tc.dsn)
		if err != nil {
			t.Errorf("ParseDSN(%q): %v", tc.dsn, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseDSN(%q) = %+v, want %+v", tc.dsn, got, tc.want)
		}
		// FormatDSN round-trips.
		again, err := ParseDSN(got.FormatDSN())
		if err != nil || again != got {
			t.Errorf("ParseDSN(FormatDSN(%+v)) = %+v, %v (DSN %q)", got, again, err, got.FormatDSN())
		}
	}
}

func TestParseDSNErrors(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"mysql://root@h:3306/db", "want a meridian:// URL"},
		{"127.0.0.1:7400", "want a meridian:// URL"},
		{"meridian:foo", "want meridian://HOST:PORT/DATABASE"},
		{"meridian://root:secret@h:1/db", "has a password"},
		{"meridian://h:port/db", "invalid"},
		{"meridian://h:99999/db", "invalid port"},
		{"meridian://h:1/a/b", "one database name"},
		{"meridian://h:1/db?regoin=us", `unknown DSN option "regoin"`},
		{"meridian://h:1/db?timeout=soon", "timeout"},
		{"meridian://h:1/db?timeout=-1s", "positive duration"},
		{"meridian://h:1/db?textValues=maybe", "textValues"},
		{"meridian://h:1/db?staleness=-5s", "staleness"},
		{"meridian://h:1/db?staleness=10", "staleness"},
	} {
		_, err := ParseDSN(tc.dsn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDSN(%q) = %v, want an error containing %q", tc.dsn, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseDSN(%q) leaks the password: %v", tc.dsn, err)
		}
	}
}

func TestConfigZeroValue(t *testing.T) {
	var c Config
	c.ensureDefaults()
	if c.Addr != DefaultAddr || c.User != "root" || c.Timeout != defaultTimeout || c.TextValues {
		t.Fatalf("defaults: %+v", c)
	}
}
