package cbredis_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/internal/redistest"
)

// benchConfig never trips: the benchmarks measure the closed path, which
// every call of a healthy dependency takes.
func benchConfig() cb.Config {
	cfg := fastConfig()
	cfg.FailureRateThreshold = cb.Off
	return cfg
}

func okCall() (int, error) { return 1, nil }

// BenchmarkExecute compares Execute on a breaker shared through a live
// Fleet (syncing with a real redis-server every interval) with the same
// breaker unshared, in one run.
func BenchmarkExecute(b *testing.B) {
	srv := redistest.Start(b)
	local := cb.MustNew[int]("local", benchConfig())
	shared := newReplicaTB(b, srv.Addr(), "shared", benchConfig())
	for _, c := range []struct {
		name string
		b    *cb.Breaker[int]
	}{{"local", local}, {"shared", shared}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.b.Execute(okCall)
				}
			})
		})
	}
}

func TestSharedExecuteDoesNotAllocate(t *testing.T) {
	srv := redistest.Start(t)
	r := newReplica(t, []string{srv.Addr()}, 0, "allocs", benchConfig())
	afterRounds(t, []*replica{r}, 1)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { r.b.Execute(okCall) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { r.b.Execute(func() (int, error) { return 0, errDown }) }))
}
