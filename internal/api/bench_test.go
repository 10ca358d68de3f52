package api_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/server/servertest"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/store/storetest"
)

// BenchmarkConcurrentWrites: 8 clients (4 per core) creating groups over
// HTTP, on each backend. Every write appends to the audit chain; on
// PostgreSQL write transactions take turns (see postgres.InTx), so this
// is the write throughput of one database, SQLite's single writer being
// the baseline of the same run.
func BenchmarkConcurrentWrites(b *testing.B) {
	storetest.ForEachBackend(b, func(b *testing.B, st store.Store) {
		e := servertest.Start(b, st)
		var n atomic.Int64
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				r := e.Admin("POST", "/api/v1/groups", map[string]any{"name": fmt.Sprintf("g-%d", i)})
				if r.Status != 201 {
					b.Errorf("status %d", r.Status)
				}
			}
		})
	})
}
