package server_test

import (
	"context"
	"fmt"
	"testing"

	pb "github.com/meridiandb/meridian/api/meridianpb"
	"github.com/meridiandb/meridian/paxosgroup"
	"github.com/meridiandb/meridian/server/servertest"
)

// BenchmarkPutSequential measures one client's replicated put latency,
// sent to the leaseholder's node.
func BenchmarkPutSequential(b *testing.B) {
	c := servertest.Start(b, servertest.Options{})
	leader := c.LeaderOf(paxosgroup.FirstUserGroupID)
	kv := c.KV(leader)
	ctx := context.Background()
	val := make([]byte, 256)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte(fmt.Sprintf("k%08d", i)), Value: val}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetSequential measures one client's leaseholder read latency.
func BenchmarkGetSequential(b *testing.B) {
	c := servertest.Start(b, servertest.Options{})
	leader := c.LeaderOf(paxosgroup.FirstUserGroupID)
	kv := c.KV(leader)
	ctx := context.Background()
	if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("k"), Value: make([]byte, 256)}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := kv.Get(ctx, &pb.GetRequest{Key: []byte("k")}); err != nil {
			b.Fatal(err)
		}
	}
}
