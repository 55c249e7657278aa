package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridiandb/meridian/bench/geo"
)

// TestBenchLatency runs `meridian bench latency` in this process on the
// demo's regions with a scaled-down matrix (round trips of 10, 14 and
// 20 ms, distinct so that a floor taken from the wrong pair shows), three
// transactions per row, and checks that the table and the JSON have every
// row and that no transaction finished below its floor: the simulated WAN
// must delay every trip the protocol makes. It asserts no speed.
func TestBenchLatency(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jsonFile := filepath.Join(t.TempDir(), "geo.json")
	var stdout, stderr bytes.Buffer
	err := runBenchLatency(ctx, []string{
		"--latency", "us-east/us-west=10ms,us-east/eu-west=14ms,us-west/eu-west=20ms",
		"--warmup", "50ms", "--ops", "3", "--json", jsonFile,
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("bench latency: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var res geo.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, b)
	}
	ops := []string{geo.OpStrongRead, geo.OpBoundedStale, geo.OpExactStale, geo.OpCommit1, geo.OpCommit2PC}
	regions := []string{"us-east", "us-west", "eu-west"}
	rows := map[[2]string]geo.Row{}
	for _, r := range res.Rows {
		rows[[2]string{r.Operation, r.Region}] = r
	}
	if len(res.Rows) != len(ops)*len(regions) {
		t.Errorf("%d rows, want %d", len(res.Rows), len(ops)*len(regions))
	}
	for _, op := range ops {
		for _, region := range regions {
			r, ok := rows[[2]string{op, region}]
			switch {
			case !ok:
				t.Errorf("no row for %s from %s", op, region)
			case r.Ops < 1:
				t.Errorf("%s from %s: no transaction succeeded (%d errors, first: %s)", op, region, r.Errors, r.FirstError)
			case r.MinMillis < r.FloorMillis:
				t.Errorf("%s from %s: fastest %.3f ms, below the floor %.1f ms", op, region, r.MinMillis, r.FloorMillis)
			}
		}
	}
	// The floors the matrix implies where the client is not next to every
	// leader: the table would be meaningless with all floors zero.
	for key, want := range map[[2]string]float64{
		{geo.OpCommit1, "eu-west"}: 38, {geo.OpCommit1, "us-west"}: 30, {geo.OpCommit2PC, "eu-west"}: 74,
		// Leaders close ahead: the replica in eu-west serves strong reads.
		{geo.OpStrongRead, "eu-west"}: 0,
	} {
		if r := rows[key]; r.FloorMillis != want {
			t.Errorf("%s from %s: floor %.1f ms, want %.0f", key[0], key[1], r.FloorMillis, want)
		}
	}
	table := stdout.String()
	for _, want := range []string{"strong read-only txn", "bounded-stale read", "exact-stale read",
		"read-write commit, 1 group", "read-write commit, 2PC", "p50−floor ms", "group B: leader in us-west"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
