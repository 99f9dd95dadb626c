package cbredis_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
)

// errDown is the failing dependency's error.
var errDown = errors.New("dependency down")

// interval is the sync interval of the tests' fleets: one bucket of
// fastConfig's window.
const interval = 100 * time.Millisecond

// fastConfig is a policy on the real clock with a one-second window of
// ten buckets, rate rules only, and a one-probe half-open episode.
func fastConfig() cb.Config {
	return cb.Config{
		Window: time.Second, Buckets: 10,
		MinimumCalls: 20, FailureRateThreshold: 0.5,
		ConsecutiveFailures: cb.Off, SlowCallDuration: cb.Off,
		OpenTimeout: 600 * time.Millisecond, SuccessThreshold: 1, HalfOpenMaxCalls: 1,
	}
}

// replica is one replica of a service: a breaker shared by a Fleet of its
// own, on a client of its own.
type replica struct {
	b      *cb.Breaker[int]
	fleet  *cbredis.Fleet
	client redis.UniversalClient
}

// newReplica makes replica i of a fleet on addrs (one address: a single
// server; more: a cluster) sharing a breaker named name.
func newReplica(t testing.TB, addrs []string, i int, name string, cfg cb.Config, opts ...cbredis.Option) *replica {
	t.Helper()
	var client redis.UniversalClient
	if len(addrs) == 1 {
		client = redis.NewClient(&redis.Options{
			Addr: addrs[0], MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true,
		})
	} else {
		client = redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: addrs, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true,
		})
	}
	opts = append([]cbredis.Option{cbredis.WithInterval(interval), cbredis.WithReplicaID(fmt.Sprintf("r%d", i))}, opts...)
	f, err := cbredis.New(client, opts...)
	require.NoError(t, err)
	b, err := cb.New[int](name, cfg)
	require.NoError(t, err)
	require.NoError(t, f.Share(b))
	r := &replica{b: b, fleet: f, client: client}
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	_ = r.fleet.Close()
	_ = r.client.Close()
}

// fleetOf makes n replicas.
func fleetOf(t *testing.T, addrs []string, n int, name string, cfg cb.Config, opts ...cbredis.Option) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = newReplica(t, addrs, i, name, cfg, opts...)
	}
	return rs
}

// fail makes n failing calls through r.
func (r *replica) fail(n int) {
	for range n {
		r.b.Execute(func() (int, error) { return 0, errDown })
	}
}

// states lists the replicas' states.
func states(rs []*replica) []cb.State {
	s := make([]cb.State, len(rs))
	for i, r := range rs {
		s[i] = r.b.State()
	}
	return s
}

// allIn reports whether every replica is in state s.
func allIn(rs []*replica, s cb.State) bool {
	for _, r := range rs {
		if r.b.State() != s {
			return false
		}
	}
	return true
}

// within waits, polling, until cond holds, and returns how long it took;
// it fails the test after limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			require.FailNow(t, "timed out", "%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// afterRounds waits until every replica has synced n more times.
func afterRounds(t *testing.T, rs []*replica, n uint64) {
	t.Helper()
	base := make([]uint64, len(rs))
	for i, r := range rs {
		base[i] = r.fleet.Health().Syncs
	}
	within(t, 10*time.Second, "sync rounds", func() bool {
		for i, r := range rs {
			if r.fleet.Health().Syncs < base[i]+n {
				return false
			}
		}
		return true
	})
}

// newReplicaTB is a one-replica fleet on one server, for benchmarks.
func newReplicaTB(tb testing.TB, addr, name string, cfg cb.Config) *cb.Breaker[int] {
	tb.Helper()
	return newReplica(tb, []string{addr}, 0, name, cfg).b
}

// callAll has a goroutine per replica call fn through its breaker, as
// fast as it can, and hand each result to seen, until stop, which waits
// for every call to return.
func callAll(rs []*replica, fn func() (int, error), seen func(cb.CallResult[int])) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				_, res := r.b.Execute(fn)
				seen(res)
				runtime.Gosched()
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}
