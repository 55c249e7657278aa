package kvbench

import (
	"flag"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("bench kv", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c Config
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestParseDefaults(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Hosts: []string{"127.0.0.1:7400"}, Op: "put", Clients: 1, Conns: 1, Total: 10000,
		KeySize: 8, ValSize: 256, KeySpace: 100000, Preload: true, LeaseWait: 2 * time.Minute}
	if !slices.Equal(c.Hosts, want.Hosts) {
		t.Errorf("hosts %v, want %v", c.Hosts, want.Hosts)
	}
	c.Hosts, want.Hosts = nil, nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", c, want)
	}
}

func TestParseFull(t *testing.T) {
	c, err := parse(t, "--host", "127.0.0.1:7400, 127.0.0.1:7410,,127.0.0.1:7420", "--op", "get",
		"--clients", "1000", "--conns", "100", "--total", "100000", "--key-size", "8", "--val-size", "256",
		"--groups", "1000", "--sequential-keys", "--key-space", "5000", "--preload=false")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"127.0.0.1:7400", "127.0.0.1:7410", "127.0.0.1:7420"}; !slices.Equal(c.Hosts, want) {
		t.Errorf("hosts %q, want %q", c.Hosts, want)
	}
	if c.Op != "get" || c.Clients != 1000 || c.Conns != 100 || c.Total != 100000 || c.Groups != 1000 ||
		!c.SequentialKeys || c.KeySpace != 5000 || c.Preload {
		t.Errorf("parsed %+v", c)
	}
	c, err = parse(t, "--total", "0", "--duration", "30s")
	if err != nil || c.Duration != 30*time.Second || c.Total != 0 {
		t.Errorf("duration run: %+v, %v", c, err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--op", "scan"}, `--op "scan"`},
		{[]string{"--clients", "0"}, "--clients 0"},
		{[]string{"--conns", "0"}, "--conns 0"},
		{[]string{"--clients", "10", "--conns", "20"}, "exceeds --clients"},
		{[]string{"--total", "0"}, "positive --duration"},
		{[]string{"--duration", "10s"}, "not both"},
		{[]string{"--total", "-1"}, "--total -1"},
		{[]string{"--key-size", "1"}, "--key-size 1"},
		{[]string{"--key-size", "4", "--key-space", "1001"}, "does not fit"},
		{[]string{"--val-size", "-1"}, "--val-size -1"},
		{[]string{"--key-space", "0"}, "--key-space 0"},
		{[]string{"--groups", "-2"}, "--groups -2"},
		{[]string{"--key-space", "10", "--groups", "11"}, "exceeds --key-space"},
		{[]string{"--host", " , "}, "at least one HOST:PORT"},
		{[]string{"--clients", "x"}, "invalid value"},
	} {
		_, err := parse(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestKeys(t *testing.T) {
	c := Config{KeySize: 8, KeySpace: 100000, Groups: 4}
	if got := string(c.appendKey(nil, 42)); got != "k0000042" {
		t.Errorf("key 42 = %q", got)
	}
	if got := string(c.appendKey(nil, 9999999)); got != "k9999999" {
		t.Errorf("key 9999999 = %q", got)
	}
	var got []string
	for _, k := range c.splitKeys() {
		got = append(got, string(k))
	}
	if want := []string{"k0075000", "k0050000", "k0025000"}; !slices.Equal(got, want) {
		t.Errorf("split keys %q, want %q", got, want)
	}
	c.Groups = 1000
	ks := c.splitKeys()
	if len(ks) != 999 || string(ks[0]) != "k0099900" || string(ks[998]) != "k0000100" {
		t.Errorf("1000 groups: %d split keys, first %q last %q", len(ks), ks[0], ks[len(ks)-1])
	}
	for i := 1; i < len(ks); i++ {
		if string(ks[i]) >= string(ks[i-1]) {
			t.Fatalf("split keys not strictly descending at %d: %q, %q", i, ks[i-1], ks[i])
		}
	}
	c.Groups = 1
	if len(c.splitKeys()) != 0 {
		t.Error("one group needs no split")
	}
}
