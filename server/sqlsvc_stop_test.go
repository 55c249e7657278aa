package server_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	mdriver "github.com/meridiandb/meridian/driver"
	"github.com/meridiandb/meridian/server"
	"github.com/meridiandb/meridian/server/servertest"
)

// A node that has not joined a cluster has no engine: a session says so.
func TestSQLSessionBeforeJoin(t *testing.T) {
	n, err := server.Start(server.Config{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0", HTTPAddr: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	db, err := sql.Open("meridian", "meridian://root@"+n.Addr()+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var e *mdriver.Error
	if err := db.Ping(); !errors.As(err, &e) || e.Code != 1105 || !strings.Contains(e.Message, "not joined") {
		t.Fatalf("Ping before join: %v", err)
	}
}

// Stop ends SQL sessions while the transaction layer still runs: it does
// not wait for clients to leave, and their open transactions roll back.
func TestSQLStopEndsSessions(t *testing.T) {
	c := servertest.Start(t, servertest.Options{Nodes: 1})
	dsn := "meridian://root@" + c.Addr(0) + "/"
	db, err := sql.Open("meridian", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE DATABASE s", "CREATE TABLE s.t (id INT PRIMARY KEY)", "INSERT INTO s.t VALUES (1)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO s.t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { c.StopNode(0); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop waits for a client's open session")
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("commit on a stopped node succeeded")
	}
	c.StartNode(0)
	var n int
	db2, err := sql.Open("meridian", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = db2.QueryRow("SELECT COUNT(*) FROM s.t").Scan(&n)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || n != 1 {
		t.Fatalf("after the restart: %d rows, %v (want 1: the open transaction must not commit)", n, err)
	}
}
