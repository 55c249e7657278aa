package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/server/servertest"
	"github.com/meridiandb/meridian/storage"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestDiskFull fills a node's disk (ENOSPC on every WAL write): writes
// stop being accepted and fail with an error that says so, nothing
// unacknowledged is reported as written, and once space is back (restart
// without the fault) the store opens with every acknowledged write.
func TestDiskFull(t *testing.T) {
	var full atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && (op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileSyncData) && strings.HasSuffix(op.Path, ".log") {
			return syscall.ENOSPC
		}
		return nil
	})
	c := servertest.Start(t, servertest.Options{Nodes: 1, Storage: func(_ int, o *storage.Options) {
		o.FS = errorfs.Wrap(vfs.Default, inj)
	}})
	kv := c.KV(0)
	for i := 0; i < 20; i++ {
		put(t, kv, fmt.Sprintf("acked%02d", i), "v")
	}
	full.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("lost"), Value: []byte("v")})
	cancel()
	if err == nil {
		t.Fatal("a write was acknowledged while the disk was full")
	}
	t.Logf("write on a full disk: %v", err)
	if !strings.Contains(err.Error(), "disk") && status.Code(err) != codes.ResourceExhausted {
		t.Errorf("error does not say the disk is full: %v", err)
	}
	// Later writes are refused too: the node stopped accepting writes.
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	_, err = kv.Put(ctx, &pb.PutRequest{Key: []byte("later"), Value: []byte("v")})
	cancel()
	if err == nil {
		t.Fatal("write accepted after the store failed")
	}
	// Space is back: restart without the fault.
	c.StopNode(0)
	full.Store(false)
	c.StartNode(0)
	c.WaitReplicated(1)
	for i := 0; i < 20; i++ {
		if v, ok := get(t, c.KV(0), fmt.Sprintf("acked%02d", i)); !ok || v != "v" {
			t.Fatalf("acknowledged write acked%02d lost after restart", i)
		}
	}
	put(t, c.KV(0), "after", "v")
}
