package benchmarks

// Fleet benchmarks: breakers whose state every instance of a service
// shares through Redis, so that the fleet trips as one. A call through one
// costs round trips to Redis, microseconds where the scenarios cost
// nanoseconds, so they stay out of the chart and its tables (cmd/chart
// reads only the scenarios), and each runs against a real redis-server of
// its own, started by internal/redistest.
//
// Each is Benchmark<Name>/goroutines=N for N in fleetGoroutines, a
// successful call on a closed breaker configured by the common policy.
// Besides ns/op and allocs/op (the benchmark process's own; the server's
// work is not in them) each reports, from the server's INFO commandstats:
//
//   - redis-cmds/op: the commands the server ran per call, those that a
//     script ran included;
//   - counted/op: the calls the shared state counted, per call made. Below
//     1, the breaker lost counts: it would trip later than its policy says.

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/tripswitch/tripswitch/internal/redistest"
)

// fleetGoroutines are the sub-benchmarks' goroutine counts: exactly N
// goroutines make the calls whatever GOMAXPROCS (-cpu) is, where
// RunParallel's count grows with it and an instance's load does not.
var fleetGoroutines = []int{1, 8}

// fleetBreaker is one shared breaker as benchFleet drives it.
type fleetBreaker struct {
	// call makes one call of a successful function through the breaker.
	call func() error
	// counted returns how many calls the shared state counts so far, and
	// false when it cannot tell (its window has dropped some).
	counted func() (uint64, bool)
}

// BenchmarkDistributedGobreaker measures gobreaker v2's
// DistributedCircuitBreaker, Execute through a RedisStore: every call
// reads the shared state, takes the Redis lock, writes the state back and
// unlocks.
func BenchmarkDistributedGobreaker(b *testing.B) {
	srv := redistest.Start(b)
	for _, g := range fleetGoroutines {
		b.Run("goroutines="+strconv.Itoa(g), func(b *testing.B) {
			benchFleet(b, srv, g, distributedGobreaker(b, srv))
		})
	}
}

// The tripswitch shared breaker's benchmark belongs here, beside
// gobreaker's: Benchmark<Name> over a redistest server, its breaker as a
// fleetBreaker run by benchFleet for each of fleetGoroutines, so that both
// report the same columns under the same load.

// benchFleet makes b.N calls through br from goroutines goroutines and
// reports the metrics described at the top of this file.
func benchFleet(b *testing.B, srv *redistest.Server, goroutines int, br fleetBreaker) {
	var before uint64
	if br.counted != nil {
		before, _ = br.counted()
	}
	resetStats(b, srv)
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := br.call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	total := 0
	for _, n := range redisCommands(b, srv) {
		total += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "redis-cmds/op")
	if br.counted != nil {
		if after, ok := br.counted(); ok {
			b.ReportMetric(float64(after-before)/float64(b.N), "counted/op")
		}
	}
}

// fleetNames makes every breaker's name, and so its Redis keys, new: each
// run of a benchmark starts from a breaker no earlier run has counted in.
var fleetNames atomic.Uint64

// distributedGobreaker returns a new DistributedCircuitBreaker over a
// RedisStore of its own, with gobreaker's config of the comparison.
func distributedGobreaker(tb testing.TB, srv *redistest.Server) fleetBreaker {
	tb.Helper()
	store := NewRedisStore(srv.Addr())
	tb.Cleanup(func() { _ = store.Close() })
	name := "fleet-" + strconv.FormatUint(fleetNames.Add(1), 10)
	dcb, err := gobreaker.NewDistributedCircuitBreaker[int](store, gobreakerSettings(name, ClosedSuccess))
	if err != nil {
		tb.Fatalf("gobreaker: NewDistributedCircuitBreaker: %v", err)
	}
	created := time.Now()
	return fleetBreaker{
		call: func() error {
			_, err := dcb.Execute(succeed.Value)
			return err
		},
		counted: func() (uint64, bool) {
			// Counts is the state the last call wrote to Redis: each call
			// writes back what it read and counted, under the lock. The
			// window drops its oldest bucket once it is full.
			if time.Since(created) >= Window-Window/WindowBuckets {
				return 0, false
			}
			return uint64(dcb.Counts().Requests), true
		},
	}
}

// resetStats zeroes the server's command counts.
func resetStats(tb testing.TB, srv *redistest.Server) {
	tb.Helper()
	if _, err := srv.Do("CONFIG", "RESETSTAT"); err != nil {
		tb.Fatalf("CONFIG RESETSTAT: %v", err)
	}
}

// redisCommands returns how many times the server ran each command since
// resetStats, by lower-case name, leaving out the CONFIG and INFO that
// measure it.
func redisCommands(tb testing.TB, srv *redistest.Server) map[string]int {
	tb.Helper()
	info, err := srv.Do("INFO", "commandstats")
	if err != nil {
		tb.Fatalf("INFO commandstats: %v", err)
	}
	cmds := map[string]int{}
	for line := range strings.Lines(info) {
		// cmdstat_get:calls=12,usec=34,usec_per_call=2.83,rejected_calls=0,failed_calls=0
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd || strings.HasPrefix(name, "config") || name == "info" {
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(stats, "calls="), ",")
		n, err := strconv.Atoi(calls)
		if err != nil {
			tb.Fatalf("INFO commandstats: %q", line)
		}
		cmds[name] = n
	}
	return cmds
}
