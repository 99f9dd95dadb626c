package registry_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

var errBoom = errors.New("boom")

func ok() (int, error) { return 1, nil }

func fail() (int, error) { return 0, errBoom }

func isFailure(err error) bool { return err != nil }

// tripConfig is a policy that opens on one failure and probes after a
// minute of the fake clock clk.
func tripConfig(clk *cbtest.Clock) cb.Config {
	return cb.Config{Clock: clk, ConsecutiveFailures: 1, OpenTimeout: time.Minute, SuccessThreshold: 1}
}

// counting is an Option that counts the breakers made with it: an Option
// runs exactly once, when cb.New makes a breaker.
func counting[T any](n *atomic.Int64) cb.Option[T] {
	return func(*cb.Breaker[T]) { n.Inc() }
}

func TestNewAndZeroRegistryAreEmptyAndUsable(t *testing.T) {
	var zero registry.Registry
	for name, r := range map[string]*registry.Registry{"New": registry.New(), "zero": &zero} {
		t.Run(name, func(t *testing.T) {
			assert.Empty(t, r.Names())
			assert.Empty(t, r.AllMetrics())
			assert.Empty(t, r.OpenCircuits())
			assert.Equal(t, registry.Health{HealthyPercent: 100}, r.Health())

			b, err := registry.Get[int](r, "a", cb.Config{Clock: cbtest.NewClock()})
			require.NoError(t, err)
			assert.Equal(t, "a", b.Name())
			assert.Equal(t, []string{"a"}, r.Names())
		})
	}
	first := registry.New()
	assert.NotSame(t, first, registry.New(), "every New is a registry of its own")
}

func TestDefaultIsOneRegistry(t *testing.T) {
	d := registry.Default()
	require.NotNil(t, d)
	assert.Same(t, d, registry.Default())
	assert.NotSame(t, d, registry.New())

	const name = "registry_test.TestDefaultIsOneRegistry"
	t.Cleanup(func() { d.Remove(name) })
	b, err := registry.Get[string](d, name, cb.Config{Clock: cbtest.NewClock()})
	require.NoError(t, err)
	c, found := registry.Default().Lookup(name)
	require.True(t, found)
	assert.Same(t, b, c)
}

func TestGetMakesOnceThenReturnsTheSameBreaker(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	var made atomic.Int64

	b1, err := registry.Get(r, "users", cfg, counting[string](&made))
	require.NoError(t, err)
	require.NotNil(t, b1)
	assert.Equal(t, "users", b1.Name())
	assert.EqualValues(t, 1, made.Load())

	b2, err := registry.Get(r, "users", cfg, counting[string](&made))
	require.NoError(t, err)
	assert.Same(t, b1, b2)
	b3, err := registry.Get[string](r, "users", cb.Config{})
	require.NoError(t, err)
	assert.Same(t, b1, b3)
	assert.EqualValues(t, 1, made.Load(), "a Get of an existing name made a breaker")

	// The breaker has cfg, not the zero Config of the third Get: one
	// failure trips it.
	b3.Execute(func() (string, error) { return "", errBoom })
	assert.Equal(t, cb.Open, b1.State())

	other, err := registry.Get[string](r, "orders", cfg)
	require.NoError(t, err)
	assert.NotSame(t, b1, other)
	assert.Equal(t, cb.Closed, other.State())
}

func TestGetAppliesOptionsWhenMaking(t *testing.T) {
	r := registry.New()
	// A classifier that fails negative results although their error is nil.
	negativeFails := cb.WithClassifier(func(v int, err error) cb.Outcome {
		if err != nil || v < 0 {
			return cb.Failure
		}
		return cb.Success
	})
	b, err := registry.Get(r, "balance", tripConfig(cbtest.NewClock()), negativeFails)
	require.NoError(t, err)
	_, res := b.Execute(func() (int, error) { return -1, nil })
	assert.Equal(t, cb.Failure, res.Outcome)
	assert.Equal(t, cb.Open, b.State())
}

func TestGetEmptyNameFails(t *testing.T) {
	r := registry.New()
	b, err := registry.Get[int](r, "", cb.Config{})
	require.ErrorIs(t, err, registry.ErrInvalidName)
	assert.Nil(t, b)
	assert.Equal(t, "tripswitch: registry: invalid breaker name: the name must not be empty", err.Error())
	assert.Empty(t, r.Names())
}

func TestGetInvalidConfigFailsAndRegistersNothing(t *testing.T) {
	r := registry.New()
	b, err := registry.Get[int](r, "bad", cb.Config{FailureRateThreshold: 2})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "FailureRateThreshold")
	assert.Nil(t, b)
	assert.Empty(t, r.Names())
	_, found := r.Lookup("bad")
	assert.False(t, found)

	// The name is still free for a valid config.
	b, err = registry.Get[int](r, "bad", cb.Config{FailureRateThreshold: 0.2})
	require.NoError(t, err)
	assert.NotNil(t, b)
}

func TestGetTypeMismatch(t *testing.T) {
	r := registry.New()
	cfg := tripConfig(cbtest.NewClock())
	_, err := registry.Get[int](r, "prices", cfg)
	require.NoError(t, err)

	s, err := registry.Get[string](r, "prices", cfg)
	require.ErrorIs(t, err, registry.ErrTypeMismatch)
	assert.Nil(t, s)
	assert.Equal(t,
		`tripswitch: registry: breaker has another result type: "prices" is a *cb.Breaker[int], not a *cb.Breaker[string]`,
		err.Error())

	// Also with a zero Config, and for a type that merely looks alike.
	type myInt int
	_, err = registry.Get[myInt](r, "prices", cb.Config{})
	require.ErrorIs(t, err, registry.ErrTypeMismatch)
	assert.Contains(t, err.Error(), "registry_test.myInt")
	assert.NotErrorIs(t, err, registry.ErrConfigConflict)

	b, err := registry.Get[int](r, "prices", cfg)
	require.NoError(t, err, "the breaker of the first type is still there")
	assert.NotNil(t, b)
}

func TestGetConfigConflict(t *testing.T) {
	clk := cbtest.NewClock()
	base := cb.Config{Clock: clk, OpenTimeout: 30 * time.Second, MinimumCalls: 4}
	r := registry.New()
	made, err := registry.Get[int](r, "search", base)
	require.NoError(t, err)

	tests := []struct {
		name   string
		cfg    func() cb.Config
		fields string // "" when the Get succeeds
	}{
		{"zero accepts any", func() cb.Config { return cb.Config{} }, ""},
		{"equal", func() cb.Config { return base }, ""},
		{"one field", func() cb.Config { c := base; c.OpenTimeout = time.Minute; return c }, "OpenTimeout"},
		{"added field", func() cb.Config { c := base; c.SuccessThreshold = 2; return c }, "SuccessThreshold"},
		{"two fields", func() cb.Config { c := base; c.MinimumCalls = 5; c.Buckets = 5; return c }, "Buckets, MinimumCalls"},
		// Funcs and the Clock are not compared: the breaker keeps its own.
		{"other clock", func() cb.Config { c := base; c.Clock = cbtest.NewClock(); return c }, ""},
		{"no clock", func() cb.Config { c := base; c.Clock = nil; return c }, ""},
		{"listener", func() cb.Config { c := base; c.OnStateChange = func(cb.Transition) {}; return c }, ""},
		{"classifiers", func() cb.Config { c := base; c.IsFailure = isFailure; c.IsIgnored = isFailure; return c }, ""},
		// Defaults are not applied before comparing: explicit 60s differs
		// from a zero OpenTimeout in a config that does not set it. And a
		// Config with only a Clock is not the zero Config.
		{"only the clock", func() cb.Config { return cb.Config{Clock: clk} }, "MinimumCalls, OpenTimeout"},
		{"clock and a value", func() cb.Config { c := base; c.Clock = cbtest.NewClock(); c.Buckets = 5; return c }, "Buckets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := registry.Get[int](r, "search", tt.cfg())
			if tt.fields == "" {
				require.NoError(t, err)
				assert.Same(t, made, b)
				return
			}
			require.ErrorIs(t, err, registry.ErrConfigConflict)
			assert.NotErrorIs(t, err, registry.ErrTypeMismatch)
			assert.Nil(t, b)
			assert.Equal(t,
				`tripswitch: registry: breaker exists with another config: "search" was made with other values of `+tt.fields,
				err.Error())
		})
	}
	assert.Equal(t, []string{"search"}, r.Names())
}

// structClock is a Clock that == cannot compare: a struct holding a func.
type structClock struct{ now func() time.Duration }

func (c structClock) Now() time.Duration { return c.now() }

// sliceClock is another: == on an interface holding it panics.
type sliceClock []time.Duration

func (s sliceClock) Now() time.Duration { return s[0] }

// Get compares only the value fields of a Config. A Clock or func, made
// anew on each Get or written as another literal, is never a conflict,
// whether or not Go could compare it, and whatever the compiler inlined.
func TestGetDoesNotCompareFuncsOrClock(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	newConfig := func(isFailure func(error) bool) cb.Config {
		return cb.Config{
			ConsecutiveFailures: 1, OpenTimeout: time.Minute,
			Clock:         structClock{now: func() time.Duration { return clk.Now() }},
			IsFailure:     isFailure,
			IsIgnored:     func(error) bool { return false },
			OnStateChange: func(cb.Transition) {},
		}
	}
	first, err := registry.Get[int](r, "api", newConfig(func(err error) bool { return err != nil }))
	require.NoError(t, err)

	// Another literal for every func, another Clock value.
	second := newConfig(func(error) bool { return false })
	second.IsIgnored = func(err error) bool { return errors.Is(err, errBoom) }
	second.OnStateChange = func(cb.Transition) { panic("not this listener") }
	for _, c := range []cb.Clock{second.Clock, sliceClock{1}, clk, nil} {
		second.Clock = c
		b, err := registry.Get[int](r, "api", second)
		require.NoError(t, err)
		assert.Same(t, first, b)
	}

	// The breaker kept what it was made with: the first IsFailure, a
	// listener that does not panic.
	_, res := first.Execute(fail)
	assert.Equal(t, cb.Failure, res.Outcome)
	assert.Equal(t, cb.Open, first.State())

	// A value field still conflicts, and only it is named.
	second.OpenTimeout = time.Hour
	_, err = registry.Get[int](r, "api", second)
	require.ErrorIs(t, err, registry.ErrConfigConflict)
	assert.Contains(t, err.Error(), "other values of OpenTimeout")
}

// A Get in a loop or per request passes a new closure each time; it is
// the same function literal, so it is not a conflict.
func TestGetSameListenerLiteralIsNoConflict(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	var seen atomic.Int64
	var first *cb.Breaker[int]
	for i := range 3 {
		b, err := registry.Get[int](r, "loop", cb.Config{
			Clock:         clk,
			OnStateChange: func(cb.Transition) { seen.Add(int64(i)) },
		})
		require.NoError(t, err)
		if first == nil {
			first = b
		}
		assert.Same(t, first, b)
	}
}

func TestConcurrentGetOfOneNameMakesOneBreaker(t *testing.T) {
	const goroutines = 128
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	var made atomic.Int64
	// Yielding inside the making widens the window in which a second
	// goroutine could miss the first breaker and make its own.
	slowCounting := func(*cb.Breaker[int]) {
		made.Inc()
		for range 10 {
			runtime.Gosched()
		}
	}
	got := make([]*cb.Breaker[int], goroutines)
	errs := make([]error, goroutines)

	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			<-start
			got[i], errs[i] = registry.Get(r, "hot", cfg, slowCounting)
		})
	}
	close(start)
	wg.Wait()

	assert.EqualValues(t, 1, made.Load(), "breakers made")
	for i := range goroutines {
		require.NoError(t, errs[i])
		require.Same(t, got[0], got[i], "goroutine %d got another breaker", i)
	}
	assert.Equal(t, []string{"hot"}, r.Names())
}

// Many names at once, with lookups and removals racing the Gets: run under
// -race, this is where a missing synchronisation would show.
func TestConcurrentMixedUse(t *testing.T) {
	const goroutines, names = 16, 8
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := cb.Config{Clock: clk}
	var made atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range 200 {
				name := fmt.Sprintf("dep-%d", (g+i)%names)
				b, err := registry.Get(r, name, cfg, counting[int](&made))
				if !assert.NoError(t, err) {
					return
				}
				b.Execute(ok)
				switch i % 50 {
				case 7:
					r.Remove(name)
				case 13:
					r.Health()
					r.AllMetrics()
				case 29:
					r.Names()
					r.OpenCircuits()
					r.Report()
				case 41:
					r.ResetAll()
				}
				if c, found := r.Lookup(name); found {
					assert.Equal(t, name, c.Name())
				}
			}
		})
	}
	wg.Wait()
	// Every name was made once, plus once more for each removal that
	// was followed by a Get.
	assert.GreaterOrEqual(t, made.Load(), int64(names))
	assert.LessOrEqual(t, len(r.Names()), names)
}

func TestLookup(t *testing.T) {
	r := registry.New()
	b, err := registry.Get[[]byte](r, "blobs", cb.Config{Clock: cbtest.NewClock()})
	require.NoError(t, err)

	c, found := r.Lookup("blobs")
	require.True(t, found)
	assert.Same(t, b, c)
	assert.Equal(t, "blobs", c.Name())

	// The Circuit is the breaker: forcing it through Lookup shows in b.
	c.ForceOpen()
	assert.Equal(t, cb.Open, b.State())
	assert.True(t, b.Metrics().Forced)

	c, found = r.Lookup("missing")
	assert.False(t, found)
	assert.Nil(t, c)
	c, found = r.Lookup("")
	assert.False(t, found)
	assert.Nil(t, c)
}

func TestNamesAreSorted(t *testing.T) {
	r := registry.New()
	cfg := cb.Config{Clock: cbtest.NewClock()}
	for _, n := range []string{"payments", "Auth", "cache", "b", "a-1", "a"} {
		_, err := registry.Get[int](r, n, cfg)
		require.NoError(t, err)
	}
	_, err := registry.Get[string](r, "zeta", cfg) // another T is listed too
	require.NoError(t, err)
	assert.Equal(t, []string{"Auth", "a", "a-1", "b", "cache", "payments", "zeta"}, r.Names())
}

func TestRemove(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	old, err := registry.Get[int](r, "flaky", cfg)
	require.NoError(t, err)
	old.Execute(fail)
	require.Equal(t, cb.Open, old.State())

	assert.True(t, r.Remove("flaky"))
	assert.False(t, r.Remove("flaky"), "second Remove")
	assert.False(t, r.Remove("never"))
	assert.Empty(t, r.Names())
	_, found := r.Lookup("flaky")
	assert.False(t, found)
	assert.NotContains(t, r.AllMetrics(), "flaky")
	assert.Equal(t, 0, r.Health().Total)

	// The removed breaker still works for its holder.
	assert.Equal(t, cb.Open, old.State())
	clk.Advance(time.Minute)
	_, res := old.Execute(ok)
	assert.Equal(t, cb.Success, res.Outcome)
	assert.Equal(t, cb.Closed, old.State())

	// A later Get makes a fresh breaker, even of another type or config.
	fresh, err := registry.Get[string](r, "flaky", cb.Config{Clock: clk})
	require.NoError(t, err)
	assert.Zero(t, fresh.Metrics().TotalCalls)
	assert.Equal(t, []string{"flaky"}, r.Names())
}

func TestRemoveDuringUse(t *testing.T) {
	const workers, calls = 8, 500
	r := registry.New()
	clk := cbtest.NewClock()
	b, err := registry.Get[int](r, "busy", cb.Config{Clock: clk})
	require.NoError(t, err)

	halfway := make(chan struct{})
	var started sync.WaitGroup
	started.Add(workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range calls {
				if i == calls/2 {
					started.Done()
					<-halfway
				}
				_, res := b.Execute(ok)
				assert.Equal(t, cb.Success, res.Outcome)
			}
		})
	}
	started.Wait() // every worker is mid-way through its calls
	removed := make(chan bool)
	go func() { removed <- r.Remove("busy") }()
	close(halfway)
	assert.True(t, <-removed)
	wg.Wait()

	m := b.Metrics()
	assert.EqualValues(t, workers*calls, m.TotalCalls, "calls lost across the removal")
	assert.Equal(t, cb.Closed, m.State)

	fresh, err := registry.Get[int](r, "busy", cb.Config{Clock: clk})
	require.NoError(t, err)
	assert.NotSame(t, b, fresh)
	assert.Zero(t, fresh.Metrics().TotalCalls)
}

func TestResetAll(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	a, err := registry.Get[int](r, "a", cfg)
	require.NoError(t, err)
	b, err := registry.Get[string](r, "b", cfg)
	require.NoError(t, err)
	c, err := registry.Get[int](r, "c", cfg)
	require.NoError(t, err)

	a.Execute(fail)
	b.ForceOpen()
	c.Execute(ok)
	require.Equal(t, []string{"a", "b"}, r.OpenCircuits())

	r.ResetAll()
	assert.Empty(t, r.OpenCircuits())
	for name, m := range r.AllMetrics() {
		assert.Equal(t, cb.Closed, m.State, name)
		assert.False(t, m.Forced, name)
		assert.Zero(t, m.Calls, "%s: window not emptied", name)
	}
	// Lifetime totals survive a reset.
	assert.EqualValues(t, 1, a.Metrics().TotalFailures)
	assert.EqualValues(t, 1, c.Metrics().TotalCalls)

	// The empty registry's ResetAll does nothing, without failing.
	registry.New().ResetAll()
}

func TestAllMetrics(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	a, err := registry.Get[int](r, "a", cfg)
	require.NoError(t, err)
	b, err := registry.Get[float64](r, "b", cfg)
	require.NoError(t, err)

	a.Execute(ok)
	a.Execute(ok)
	b.Execute(func() (float64, error) { return 0, errBoom })
	b.Execute(func() (float64, error) { return 1, nil }) // rejected

	all := r.AllMetrics()
	require.Len(t, all, 2)
	assert.Equal(t, a.Metrics(), all["a"])
	assert.Equal(t, b.Metrics(), all["b"])
	assert.Equal(t, "a", all["a"].Name)
	assert.EqualValues(t, 2, all["a"].TotalCalls)
	assert.Equal(t, cb.Closed, all["a"].State)
	assert.EqualValues(t, 1, all["b"].TotalFailures)
	assert.EqualValues(t, 1, all["b"].TotalRejected)
	assert.Equal(t, cb.Open, all["b"].State)
	assert.Equal(t, time.Minute, all["b"].RetryAfter)

	// A fresh map each time: changing it changes nothing else.
	delete(all, "a")
	assert.Len(t, r.AllMetrics(), 2)
}

func TestOpenCircuits(t *testing.T) {
	r := registry.New()
	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	breakers := map[string]*cb.Breaker[int]{}
	for _, n := range []string{"delta", "alpha", "charlie", "bravo", "echo"} {
		b, err := registry.Get[int](r, n, cfg)
		require.NoError(t, err)
		breakers[n] = b
	}
	assert.Empty(t, r.OpenCircuits())

	breakers["delta"].Execute(fail)
	breakers["bravo"].Execute(fail)
	breakers["echo"].ForceHalfOpen() // probing: not open
	assert.Equal(t, []string{"bravo", "delta"}, r.OpenCircuits())

	// Forced open counts, and holds past the open timeout.
	breakers["alpha"].ForceOpen()
	clk.Advance(30 * time.Second)
	breakers["charlie"].Execute(fail)
	assert.Equal(t, []string{"alpha", "bravo", "charlie", "delta"}, r.OpenCircuits())

	// Past their open timeout, bravo and delta read half-open.
	clk.Advance(30 * time.Second)
	assert.Equal(t, []string{"alpha", "charlie"}, r.OpenCircuits())
	assert.Equal(t, cb.HalfOpen, breakers["bravo"].State())
}

func TestHealth(t *testing.T) {
	r := registry.New()
	assert.Equal(t, registry.Health{HealthyPercent: 100}, r.Health(), "empty")

	clk := cbtest.NewClock()
	cfg := tripConfig(clk)
	get := func(name string) *cb.Breaker[int] {
		t.Helper()
		b, err := registry.Get[int](r, name, cfg)
		require.NoError(t, err)
		return b
	}

	get("a")
	assert.Equal(t, registry.Health{Total: 1, Closed: 1, HealthyPercent: 100}, r.Health())

	get("b").Execute(fail)
	assert.Equal(t, registry.Health{Total: 2, Closed: 1, Open: 1, HealthyPercent: 50}, r.Health())

	get("c").ForceHalfOpen()
	assert.Equal(t, registry.Health{Total: 3, Closed: 1, Open: 1, HalfOpen: 1, HealthyPercent: 200.0 / 3}, r.Health())

	get("d")
	assert.Equal(t, registry.Health{Total: 4, Closed: 2, Open: 1, HalfOpen: 1, HealthyPercent: 75}, r.Health())

	get("a").ForceOpen()
	get("d").Execute(fail)
	assert.Equal(t, registry.Health{Total: 4, Open: 3, HalfOpen: 1, HealthyPercent: 25}, r.Health())

	get("c").ForceOpen()
	assert.Equal(t, registry.Health{Total: 4, Open: 4, HealthyPercent: 0}, r.Health())

	// b and d reach their open timeout; a and c are held open.
	clk.Advance(time.Minute)
	assert.Equal(t, registry.Health{Total: 4, Open: 2, HalfOpen: 2, HealthyPercent: 50}, r.Health())

	r.ResetAll()
	assert.Equal(t, registry.Health{Total: 4, Closed: 4, HealthyPercent: 100}, r.Health())
}
