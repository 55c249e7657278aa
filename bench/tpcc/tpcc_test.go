package tpcc

// End-to-end: init, run and check at W=1 against an in-process
// three-node cluster (real gRPC on loopback, the meridian driver), then a
// negative control that corrupts a district and expects check to fail.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	_ "github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/server/servertest"
)

// testScale keeps the load to seconds: 1,000 items and 300 customers per
// district instead of 100,000 and 3,000 (the real init loads the
// specification's cardinalities; see doc.go).
var testScale = scale{items: 1000, customers: 300}

func TestInitRunCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	c := servertest.Start(t, servertest.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := Config{
		URL: "meridian://root@" + c.Addr(0) + "/tpcc", Warehouses: 1, Terminals: 4,
		Ramp: time.Second, Duration: 6 * time.Second, ProgressInterval: 2 * time.Second,
		JSON: t.TempDir() + "/tpcc.json", TestingKnobs: TestingKnobs{Items: testScale.items, CustomersPerDistrict: testScale.customers},
	}
	var out, progress bytes.Buffer
	if err := Init(ctx, cfg, &out, &progress); err != nil {
		t.Fatalf("init: %v\n%s", err, progress.String())
	}
	t.Logf("init: %s", out.String())
	if err := Check(ctx, cfg, &out); err != nil {
		t.Fatalf("check after init: %v", err)
	}
	out.Reset()
	res, err := Run(ctx, cfg, &out, &progress)
	t.Logf("run:\n%s\nprogress:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, name := range txnNames {
		if res.Types[name].Count == 0 {
			t.Errorf("no %s completed", name)
		}
	}
	if res.Errors > 0 {
		t.Errorf("%d errors: %v", res.Errors, res.ErrorSamples)
	}
	out.Reset()
	if err := Check(ctx, cfg, &out); err != nil {
		t.Fatalf("check after run: %v\n%s", err, out.String())
	}
	t.Logf("check:\n%s", out.String())

	// Negative control: a district whose next order id skips one breaks
	// condition 2, and check names it.
	db, err := sql.Open("meridian", cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "UPDATE district SET d_next_o_id = d_next_o_id + 1 WHERE d_w_id = 1 AND d_id = 7"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = Check(ctx, cfg, &out)
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("check of a corrupted district: %v, want a *CheckError\n%s", err, out.String())
	}
	if len(ce.Violations) != 1 || ce.Violations[0].Condition != 2 || ce.Violations[0].District != 7 {
		t.Errorf("violations %v, want condition 2 in district 7", ce.Violations)
	}
	if !strings.Contains(out.String(), "condition 2 fails: warehouse 1 district 7") {
		t.Errorf("check output does not name the district:\n%s", out.String())
	}
}
