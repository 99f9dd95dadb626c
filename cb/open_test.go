package cb_test

// Open: calls are rejected with a *OpenError (matching ErrOpen) and
// RetryAfter, the open time left, which OpenError.RetryAfter also reads
// when asked. At the deadline the breaker is half-open, the transition
// dated there and made by whoever looks first. The open time is
// OpenTimeout, doubled after each failed half-open episode up to
// MaxOpenTimeout; closing, ForceClosed and Reset return it to OpenTimeout.
// Every test that makes calls runs through every entry point.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

func TestOpenRejectsWithTimeLeft(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second})
		f.call(2*time.Second, errBoom) // trips at 2s, when the call ends
		require.Equal(t, cb.Open, f.b.State())

		f.at(12 * time.Second)
		r := f.ok()
		assert.Equal(t, cb.Rejected, r.Outcome)
		assert.Equal(t, cb.Open, r.State)
		assert.Equal(t, 20*time.Second, r.RetryAfter)
		assert.Equal(t, time.Duration(0), r.Duration)
		assert.Equal(t, 0, r.Value)
		assert.False(t, r.Slow)
		assert.False(t, r.Stale)
		require.ErrorIs(t, r.Err, cb.ErrOpen)
		var oe *cb.OpenError
		require.ErrorAs(t, r.Err, &oe)
		assert.Equal(t, [2]any{"rules", cb.Open}, [2]any{oe.Name, oe.State})
		assert.EqualError(t, r.Err, `tripswitch: circuit "rules" is open`)

		f.at(32*time.Second - 1)
		r2 := f.ok()
		assert.Equal(t, time.Duration(1), r2.RetryAfter)
		assert.Same(t, r.Err, r2.Err, "the *OpenError is preallocated")
		f.rejected(cb.Open)

		m := f.m()
		assert.Equal(t, time.Duration(1), m.RetryAfter)
		assert.Equal(t, uint64(3), m.TotalRejected)
		assert.Equal(t, uint64(1), m.TotalCalls, "rejections are not calls")
		assert.Len(t, f.events, 1)
	})
}

// At openedAt+OpenTimeout the breaker is HalfOpen, and whichever of State,
// Metrics or a call through any entry point looks first makes the
// transition, once.
func TestOpenBecomesHalfOpenAtTheDeadline(t *testing.T) {
	test := func(t *testing.T, via entryPoint, observe func(f *ruleFixture) cb.State) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, SuccessThreshold: 5})
		f.at(time.Second)
		f.fail() // opened at 1s
		f.at(11*time.Second - 1)
		assert.Equal(t, cb.Open, observe(f))
		require.Len(t, f.events, 1)
		f.at(11 * time.Second)
		assert.Equal(t, cb.HalfOpen, observe(f))
		require.Len(t, f.events, 2)
		assert.Equal(t, cb.Transition{Name: "rules", From: cb.Open, To: cb.HalfOpen, Generation: 2, Reason: cb.ReasonOpenTimeout}, f.events[1])
		for range 10 {
			assert.Equal(t, cb.HalfOpen, f.b.State())
			assert.Equal(t, cb.HalfOpen, f.m().State)
		}
		assert.Len(t, f.events, 2, "one event per transition, however many look")
		assert.Equal(t, uint64(2), f.m().Generation)
	}
	t.Run("State", func(t *testing.T) {
		test(t, throughExecute, func(f *ruleFixture) cb.State { return f.b.State() })
	})
	t.Run("Metrics", func(t *testing.T) {
		test(t, throughExecute, func(f *ruleFixture) cb.State { return f.m().State })
	})
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		test(t, via, func(f *ruleFixture) cb.State { return f.ok().State }) // the state that admitted or refused it
	})
}

// The transition is dated at the deadline, not when it is noticed.
func TestOpenTransitionDatedAtDeadline(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second, HalfOpenTimeout: time.Minute})
		f.fail()
		f.at(14 * time.Second)
		m := f.m()
		assert.Equal(t, cb.HalfOpen, m.State)
		assert.Equal(t, 4*time.Second, m.StateSince)
		assert.Equal(t, time.Duration(0), m.RetryAfter)
	})
}

// OpenError.RetryAfter tells a caller of Call (or of an HTTP client using
// the Transport) when to retry, read from the breaker when asked, without
// allocating: the same figure Execute's CallResult gives.
func TestOpenErrorRetryAfter(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 10 * time.Second})
	f.fail()
	f.at(3 * time.Second)
	_, err := f.b.Call(fnOK)
	var oe *cb.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, 7*time.Second, oe.RetryAfter())
	assert.Equal(t, f.ok().RetryAfter, oe.RetryAfter())
	f.at(9 * time.Second)
	assert.Equal(t, time.Second, oe.RetryAfter(), "read when asked")
	f.at(10 * time.Second)
	assert.Equal(t, time.Duration(0), oe.RetryAfter(), "a probe may be admitted now")

	f.b.ForceOpen()
	_, err = f.b.Call(fnOK)
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, time.Duration(0), oe.RetryAfter(), "held open: no time is known")

	f.b.Reset()
	f.fail()
	_, err = f.b.Call(fnOK)
	require.ErrorAs(t, err, &oe)
	allocs := testing.AllocsPerRun(100, func() {
		_, err := f.b.Call(fnOK)
		if oe, ok := err.(*cb.OpenError); ok { //nolint:errorlint // the breaker's own error, unwrapped
			_ = oe.RetryAfter()
		}
	})
	assert.Zero(t, allocs, "a rejection and its RetryAfter allocate nothing")

	var handMade cb.OpenError
	assert.Equal(t, time.Duration(0), handMade.RetryAfter())
}

// --- Backoff --------------------------------------------------------------

func TestBackoffDoublesUpToMaxOpenTimeout(t *testing.T) {
	tests := []struct {
		name string
		max  time.Duration
		want []time.Duration // open time of each successive failed episode
	}{
		{"no backoff", 0, []time.Duration{1, 1, 1, 1, 1}},
		{"cap equal to OpenTimeout", 1, []time.Duration{1, 1, 1, 1}},
		{"cap 3s", 3, []time.Duration{1, 2, 3, 3, 3}},
		{"cap 5s", 5, []time.Duration{1, 2, 4, 5, 5, 5}},
		{"cap 8s", 8, []time.Duration{1, 2, 4, 8, 8}},
		{"cap 1h", 3600, []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600}},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{
					ConsecutiveFailures: 1, SuccessThreshold: 1,
					OpenTimeout: time.Second, MaxOpenTimeout: tc.max * time.Second,
				})
				f.fail()
				for i, w := range tc.want {
					open := w * time.Second
					opened := f.clk.Now()
					m := f.m()
					require.Equal(t, cb.Open, m.State, "episode %d", i)
					require.Equal(t, open, m.RetryAfter, "open time %d", i)
					f.at(opened + open - 1)
					require.Equal(t, cb.Open, f.b.State(), "episode %d", i)
					require.Equal(t, time.Duration(1), f.ok().RetryAfter)
					f.at(opened + open)
					require.Equal(t, cb.HalfOpen, f.b.State(), "episode %d", i)
					r := f.fail()
					require.Equal(t, cb.HalfOpen, r.State)
				}
				// Closing returns the open time to OpenTimeout.
				last := tc.want[len(tc.want)-1] * time.Second
				f.at(f.clk.Now() + last)
				r := f.ok()
				require.Equal(t, cb.HalfOpen, r.State)
				require.Equal(t, cb.Closed, f.b.State())
				f.fail()
				assert.Equal(t, time.Second, f.m().RetryAfter)
			})
		}
	})
}

// backoffTo fails half-open episodes until the open time is want.
func backoffTo(t *testing.T, f *ruleFixture, want time.Duration) {
	t.Helper()
	f.trip()
	for range 10 {
		m := f.m()
		if m.RetryAfter == want {
			return
		}
		f.at(f.clk.Now() + m.RetryAfter)
		require.Equal(t, cb.HalfOpen, f.fail().State)
	}
	t.Fatalf("open time never reached %v", want)
}

// The backoff returns to OpenTimeout on ForceClosed and Reset; ForceOpen and
// ForceHalfOpen keep it (the package docs' decision for ForceHalfOpen).
func TestBackoffResets(t *testing.T) {
	tests := []struct {
		name string
		op   func(b *cb.Breaker[int])
		want time.Duration // open time of the next trip or failed probe
	}{
		{"ForceClosed", func(b *cb.Breaker[int]) { b.ForceClosed() }, time.Second},
		{"Reset", func(b *cb.Breaker[int]) { b.Reset() }, time.Second},
		{"ForceClosed, then a failed ForceHalfOpen episode", func(b *cb.Breaker[int]) { b.ForceClosed(); b.ForceHalfOpen() }, 2 * time.Second},
		{"Reset, then a failed ForceHalfOpen episode", func(b *cb.Breaker[int]) { b.Reset(); b.ForceHalfOpen() }, 2 * time.Second},
		{"ForceHalfOpen keeps the level", func(b *cb.Breaker[int]) { b.ForceHalfOpen() }, 8 * time.Second},
		{"ForceOpen then ForceHalfOpen keep the level", func(b *cb.Breaker[int]) { b.ForceOpen(); b.ForceHalfOpen() }, 8 * time.Second},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, SuccessThreshold: 1, OpenTimeout: time.Second, MaxOpenTimeout: time.Minute})
				backoffTo(t, f, 4*time.Second)
				tc.op(f.b)
				f.fail() // trips from closed, or fails the probe
				m := f.m()
				require.Equal(t, cb.Open, m.State)
				assert.Equal(t, tc.want, m.RetryAfter)
			})
		}
	})
}

// The open time keeps doubling until it reaches MaxOpenTimeout, however
// many failed episodes that takes.
func TestBackoffReachesALargeCap(t *testing.T) {
	const maxOpen = 1000 * time.Hour
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, SuccessThreshold: 1, OpenTimeout: time.Millisecond, MaxOpenTimeout: maxOpen})
		f.fail()
		want := time.Millisecond
		for i := range 40 {
			m := f.m()
			require.Equal(t, cb.Open, m.State)
			require.Equal(t, want, m.RetryAfter, "open time after %d failed episodes", i)
			f.at(f.clk.Now() + want)
			require.Equal(t, cb.HalfOpen, f.fail().State)
			want = min(2*want, maxOpen)
		}
		assert.Equal(t, maxOpen, want)
	})
}
