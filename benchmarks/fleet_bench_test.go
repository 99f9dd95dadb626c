package benchmarks

// Fleet benchmarks: breakers whose state every instance of a service
// shares through Redis, so that the fleet trips as one. A call through
// gobreaker's makes round trips to Redis, microseconds where the scenarios
// cost nanoseconds; a call through tripswitch's makes none, and is
// measured beside the same breaker unshared. They stay out of the chart
// and its tables (cmd/chart reads only the scenarios), and each runs
// against a real redis-server of its own, started by internal/redistest.
//
// Each is Benchmark<Name>[/...]/goroutines=N[/...] for N in
// fleetGoroutines, a successful call on a closed breaker configured by the
// common policy.
// Besides ns/op and allocs/op (the benchmark process's own; the server's
// work is not in them) each reports, from the server's INFO commandstats:
//
//   - redis-cmds/op: the commands the server ran per call, those that a
//     script ran included;
//   - redis-cmds/s: the same commands per second of the run, which tells
//     commands that calls make (they grow with the calls) from those of a
//     background syncer (a steady rate, whatever the calls);
//   - cpu-ns/op: the CPU time the process used per call, every goroutine's
//     (the callers', a syncer's, the garbage collector's). On a machine
//     that other work keeps busy, ns/op counts the time the calls waited
//     for a core too, and this does not: two breakers' costs are told
//     apart by it when their ns/op are lost in that noise;
//   - counted/op (shared breakers only): the calls the shared state
//     counted, per call made. Below 1, the breaker lost counts: it would
//     trip later than its policy says.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
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

// BenchmarkFleetTripswitch measures Execute on a tripswitch breaker shared
// through a live cbredis.Fleet (sharing=fleet) and on the same config's
// breaker unshared (sharing=local), for the comparison's configs
// tripswitch (the zero cb.Config) and tripswitch-hot. A shared breaker
// decides each call locally; the Fleet's syncer flushes its counts and
// reads the fleet's window once per interval (one bucket of the window:
// 1 s here), whatever the traffic. sharing is the innermost level so that
// a -count 1 run measures each local/fleet pair back to back, which is
// what a ratio on a noisy machine needs.
func BenchmarkFleetTripswitch(b *testing.B) {
	srv := redistest.Start(b)
	for _, lib := range []string{"tripswitch", "tripswitch-hot"} {
		for _, g := range fleetGoroutines {
			for _, sharing := range []string{"local", "fleet"} {
				name := "lib=" + lib + "/goroutines=" + strconv.Itoa(g) + "/sharing=" + sharing
				b.Run(name, func(b *testing.B) {
					benchFleet(b, srv, g, fleetTripswitch(b, srv, lib == "tripswitch-hot", sharing == "fleet"))
				})
			}
		}
	}
}

// benchFleet makes b.N calls through br from goroutines goroutines and
// reports the metrics described at the top of this file.
func benchFleet(b *testing.B, srv *redistest.Server, goroutines int, br fleetBreaker) {
	var before uint64
	if br.counted != nil {
		before, _ = br.counted()
	}
	resetStats(b, srv)
	start := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
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
	cpu1, _ := processCPU()
	b.StopTimer()
	if cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
	total := 0
	for _, n := range redisCommands(b, srv) {
		total += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "redis-cmds/op")
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "redis-cmds/s")
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

// fleetTripswitch returns a new tripswitch breaker with the config of the
// comparison's tripswitch (hot: tripswitch-hot) for ClosedSuccess, shared
// through a Fleet of its own on a client of its own when shared, local
// otherwise.
func fleetTripswitch(tb testing.TB, srv *redistest.Server, hot, shared bool) fleetBreaker {
	tb.Helper()
	var cfg cb.Config // every default, as libs.go's tripswitch
	if hot {
		// libs.go's tripswitch-hot: a clock read with one atomic load, no
		// slow-call tracking.
		clk, err := cb.NewCoarseClock(time.Millisecond)
		if err != nil {
			tb.Fatalf("tripswitch: NewCoarseClock: %v", err)
		}
		tb.Cleanup(clk.Stop)
		cfg.Clock, cfg.SlowCallDuration = clk, cb.Off
	}
	name := "fleet-" + strconv.FormatUint(fleetNames.Add(1), 10)
	br, err := cb.New[int](name, cfg)
	if err != nil {
		tb.Fatalf("tripswitch: New: %v", err)
	}
	fb := fleetBreaker{
		call: func() error {
			if _, r := br.Execute(succeed.Value); r.Outcome != cb.Success {
				return fmt.Errorf("tripswitch: a successful call on a closed breaker: outcome %v, state %v: %w", r.Outcome, r.State, r.Err)
			}
			return nil
		},
	}
	if !shared {
		return fb
	}

	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = client.Close() })
	fleet, err := cbredis.New(client)
	if err != nil {
		tb.Fatalf("cbredis: New: %v", err)
	}
	tb.Cleanup(func() { _ = fleet.Close() })
	// Share returns after the first sync: every call measured is made on a
	// breaker that has joined the fleet.
	if err := fleet.Share(br); err != nil {
		tb.Fatalf("cbredis: Share: %v", err)
	}
	tb.Cleanup(func() {
		// A degraded breaker has gone a whole window without a sync: it
		// was measured as a local one. A round that failed now and then is
		// no such thing (the next one catches up), and on a loaded machine
		// a round can outlast its deadline, so Errors is not checked.
		if h := fleet.Health(); h.Syncs == 0 || h.Degraded || h.Malformed > 0 {
			tb.Errorf("cbredis: the fleet did not sync: %+v", h)
		}
	})
	created := time.Now()
	// The breaker's keys start with prefix:{name}; a name of letters,
	// digits and '-' is written as it is.
	base := cbredis.DefaultPrefix + ":{" + name + "}"
	fb.counted = func() (uint64, bool) {
		// The fleet's window in Redis is the shared state: the counts each
		// sync writes into its buckets. Its oldest bucket goes once the
		// window is full, as gobreaker's does.
		if time.Since(created) >= Window-Window/WindowBuckets {
			return 0, false
		}
		if br.Metrics().TotalCalls > 0 {
			flushFleet(tb, client, fleet, base)
		}
		return fleetWindowCalls(tb, srv, base), true
	}
	return fb
}

// flushFleet waits until fleet has synced twice more: the syncer runs one
// round at a time, so the second began after every call made before
// flushFleet, and has written its outcomes to Redis.
//
// A message on a breaker's channel (base:events, on which replicas
// announce transitions) has the syncer run a round at once; flushFleet
// publishes one while it waits, so that it waits for two round trips
// instead of up to two intervals (2 s here) after every run of a
// benchmark function. Were the syncer to ignore the message, the rounds on
// its own schedule would end the wait all the same.
func flushFleet(tb testing.TB, client *redis.Client, fleet *cbredis.Fleet, base string) {
	tb.Helper()
	const limit = 10 * time.Second
	target := fleet.Health().Syncs + 2
	deadline := time.Now().Add(limit)
	for fleet.Health().Syncs < target {
		if time.Now().After(deadline) {
			tb.Fatalf("cbredis: the fleet did not sync twice in %v: %+v", limit, fleet.Health())
		}
		if err := client.Publish(context.Background(), base+":events", "flush").Err(); err != nil {
			tb.Fatalf("PUBLISH: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fleetWindowCalls returns the calls the fleet's window of the breaker
// whose keys start with base holds: the sum of the counters of every
// bucket, of every closed generation's window (base:w:G).
func fleetWindowCalls(tb testing.TB, srv *redistest.Server, base string) uint64 {
	tb.Helper()
	keys, err := srv.Do("KEYS", base+":w:*")
	if err != nil {
		tb.Fatalf("KEYS: %v", err)
	}
	var sum uint64
	for key := range strings.Lines(keys) {
		vals, err := srv.Do("HVALS", strings.TrimSpace(key))
		if err != nil {
			tb.Fatalf("HVALS %s: %v", key, err)
		}
		for v := range strings.Lines(vals) {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				tb.Fatalf("HVALS %s: %q", key, v)
			}
			sum += n
		}
	}
	return sum
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
