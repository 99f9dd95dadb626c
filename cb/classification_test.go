package cb_test

// Outcomes: what becomes of a call's result, through every entry point
// alike. A nil error is a success; with WithClassifier the classifier
// alone decides; otherwise IsIgnored is asked first (by default
// context.Canceled is ignored), then IsFailure (by default any error
// fails), and neither is asked about a nil error. A panic in fn or in a
// classifier is a failure (returning any probe permit), and the panic goes
// on. ExecuteContext refuses a context already done before admission. A
// nil func or Context is the caller's mistake: it panics before admission
// and counts nothing. A Permit's Done counts once per copy.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// Every entry point counts alike: the same calls through each leave the
// same results and Metrics, step by step, in every state the sequence
// passes through, as through Execute. (The fixture checks that Call
// returns exactly what fn returned or, rejected, the breaker's *OpenError
// without running fn.) Where a call enters the window, Call and Allow/Done
// show whether it was slow.
func TestEveryEntryPointCountsAlike(t *testing.T) {
	cfg := cb.Config{ConsecutiveFailures: 3, OpenTimeout: time.Second, SuccessThreshold: 2, SlowCallDuration: 10 * time.Millisecond}
	steps := []struct {
		name     string
		call     callSpec
		windowed bool          // the call enters the window, which grows by it
		advance  time.Duration // after the call
	}{
		{"success", callSpec{v: 1}, true, 0},
		{"slow success", callSpec{d: 20 * time.Millisecond, v: 2}, true, 0},
		{"ignored", callSpec{err: fmt.Errorf("gave up: %w", context.Canceled)}, false, 0},
		{"failure", callSpec{err: errBoom}, true, 0},
		{"slow failure", callSpec{d: 20 * time.Millisecond, err: errBoom}, true, 0},
		{"failure trips", callSpec{err: errBoom}, true, 0},
		{"rejected", callSpec{v: 9}, false, time.Second},
		{"probe", callSpec{v: 3}, false, 0},
		{"probe closes", callSpec{v: 4}, false, 0},
		{"closed again", callSpec{v: 5}, true, 0},
	}
	throughEach(t, entryPoints[1:], func(t *testing.T, via entryPoint) {
		ref := newRuleFixture(t, throughExecute, cfg)
		f := newRuleFixture(t, via, cfg)
		for _, s := range steps {
			want, got := ref.do(s.call), f.do(s.call)
			if s.windowed {
				assert.Zero(t, got.hides&hidesSlow, "%s: a call entering the window shows whether it was slow", s.name)
			}
			seen := got.CallResult
			if got.hides&hidesDuration != 0 {
				seen.Duration = want.Duration
			}
			if got.hides&hidesSlow != 0 {
				seen.Slow = want.Slow
			}
			if got.hides&hidesOutcome != 0 {
				seen.Outcome = want.Outcome
			}
			assert.Equal(t, fmt.Sprint(want.Err), fmt.Sprint(seen.Err), s.name) // the breakers' *OpenErrors are their own
			want.Err, seen.Err = nil, nil
			assert.Equal(t, want.CallResult, seen, "%s: what %v shows is what Execute returns", s.name, via)
			ref.clk.Advance(s.advance)
			f.clk.Advance(s.advance)
			assert.Equal(t, ref.m(), f.m(), s.name)
		}
		assert.Equal(t, cb.Closed, f.b.State())
		assert.Equal(t, uint64(8), f.m().TotalCalls)
		assert.Equal(t, ref.events, f.events)
	})
}

// The default classification: nil succeeds, context.Canceled (wrapped or
// not) is ignored, everything else fails, closed or as a probe.
func TestDefaultClassification(t *testing.T) {
	tests := []struct {
		err     error
		outcome cb.Outcome
	}{
		{nil, cb.Success},
		{context.Canceled, cb.Ignored},
		{fmt.Errorf("x: %w", context.Canceled), cb.Ignored},
		{errors.Join(errBoom, context.Canceled), cb.Ignored},
		{context.DeadlineExceeded, cb.Failure},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), cb.Failure},
		{errBoom, cb.Failure},
		{errors.New(context.Canceled.Error()), cb.Failure}, // the same text is not the same error
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{})
				assert.Equal(t, tc.outcome, f.call(0, tc.err).Outcome)
				f.b.ForceHalfOpen()
				assert.Equal(t, tc.outcome, f.call(0, tc.err).Outcome, "as a probe")
			})
		}
	})
}

// With WithClassifier, the classifier alone decides: IsFailure and
// IsIgnored are not asked, a nil error can fail, and a Rejected (or
// unknown) outcome is a failure.
func TestWithClassifierAloneDecides(t *testing.T) {
	asked := 0
	cfg := cb.Config{
		ConsecutiveFailures: cb.Off, MinimumCalls: 100,
		IsFailure: func(error) bool { asked++; return true },
		IsIgnored: func(error) bool { asked++; return true },
	}
	classify := func(v int, err error) cb.Outcome {
		switch {
		case v == -1:
			return cb.Failure // a nil error can fail
		case v == -2:
			return cb.Ignored
		case v == -3:
			return cb.Rejected
		case v == -4:
			return cb.Outcome(200)
		case errors.Is(err, errBoom):
			return cb.Success // an error can succeed
		}
		return cb.Success
	}
	tests := []struct {
		v       int
		err     error
		outcome cb.Outcome
	}{
		{1, nil, cb.Success},
		{-1, nil, cb.Failure},
		{-2, nil, cb.Ignored},
		{-2, context.DeadlineExceeded, cb.Ignored},
		{-3, nil, cb.Failure},
		{-4, nil, cb.Failure},
		{1, errBoom, cb.Success},
		{1, context.Canceled, cb.Success},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(fmt.Sprint(tc.v, tc.err), func(t *testing.T) {
				f := newRuleFixture(t, via, cfg, cb.WithClassifier(classify))
				r := f.do(callSpec{v: tc.v, err: tc.err})
				assert.Equal(t, tc.outcome, r.Outcome)
				m := f.m()
				switch tc.outcome {
				case cb.Success:
					assert.Equal(t, windowOf{1, 1, 0, 0}, f.window())
				case cb.Failure:
					assert.Equal(t, windowOf{1, 0, 1, 0}, f.window())
					assert.Equal(t, uint64(1), m.TotalFailures)
				case cb.Ignored:
					assert.Equal(t, windowOf{}, f.window())
					assert.Equal(t, uint64(1), m.TotalIgnored)
				}
				assert.Equal(t, uint64(0), m.TotalRejected, "a Rejected from the classifier is no rejection")
			})
		}
	})
	assert.Equal(t, 0, asked, "IsFailure and IsIgnored are not asked with a classifier")
}

// A classifier's failures trip like any other.
func TestWithClassifierFailuresTrip(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 2}, cb.WithClassifier(func(v int, _ error) cb.Outcome {
			if v < 0 {
				return cb.Failure
			}
			return cb.Success
		}))
		f.do(callSpec{v: -1})
		f.do(callSpec{v: -1})
		assert.Equal(t, cb.Open, f.b.State())
	})
}

// Without a classifier, IsIgnored is asked first, then IsFailure.
func TestIsIgnoredThenIsFailure(t *testing.T) {
	errSkip := errors.New("skip")
	errSoft := errors.New("soft")
	var order []string
	cfg := cb.Config{
		ConsecutiveFailures: cb.Off, MinimumCalls: 100,
		IsIgnored: func(err error) bool { order = append(order, "ignored"); return errors.Is(err, errSkip) },
		IsFailure: func(err error) bool {
			order = append(order, "failure")
			return err != nil && !errors.Is(err, errSoft)
		},
	}
	tests := []struct {
		err     error
		outcome cb.Outcome
		asked   []string
	}{
		{errSkip, cb.Ignored, []string{"ignored"}},
		{fmt.Errorf("%w and %w", errSkip, errBoom), cb.Ignored, []string{"ignored"}},
		{errBoom, cb.Failure, []string{"ignored", "failure"}},
		{errSoft, cb.Success, []string{"ignored", "failure"}},
		{context.Canceled, cb.Failure, []string{"ignored", "failure"}}, // a custom IsIgnored replaces the default
		{nil, cb.Success, nil}, // a nil error is a success without asking
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, tc := range tests {
			t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
				f := newRuleFixture(t, via, cfg)
				order = nil
				r := f.call(0, tc.err)
				assert.Equal(t, tc.outcome, r.Outcome)
				assert.Equal(t, tc.asked, order)
			})
		}
	})
}

// A custom IsFailure returning false makes errors successes; the default
// IsIgnored still applies.
func TestCustomIsFailure(t *testing.T) {
	errNotFound := errors.New("not found")
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 1,
			IsFailure:           func(err error) bool { return err != nil && !errors.Is(err, errNotFound) },
		})
		for range 10 {
			r := f.call(0, errNotFound)
			require.Equal(t, cb.Success, r.Outcome)
		}
		r := f.call(0, context.Canceled)
		assert.Equal(t, cb.Ignored, r.Outcome)
		m := f.m()
		assert.Equal(t, cb.Closed, m.State)
		assert.Equal(t, windowOf{10, 10, 0, 0}, f.window())
		assert.Equal(t, uint64(10), m.ConsecutiveSuccesses)
		assert.Equal(t, uint64(1), m.TotalIgnored)
		f.fail()
		assert.Equal(t, cb.Open, f.b.State())
	})
}

// A config that sets only IsIgnored keeps the default IsFailure (any error
// not ignored fails; nil succeeds): a user who only wants one more error
// ignored must not lose failure detection. The custom IsIgnored replaces
// the default one, so context.Canceled then counts as a failure.
func TestCustomIsIgnoredKeepsDefaultIsFailure(t *testing.T) {
	errBusy := errors.New("busy: try later")
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 3,
			IsIgnored:           func(err error) bool { return errors.Is(err, errBusy) },
		})

		r := f.call(0, errBusy)
		assert.Equal(t, cb.Ignored, r.Outcome, "the custom IsIgnored decides first")
		r = f.ok()
		assert.Equal(t, cb.Success, r.Outcome, "a nil error succeeds")
		r = f.fail()
		assert.Equal(t, cb.Failure, r.Outcome, "an error not ignored fails, as by default")
		r = f.call(0, context.Canceled)
		assert.Equal(t, cb.Failure, r.Outcome, "the default IsIgnored is replaced, not added to")

		m := f.m()
		assert.Equal(t, uint64(1), m.TotalIgnored)
		assert.Equal(t, uint64(3), m.TotalCalls)
		assert.Equal(t, uint64(2), m.ConsecutiveFailures)
		require.Equal(t, cb.Closed, m.State)
		f.fail()
		assert.Equal(t, cb.Open, f.b.State(), "the failures IsFailure saw trip the breaker")
	})
}

// IsFailure and IsIgnored are asked only about non-nil errors, so the
// natural predicates work: a nil error is a success without asking.
func TestIsFailureAndIsIgnoredNeverSeeNil(t *testing.T) {
	errNotFound := errors.New("not found")
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 1,
			IsFailure:           func(err error) bool { return !errors.Is(err, errNotFound) },
			IsIgnored: func(err error) bool {
				assert.Error(t, err, "IsIgnored asked about nil")
				return false
			},
		})
		for range 5 {
			assert.Equal(t, cb.Success, f.ok().Outcome)
		}
		assert.Equal(t, cb.Success, f.call(0, errNotFound).Outcome)
		assert.Equal(t, cb.Closed, f.b.State())
		assert.Equal(t, cb.Failure, f.fail().Outcome)
		assert.Equal(t, cb.Open, f.b.State())
	})
}

// --- Panics ---------------------------------------------------------------

// A panic in fn is a failure, fast or slow, and the panic goes on with its
// value.
func TestPanicCountsAsFailureAndRepanics(t *testing.T) {
	type panicValue struct{ s string }
	err := errors.New("panic error value")
	values := []any{"text", 42, panicValue{"v"}, err}
	throughEach(t, fnEntryPoints, func(t *testing.T, via entryPoint) {
		for _, v := range values {
			t.Run(fmt.Sprintf("%T", v), func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 2, SlowCallDuration: time.Second})
				f.panics(v, callSpec{panicValue: v})
				m := f.m()
				assert.Equal(t, cb.Closed, m.State)
				assert.Equal(t, windowOf{1, 0, 1, 0}, f.window())
				assert.Equal(t, uint64(1), m.TotalFailures)
				assert.Equal(t, uint64(1), m.ConsecutiveFailures)

				f.panics(v, callSpec{d: 2 * time.Second, panicValue: v}) // a slow panic
				m = f.m()
				assert.Equal(t, cb.Open, m.State, "the second failure in a row trips")
				assert.Equal(t, windowOf{2, 0, 2, 1}, f.window())
				require.Len(t, f.events, 1)
				assert.Equal(t, cb.ReasonConsecutiveFailures, f.events[0].Reason)
			})
		}
	})
}

// classifierPanic is what the classifiers under test panic with.
type classifierPanic struct{}

// panicking are the three ways a user's classification code can panic.
var panicking = map[string]struct {
	cfg  cb.Config
	opts []cb.Option[int]
}{
	"WithClassifier": {opts: []cb.Option[int]{cb.WithClassifier(func(int, error) cb.Outcome { panic(classifierPanic{}) })}},
	"IsFailure":      {cfg: cb.Config{IsFailure: func(error) bool { panic(classifierPanic{}) }}},
	"IsIgnored":      {cfg: cb.Config{IsIgnored: func(error) bool { panic(classifierPanic{}) }}},
}

// A classifier that panics counts the call as a failure, as a panic in fn
// does, and the panic goes on: in the closed state the failure counts in
// the window and the streak, and every call stays exactly one of counted,
// rejected, ignored or stale.
func TestPanickingClassifierCountsAFailureWhenClosed(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, p := range panicking {
			t.Run(name, func(t *testing.T) {
				cfg := p.cfg
				cfg.ConsecutiveFailures = 2
				f := newRuleFixture(t, via, cfg, p.opts...)
				for i := range uint64(2) {
					f.panics(classifierPanic{}, callSpec{v: 1, err: errBoom})
					m := f.m()
					assert.Equal(t, i+1, m.TotalCalls, "counted")
					assert.Equal(t, i+1, m.TotalFailures, "as a failure")
					assert.Equal(t, i+1, m.Failures, "in the window")
					assert.Zero(t, m.TotalIgnored+m.TotalStale+m.TotalRejected)
				}
				assert.Equal(t, cb.Open, f.b.State(), "the second failure in a row trips")
			})
		}
	})
}

// In half-open, a panicking classifier fails the probe: the breaker
// reopens at once instead of keeping a permit that no one returns, which
// would reject every call until HalfOpenTimeout.
func TestPanickingClassifierFailsTheProbe(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for name, p := range panicking {
			t.Run(name, func(t *testing.T) {
				cfg := p.cfg
				cfg.ConsecutiveFailures, cfg.OpenTimeout, cfg.SuccessThreshold = 1, time.Second, 2
				f := newRuleFixture(t, via, cfg, p.opts...)
				f.b.ForceHalfOpen()
				f.panics(classifierPanic{}, callSpec{v: 1, err: errBoom})
				m := f.m()
				assert.Equal(t, cb.Open, m.State, "the probe failed")
				assert.Equal(t, 0, m.HalfOpenInFlight)
				assert.Equal(t, uint64(1), m.TotalFailures)
				assert.Equal(t, cb.ReasonProbeFailed, f.lastEvent().Reason)
			})
		}
	})
}

// --- Contexts -------------------------------------------------------------

// A ctx already done is refused before admission: fn does not run, no
// permit is taken, and the call is counted as ignored alone.
func TestExecuteContextRefusesDoneContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	cause := errors.New("cause")
	withCause, cancel3 := context.WithCancelCause(context.Background())
	cancel3(cause)
	contexts := map[string]struct {
		ctx context.Context
		err error
	}{
		"cancelled":          {cancelled, context.Canceled},
		"deadline exceeded":  {expired, context.DeadlineExceeded},
		"cancelled by cause": {withCause, context.Canceled},
	}
	states := map[string]func(f *ruleFixture){
		"closed":    func(*ruleFixture) {},
		"half-open": func(f *ruleFixture) { f.b.ForceHalfOpen() },
		"open":      func(f *ruleFixture) { f.b.ForceOpen() },
	}
	for cname, c := range contexts {
		for sname, setup := range states {
			t.Run(cname+" when "+sname, func(t *testing.T) {
				f := newRuleFixture(t, throughExecuteContext, cb.Config{SuccessThreshold: 1})
				setup(f)
				before := f.m()
				v, r := f.b.ExecuteContext(c.ctx, func(context.Context) (int, error) {
					t.Error("fn must not run")
					return 1, nil
				})
				assert.Equal(t, 0, v)
				assert.Equal(t, cb.Ignored, r.Outcome)
				assert.Equal(t, c.err, r.Err)
				assert.Equal(t, time.Duration(0), r.Duration)
				assert.False(t, r.Stale)
				m := f.m()
				assert.Equal(t, before.TotalIgnored+1, m.TotalIgnored)
				assert.Equal(t, before.TotalCalls, m.TotalCalls)
				assert.Equal(t, before.TotalRejected, m.TotalRejected)
				assert.Equal(t, before.Generation, m.Generation)
				assert.Equal(t, before.State, m.State)
				assert.Equal(t, 0, m.HalfOpenInFlight, "no permit taken")
				if sname == "half-open" {
					p := f.allow() // the one permit is still there
					p.Done(1, nil)
					assert.Equal(t, cb.Closed, f.b.State())
				}
			})
		}
	}
}

// fn gets the ctx; cancellation it reports is ignored, a deadline exceeded
// is a failure.
func TestExecuteContextOutcomes(t *testing.T) {
	type key struct{}
	tests := []struct {
		name    string
		err     error
		outcome cb.Outcome
	}{
		{"nil", nil, cb.Success},
		{"context.Canceled", context.Canceled, cb.Ignored},
		{"wrapped context.Canceled", fmt.Errorf("query: %w", context.Canceled), cb.Ignored},
		{"joined context.Canceled", errors.Join(errBoom, context.Canceled), cb.Ignored},
		{"context.DeadlineExceeded", context.DeadlineExceeded, cb.Failure},
		{"wrapped context.DeadlineExceeded", fmt.Errorf("query: %w", context.DeadlineExceeded), cb.Failure},
		{"other error", errBoom, cb.Failure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newRuleFixture(t, throughExecuteContext, cb.Config{})
			ctx := context.WithValue(context.Background(), key{}, "v")
			v, r := f.b.ExecuteContext(ctx, func(got context.Context) (int, error) {
				assert.Equal(t, "v", got.Value(key{}))
				f.clk.Advance(3 * time.Millisecond)
				return 5, tc.err
			})
			assert.Equal(t, 5, v)
			assert.Equal(t, 5, r.Value)
			assert.Equal(t, tc.outcome, r.Outcome)
			assert.Equal(t, tc.err, r.Err)
			assert.Equal(t, cb.Closed, r.State)
			assert.Equal(t, 3*time.Millisecond, r.Duration)
			m := f.m()
			switch tc.outcome {
			case cb.Ignored:
				assert.Equal(t, uint64(1), m.TotalIgnored)
				assert.Equal(t, uint64(0), m.TotalCalls)
				assert.Equal(t, windowOf{}, f.window())
			case cb.Failure:
				assert.Equal(t, uint64(1), m.TotalFailures)
				assert.Equal(t, windowOf{1, 0, 1, 0}, f.window())
			default:
				assert.Equal(t, windowOf{1, 1, 0, 0}, f.window())
			}
		})
	}
}

// --- Mistakes -------------------------------------------------------------

// A nil func or Context is the caller's mistake, not the dependency's: it
// panics before admission, with a message naming it, and counts nothing,
// so no number of them can open the breaker or take a probe permit.
func TestNilFuncOrContextPanicsBeforeAdmission(t *testing.T) {
	for _, state := range []cb.State{cb.Closed, cb.HalfOpen} {
		f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1, SuccessThreshold: 1})
		if state == cb.HalfOpen {
			f.b.ForceHalfOpen()
		}
		before := f.m()
		var nilCtx context.Context
		for range 10 {
			require.PanicsWithValue(t, "tripswitch: Execute called with a nil func", func() { f.b.Execute(nil) })
			require.PanicsWithValue(t, "tripswitch: Call called with a nil func", func() { _, _ = f.b.Call(nil) })
			require.PanicsWithValue(t, "tripswitch: ExecuteContext called with a nil func", func() {
				f.b.ExecuteContext(context.Background(), nil)
			})
			require.PanicsWithValue(t, "tripswitch: ExecuteContext called with a nil Context", func() {
				f.b.ExecuteContext(nilCtx, func(context.Context) (int, error) { return 1, nil })
			})
		}
		assert.Equal(t, before, f.m(), "in %v, nothing was counted or taken", state)
	}
}

// --- Permits --------------------------------------------------------------

func TestPermitDoneCountsOnce(t *testing.T) {
	f := newRuleFixture(t, throughAllowDone, cb.Config{ConsecutiveFailures: 2})
	p := f.allow()
	f.clk.Advance(time.Second)
	p.Done(1, errBoom)
	p.Done(1, errBoom) // nothing
	p.Done(1, nil)     // nothing
	m := f.m()
	assert.Equal(t, cb.Closed, m.State, "one failure of two")
	assert.Equal(t, uint64(1), m.TotalCalls)
	assert.Equal(t, uint64(1), m.TotalFailures)
	assert.Equal(t, uint64(1), m.ConsecutiveFailures)
	assert.Equal(t, uint64(0), m.ConsecutiveSuccesses)
}

// A half-open probe permit counts once too: a second Done does not take
// another success.
func TestPermitDoneTwiceInHalfOpen(t *testing.T) {
	f := newRuleFixture(t, throughAllowDone, cb.Config{SuccessThreshold: 2})
	f.b.ForceHalfOpen()
	p := f.allow()
	p.Done(1, nil)
	p.Done(1, nil)
	m := f.m()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, uint64(1), m.TotalCalls)
	assert.Equal(t, uint64(1), m.ConsecutiveSuccesses)
}

func TestZeroPermitDoneDoesNothing(t *testing.T) {
	f := newRuleFixture(t, throughAllowDone, cb.Config{})
	var p cb.Permit[int]
	require.NotPanics(t, func() {
		p.Done(1, nil)
		p.Done(0, errBoom)
	})
	assert.Equal(t, cb.Metrics{Name: "rules", State: cb.Closed}, f.m())
}

// A refused Allow returns the zero Permit, whose Done does nothing.
func TestAllowWhenOpen(t *testing.T) {
	f := newRuleFixture(t, throughAllowDone, cb.Config{ConsecutiveFailures: 1})
	f.fail()
	p, err := f.b.Allow()
	require.ErrorIs(t, err, cb.ErrOpen)
	var oe *cb.OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, [2]any{"rules", cb.Open}, [2]any{oe.Name, oe.State})
	assert.Equal(t, cb.Permit[int]{}, p)
	p.Done(1, nil) // a zero Permit
	m := f.m()
	assert.Equal(t, uint64(1), m.TotalRejected)
	assert.Equal(t, uint64(1), m.TotalCalls)
}

// A Permit is a value: Done on one copy does not stop Done on another, and
// each counts. Keeping one copy (or passing a *Permit) is the caller's
// part; here is what happens otherwise, as the Permit doc says.
func TestPermitCopiesCountEachDone(t *testing.T) {
	f := newRuleFixture(t, throughAllowDone, cb.Config{ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off})
	p, err := f.b.Allow()
	require.NoError(t, err)
	q := p
	p.Done(1, nil)
	p.Done(1, nil) // the same copy again: nothing
	q.Done(1, nil) // another copy: counted again
	assert.Equal(t, uint64(2), f.m().TotalCalls)
}
