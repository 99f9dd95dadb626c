package registry_test

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []registry.Option
		msg  string
	}{
		{
			"zero bound",
			[]registry.Option{registry.WithMaxBreakers(0)},
			"tripswitch: registry: invalid option: WithMaxBreakers(0): the bound must be positive",
		},
		{
			"negative bound",
			[]registry.Option{registry.WithMaxBreakers(-3)},
			"tripswitch: registry: invalid option: WithMaxBreakers(-3): the bound must be positive",
		},
		{
			"zero idle",
			[]registry.Option{registry.WithMaxBreakers(1), registry.WithIdleTimeout(0)},
			"tripswitch: registry: invalid option: WithIdleTimeout(0s): the timeout must be positive",
		},
		{
			"negative idle",
			[]registry.Option{registry.WithMaxBreakers(1), registry.WithIdleTimeout(-time.Second)},
			"tripswitch: registry: invalid option: WithIdleTimeout(-1s): the timeout must be positive",
		},
		{
			"idle without bound",
			[]registry.Option{registry.WithIdleTimeout(time.Minute)},
			"tripswitch: registry: invalid option: WithIdleTimeout without WithMaxBreakers: an unbounded registry never evicts",
		},
		{
			"every fault",
			[]registry.Option{registry.WithMaxBreakers(0), registry.WithIdleTimeout(-1)},
			"tripswitch: registry: invalid option: WithMaxBreakers(0): the bound must be positive\n" +
				"tripswitch: registry: invalid option: WithIdleTimeout(-1ns): the timeout must be positive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := registry.NewChecked(tt.opts...)
			require.ErrorIs(t, err, registry.ErrInvalidOption)
			assert.Nil(t, r)
			assert.Equal(t, tt.msg, err.Error())

			assert.PanicsWithError(t, tt.msg, func() { registry.New(tt.opts...) })
		})
	}

	t.Run("valid", func(t *testing.T) {
		for _, opts := range [][]registry.Option{
			nil,
			{nil},
			{registry.WithClock(nil)},
			{registry.WithMaxBreakers(1)},
			{registry.WithMaxBreakers(1), registry.WithIdleTimeout(time.Nanosecond), registry.WithClock(cbtest.NewClock())},
			// The later option wins, so an invalid value can be corrected.
			{registry.WithMaxBreakers(5), registry.WithMaxBreakers(2)},
		} {
			r, err := registry.NewChecked(opts...)
			require.NoError(t, err)
			require.NotNil(t, r)
			assert.NotPanics(t, func() { registry.New(opts...) })
		}
	})
}

// get is Get with a name and config that the test expects to succeed.
func get(t *testing.T, r *registry.Registry, name string, cfg cb.Config) *cb.Breaker[int] {
	t.Helper()
	b, err := registry.Get[int](r, name, cfg)
	require.NoError(t, err, "Get(%q)", name)
	return b
}

// requireFull requires a Get of name to fail because r is full, leaving
// no breaker of that name.
func requireFull(t *testing.T, r *registry.Registry, name string) {
	t.Helper()
	b, err := registry.Get[int](r, name, cb.Config{})
	require.ErrorIs(t, err, registry.ErrFull, "Get(%q)", name)
	assert.Nil(t, b)
	_, found := r.Lookup(name)
	assert.False(t, found)
}

// Without an idle timeout the bound is a hard cap: time passing evicts
// nothing, and only Remove makes room.
func TestMaxBreakersIsAHardCapWithoutIdleTimeout(t *testing.T) {
	clk := cbtest.NewClock()
	r := registry.New(registry.WithMaxBreakers(2), registry.WithClock(clk))
	cfg := cb.Config{Clock: clk}
	a := get(t, r, "a", cfg)
	get(t, r, "b", cfg)

	b, err := registry.Get[int](r, "c", cfg)
	require.ErrorIs(t, err, registry.ErrFull)
	assert.Nil(t, b)
	assert.Equal(t, `tripswitch: registry: full: "c" not made: 2 breakers, none idle and healthy`, err.Error())
	clk.Advance(1000 * time.Hour)
	requireFull(t, r, "c")
	_, err = registry.Wrap(r, "c", cfg, ok)
	require.ErrorIs(t, err, registry.ErrFull)

	// The names already there work as before, and a full registry still
	// checks them.
	assert.Same(t, a, get(t, r, "a", cfg))
	_, err = registry.Get[string](r, "a", cfg)
	require.ErrorIs(t, err, registry.ErrTypeMismatch)

	require.True(t, r.Remove("a"))
	get(t, r, "c", cfg)
	requireFull(t, r, "d")
	assert.Equal(t, []string{"b", "c"}, r.Names())
	assert.Equal(t, registry.Health{Total: 2, Closed: 2, HealthyPercent: 100, Refused: 4}, r.Health())
}

// Only a breaker that is closed (not forced open or half-open), free of
// failures, slow calls and failure streaks, and unused for the idle time
// is evicted. Every other one keeps
// its history, so that no one can wipe a failing dependency's record by
// filling the registry.
func TestBoundedRegistryEvictsOnlyIdleHealthyBreakers(t *testing.T) {
	const idle = time.Minute
	clk := cbtest.NewClock()
	// A count window keeps failures and slow calls until later calls
	// push them out, whatever the clock does.
	counted := cb.Config{Clock: clk, WindowCalls: 10, MinimumCalls: 10, ConsecutiveFailures: cb.Off, SlowCallDuration: time.Second}
	// A time window lets a failure age out while its streak goes on.
	timed := cb.Config{Clock: clk, Window: 10 * time.Second, ConsecutiveFailures: 5}
	trips := cb.Config{Clock: clk, ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 1}

	names := []string{"never-used", "used-once", "used-again", "got-again", "failure", "slow", "streak", "half-open", "forced-half-open", "forced-open"}
	r := registry.New(registry.WithMaxBreakers(len(names)), registry.WithIdleTimeout(idle), registry.WithClock(clk))

	get(t, r, "never-used", counted)
	get(t, r, "used-once", counted).Execute(ok)
	usedAgain := get(t, r, "used-again", counted)
	usedAgain.Execute(ok)
	get(t, r, "got-again", counted)
	get(t, r, "failure", counted).Execute(fail)
	get(t, r, "slow", counted).Execute(func() (int, error) {
		clk.Advance(2 * time.Second)
		return 1, nil
	})
	streak := get(t, r, "streak", timed)
	streak.Execute(fail)
	get(t, r, "half-open", trips).Execute(fail)
	get(t, r, "forced-half-open", counted).ForceHalfOpen()
	get(t, r, "forced-open", counted).ForceOpen()
	start := clk.Now()

	// Full, and nothing has been idle yet.
	requireFull(t, r, "new-1")

	clk.Advance(idle / 2)
	usedAgain.Execute(ok)               // through a breaker held since it was got
	get(t, r, "got-again", cb.Config{}) // got again, not called

	// Not yet idle for a whole minute: never-used was made at 0, the
	// first sweep saw used-once in use at start.
	clk.Set(start + idle - 5*time.Second)
	requireFull(t, r, "new-2")

	clk.Set(start + idle)
	get(t, r, "new-3", counted)
	assert.Equal(t, []string{"failure", "forced-half-open", "forced-open", "got-again", "half-open", "new-3", "slow", "streak", "used-again"}, r.Names())
	h := r.Health()
	assert.EqualValues(t, 2, h.Evicted, "never-used and used-once")
	assert.EqualValues(t, 2, h.Refused)

	// What kept the other breakers.
	m := streak.Metrics()
	assert.Zero(t, m.Failures, "the failure has left the time window")
	assert.EqualValues(t, 1, m.ConsecutiveFailures, "but the streak goes on")
	assert.Equal(t, cb.HalfOpen, get(t, r, "half-open", cb.Config{}).State())

	// used-again and got-again were seen in use by the sweep at start +
	// idle - 5s: their idle time starts there. (Their Gets above count as
	// use too, in the same sweep.)
	clk.Set(start + 2*idle - 5*time.Second - time.Nanosecond)
	get(t, r, "new-4", counted) // room left by the two evicted
	requireFull(t, r, "new-5")
	clk.Set(start + 2*idle - 5*time.Second)
	requireFull(t, r, "new-6") // a sweep ran a nanosecond ago: see TestSweepsAreRateLimited
	clk.Advance(idle / 16)
	get(t, r, "new-7", counted)
	assert.NotContains(t, r.Names(), "used-again")
	assert.NotContains(t, r.Names(), "got-again")
	assert.Contains(t, r.Names(), "new-3", "made less than a minute ago")
	h = r.Health()
	assert.EqualValues(t, 4, h.Evicted)
	assert.EqualValues(t, 4, h.Refused)
	assert.Equal(t, len(names)-1, h.Total)

	// The evicted breaker keeps working for whoever holds it, out of the
	// registry; a Get of its name makes a fresh one.
	_, res := usedAgain.Execute(ok)
	assert.Equal(t, cb.Success, res.Outcome)
	assert.EqualValues(t, 3, usedAgain.Metrics().TotalCalls)
}

// A sweep runs at most once per IdleTimeout/16 of the registry's clock, so
// that a stream of new names in a full registry does not read every
// breaker on every Get.
func TestSweepsAreRateLimited(t *testing.T) {
	const idle = 16 * time.Second
	clk := cbtest.NewClock()
	r := registry.New(registry.WithMaxBreakers(3), registry.WithIdleTimeout(idle), registry.WithClock(clk))
	// A sweep reads every breaker's Metrics, which reads its clock.
	var reads int
	for i := range 3 {
		get(t, r, "b"+strconv.Itoa(i), cb.Config{Clock: countingClock{clk, &reads}})
	}
	reads = 0
	for i := range 100 {
		requireFull(t, r, "new-"+strconv.Itoa(i))
	}
	swept := reads
	assert.Positive(t, swept, "the first full Get sweeps")
	for i := range 100 {
		clk.Advance(idle/16/100 - 1)
		requireFull(t, r, "later-"+strconv.Itoa(i))
	}
	assert.Equal(t, swept, reads, "a sweep ran before idle/16 had passed")
	clk.Advance(100)
	requireFull(t, r, "next")
	assert.Equal(t, 2*swept, reads)
}

// countingClock counts the readings of a breaker's clock.
type countingClock struct {
	*cbtest.Clock
	n *int
}

func (c countingClock) Now() time.Duration {
	*c.n++
	return c.Clock.Now()
}

// A sweep may run OnStateChange listeners (reading an open breaker past its
// open timeout makes it half-open), and a listener may Get: the sweep must
// not hold a lock that Get needs.
func TestSweepRunsListenersWithoutTheLock(t *testing.T) {
	clk := cbtest.NewClock()
	r := registry.New(registry.WithMaxBreakers(2), registry.WithIdleTimeout(time.Minute), registry.WithClock(clk))
	var fromListener error
	listened := false
	cfg := cb.Config{
		Clock: clk, ConsecutiveFailures: 1, OpenTimeout: time.Second,
		OnStateChange: func(tr cb.Transition) {
			if tr.To == cb.HalfOpen {
				listened = true
				_, fromListener = registry.Get[int](r, "from-listener", cb.Config{})
			}
		},
	}
	get(t, r, "flaky", cfg).Execute(fail)
	get(t, r, "other", cb.Config{Clock: clk})
	clk.Advance(time.Second)

	done := make(chan error, 1)
	go func() {
		_, err := registry.Get[int](r, "new", cb.Config{})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, registry.ErrFull)
	case <-time.After(10 * time.Second):
		require.FailNow(t, "Get deadlocked in a sweep that ran a listener")
	}
	require.True(t, listened, "the sweep read the open breaker")
	// The listener's Get came during the sweep, which it did not wait for.
	require.ErrorIs(t, fromListener, registry.ErrFull)
}

// A bounded registry under concurrent Gets of new names, Removes and
// reports never holds more than its bound. Run under -race, this is also
// where a missing synchronisation would show.
func TestBoundedRegistryConcurrentUse(t *testing.T) {
	const bound, goroutines, perGoroutine = 16, 8, 400
	clk := cbtest.NewClock()
	r := registry.New(registry.WithMaxBreakers(bound), registry.WithIdleTimeout(time.Second), registry.WithClock(clk))
	cfg := cb.Config{Clock: clk}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				name := fmt.Sprintf("g%d-%d", g, i%40)
				b, err := registry.Get[int](r, name, cfg)
				switch {
				case errors.Is(err, registry.ErrFull):
				case assert.NoError(t, err):
					b.Execute(ok)
				default:
					return
				}
				switch i % 25 {
				case 3:
					r.Remove(name)
				case 7:
					// Health walks the names while others come and go, so it
					// may meet a name removed after it counted another made
					// in its place: at most one per goroutine removing.
					assert.LessOrEqual(t, r.Health().Total, bound+goroutines)
				case 11:
					clk.Advance(100 * time.Millisecond)
				case 19:
					r.Report()
				}
			}
		})
	}
	wg.Wait()
	h := r.Health()
	assert.LessOrEqual(t, h.Total, bound)
	assert.Len(t, r.Names(), h.Total)
}

// heapInUse is the heap in use after a full collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// A flood of 100,000 distinct names, each used once as a request for a
// new host would, leaves a bounded registry with at most its bound of
// breakers and the memory of about that many, where an unbounded one
// would keep all 100,000. The names come a hundred a second, far faster
// than breakers go idle, so most are refused: each minute the registry
// fills, then waits for its breakers to have been idle a minute.
func TestBoundedRegistryMemoryUnderManyNames(t *testing.T) {
	const (
		bound = 500
		names = 100_000
		idle  = time.Minute
		every = 10 * time.Millisecond // between two new names
	)
	clk := cbtest.NewClock()
	r := registry.New(registry.WithMaxBreakers(bound), registry.WithIdleTimeout(idle), registry.WithClock(clk))
	cfg := cb.Config{Clock: clk}
	before := heapInUse()

	made, refused := 0, 0
	use := func(i int) {
		b, err := registry.Get[int](r, "host-"+strconv.Itoa(i)+".example", cfg)
		if errors.Is(err, registry.ErrFull) {
			refused++
			return
		}
		require.NoError(t, err)
		b.Execute(ok)
		made++
	}
	for i := range bound {
		use(i)
		clk.Advance(every)
	}
	require.Equal(t, bound, made)
	full := heapInUse()
	require.Greater(t, full, before)
	perBreaker := (full - before) / bound
	t.Logf("%d breakers: %d KiB of heap, %d bytes each", bound, (full-before)/1024, perBreaker)

	for i := bound; i < names; i++ {
		use(i)
		clk.Advance(every)
		if i%5000 == 0 {
			require.LessOrEqual(t, r.Health().Total, bound, "after %d names", i)
		}
	}
	after := heapInUse()
	h := r.Health()
	t.Logf("after %d names: %d breakers, %d evicted, %d refused, %d KiB of heap", names, h.Total, h.Evicted, h.Refused, (after-before)/1024)

	assert.LessOrEqual(t, h.Total, bound)
	assert.Equal(t, names, made+refused)
	assert.EqualValues(t, refused, h.Refused)
	assert.EqualValues(t, made-h.Total, h.Evicted)
	// Room was made again and again as breakers went idle: about once
	// every 6,500 names (a minute at the bound, five seconds to fill it).
	assert.GreaterOrEqual(t, h.Evicted, uint64(10*bound))
	// The heap holds about the bound's worth of breakers, nowhere near
	// the 100,000 an unbounded registry would keep: allow twice the
	// bound, plus a MiB for the runtime's own noise.
	grown := int64(after) - int64(before)
	assert.Less(t, grown, int64(2*bound*perBreaker+1<<20),
		"heap grew by %d KiB, about %d breakers' worth", grown/1024, grown/int64(perBreaker))
}
