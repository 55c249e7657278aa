package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "512MiB": 512 << 20, "1GiB": 1 << 30, " 64 KiB": 64 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1GB", "lots", "99999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

// TestStartRefusesBadSizes: size and duration flags are checked before
// anything starts.
func TestStartRefusesBadSizes(t *testing.T) {
	for _, args := range [][]string{{"--split-size", "100KiB"}, {"--split-size", "lots"}, {"--cache", "0"},
		{"--close-ahead", "-1ms"}, {"--close-ahead", "1h"}} {
		err := runStart(context.Background(), args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("start %v: %v; want an error naming %s", args, err, args[0])
		}
	}
}
