package kvbench

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Config is one benchmark run. RegisterFlags sets the defaults listed on
// each field; Validate checks a filled-in Config.
type Config struct {
	// Hosts are gRPC HOST:PORT addresses of any nodes; connection j dials
	// Hosts[j mod len(Hosts)]. Default 127.0.0.1:7400.
	Hosts []string
	// Op is "put" or "get". Default put.
	Op string
	// Clients is the number of concurrent clients (goroutines), each with
	// one request in flight. Default 1.
	Clients int
	// Conns is the number of gRPC connections the clients share. Default 1.
	Conns int
	// Total is the number of requests to send; 0 with Duration set: run
	// for Duration instead. Default 10,000.
	Total int
	// Duration, when positive and Total is 0, bounds the run by time.
	Duration time.Duration
	// KeySize is the key length in bytes. Default 8.
	KeySize int
	// ValSize is the value length in bytes (puts and preloaded keys).
	// Default 256.
	ValSize int
	// KeySpace is the number of distinct keys. Default 100,000.
	KeySpace int
	// SequentialKeys picks key i mod KeySpace for request i instead of a
	// uniformly random key. Default false.
	SequentialKeys bool
	// Groups, when above 1, pre-splits the key space into this many groups
	// before the run. Default 0 (no splits).
	Groups int
	// Preload writes every key of the key space once before a get run.
	// Default true.
	Preload bool
	// LeaseWait bounds the wait for every group to have a lease after the
	// splits. Default 2m.
	LeaseWait time.Duration
}

// RegisterFlags binds the Config's fields to flags named as in etcd's
// benchmark tool where one exists, with the defaults documented on the
// fields.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Hosts = []string{"127.0.0.1:7400"}
	fs.Func("host", "comma-separated gRPC `HOST:PORT` list of nodes (default 127.0.0.1:7400)", func(s string) error {
		c.Hosts = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Hosts = append(c.Hosts, p)
			}
		}
		return nil
	})
	fs.StringVar(&c.Op, "op", "put", "operation: put or get")
	fs.IntVar(&c.Clients, "clients", 1, "concurrent clients, one request in flight each")
	fs.IntVar(&c.Conns, "conns", 1, "gRPC connections shared by the clients")
	fs.IntVar(&c.Total, "total", 10000, "requests to send (0: run for --duration)")
	fs.DurationVar(&c.Duration, "duration", 0, "run this long instead of --total requests (needs --total 0)")
	fs.IntVar(&c.KeySize, "key-size", 8, "key size in bytes")
	fs.IntVar(&c.ValSize, "val-size", 256, "value size in bytes")
	fs.IntVar(&c.KeySpace, "key-space", 100000, "number of distinct keys")
	fs.BoolVar(&c.SequentialKeys, "sequential-keys", false, "request i uses key i mod --key-space (default: uniformly random keys)")
	fs.IntVar(&c.Groups, "groups", 0, "pre-split the key space into this many groups before the run (0 or 1: no splits)")
	fs.BoolVar(&c.Preload, "preload", true, "get: write every key of the key space before the run")
	fs.DurationVar(&c.LeaseWait, "lease-wait", 2*time.Minute, "after splits, wait this long at most for every group to have a lease")
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case len(c.Hosts) == 0:
		return fmt.Errorf("kvbench: --host needs at least one HOST:PORT")
	case c.Op != "put" && c.Op != "get":
		return fmt.Errorf("kvbench: --op %q: want put or get", c.Op)
	case c.Clients < 1:
		return fmt.Errorf("kvbench: --clients %d: want at least 1", c.Clients)
	case c.Conns < 1:
		return fmt.Errorf("kvbench: --conns %d: want at least 1", c.Conns)
	case c.Conns > c.Clients:
		return fmt.Errorf("kvbench: --conns %d exceeds --clients %d: a connection without a client would be idle", c.Conns, c.Clients)
	case c.Total < 0:
		return fmt.Errorf("kvbench: --total %d: want at least 0", c.Total)
	case c.Total == 0 && c.Duration <= 0:
		return fmt.Errorf("kvbench: --total 0 needs a positive --duration")
	case c.Total > 0 && c.Duration > 0:
		return fmt.Errorf("kvbench: give --total or --duration, not both (use --total 0 with --duration)")
	case c.KeySize < 2:
		return fmt.Errorf("kvbench: --key-size %d: want at least 2 (a prefix byte and a digit)", c.KeySize)
	case c.ValSize < 0:
		return fmt.Errorf("kvbench: --val-size %d: want at least 0", c.ValSize)
	case c.KeySpace < 1:
		return fmt.Errorf("kvbench: --key-space %d: want at least 1", c.KeySpace)
	case float64(c.KeySpace) > math.Pow10(min(c.KeySize-1, 18)):
		return fmt.Errorf("kvbench: --key-space %d does not fit in %d-byte keys (at most %.0f)", c.KeySpace, c.KeySize, math.Pow10(c.KeySize-1))
	case c.Groups < 0:
		return fmt.Errorf("kvbench: --groups %d: want at least 0", c.Groups)
	case c.Groups > c.KeySpace:
		return fmt.Errorf("kvbench: --groups %d exceeds --key-space %d", c.Groups, c.KeySpace)
	}
	return nil
}

// appendKey appends key i (0 <= i < KeySpace): 'k' and the zero-padded
// decimal index, KeySize bytes in all.
func (c *Config) appendKey(dst []byte, i int) []byte {
	dst = append(dst, 'k')
	digits := strconv.AppendInt(nil, int64(i), 10)
	for n := len(digits); n < c.KeySize-1; n++ {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}

// splitKeys returns the split points that cut the key space into Groups
// groups of (nearly) equal size, in descending order: key(i*KeySpace/Groups)
// for i = Groups-1 down to 1.
func (c *Config) splitKeys() [][]byte {
	var out [][]byte
	for i := c.Groups - 1; i >= 1; i-- {
		out = append(out, c.appendKey(nil, int(int64(i)*int64(c.KeySpace)/int64(c.Groups))))
	}
	return out
}
