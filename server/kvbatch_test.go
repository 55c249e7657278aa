package server

import (
	"fmt"
	"strings"
	"testing"

	pb "github.com/meridiandb/meridian/api/meridianpb"
)

// TestWriteQueueTake: a batch takes queued writes in arrival order, each
// key once, within the count and byte bounds; what it leaves keeps its
// order.
func TestWriteQueueTake(t *testing.T) {
	// queue builds a queue from "key" or "key:size" items.
	queue := func(items ...string) *writeQueue {
		q := &writeQueue{}
		for _, it := range items {
			key, size := it, 0
			if i := strings.IndexByte(it, ':'); i >= 0 {
				key = it[:i]
				_, _ = fmt.Sscan(it[i+1:], &size)
			}
			q.pending = append(q.pending, &queuedWrite{w: &pb.TxnWrite{Key: []byte(key), Value: make([]byte, size)}})
		}
		return q
	}
	keys := func(ws []*queuedWrite) string {
		var out []string
		for _, qw := range ws {
			out = append(out, string(qw.w.Key))
		}
		return strings.Join(out, " ")
	}
	many := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("k%03d", i))
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		q           *writeQueue
		batch, rest string
	}{
		{"one", queue("a"), "a", ""},
		{"distinct keys in order", queue("c", "a", "b"), "c a b", ""},
		{"a repeated key waits", queue("a", "b", "a", "c", "b", "a"), "a b c", "a b a"},
		{"count bound", queue(many(maxBatchWrites + 2)...), strings.Join(many(maxBatchWrites), " "), "k256 k257"},
		{"byte bound keeps order", queue("a:600000", "b:600000", "c:1"), "a", "b c"},
		{"a large first write goes alone", queue(fmt.Sprintf("a:%d", 2*maxBatchBytes), "b"), "a", "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch := tc.q.takeLocked()
			if got := keys(batch); got != tc.batch {
				t.Errorf("batch %q, want %q", got, tc.batch)
			}
			if got := keys(tc.q.pending); got != tc.rest {
				t.Errorf("left %q, want %q", got, tc.rest)
			}
		})
	}
}

// TestWriteQueueRemove: a write whose client left before any batch took
// it is dropped from the queue (its outcome is then certain: not
// written); once taken, it is not found.
func TestWriteQueueRemove(t *testing.T) {
	a, b, c := &queuedWrite{w: &pb.TxnWrite{Key: []byte("a")}}, &queuedWrite{w: &pb.TxnWrite{Key: []byte("b")}},
		&queuedWrite{w: &pb.TxnWrite{Key: []byte("c")}}
	q := &writeQueue{pending: []*queuedWrite{a, b, c}}
	if !q.removeLocked(b) {
		t.Fatal("a queued write was not found")
	}
	if batch := q.takeLocked(); len(batch) != 2 || batch[0] != a || batch[1] != c {
		t.Fatalf("batch after removal: %v", batch)
	}
	if q.removeLocked(a) {
		t.Fatal("a write already taken by a batch was removed from the queue")
	}
}
