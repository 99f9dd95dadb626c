package cb_test

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

// --- Permit ---------------------------------------------------------------

func TestPermitDoneCountsOnce(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 2})
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

func TestZeroPermitDoneDoesNothing(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{})
	var p cb.Permit[int]
	require.NotPanics(t, func() {
		p.Done(1, nil)
		p.Done(0, errBoom)
	})
	assert.Equal(t, cb.Metrics{Name: "rules", State: cb.Closed}, f.m())
}

// A half-open probe permit counts once too: a second Done does not take
// another success.
func TestPermitDoneTwiceInHalfOpen(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{SuccessThreshold: 2})
	f.b.ForceHalfOpen()
	p := f.allow()
	p.Done(1, nil)
	p.Done(1, nil)
	m := f.m()
	assert.Equal(t, cb.HalfOpen, m.State)
	assert.Equal(t, uint64(1), m.TotalCalls)
	assert.Equal(t, uint64(1), m.ConsecutiveSuccesses)
}

func TestAllowWhenOpen(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 1})
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

// Done classifies as Execute does, and measures from Allow.
func TestPermitClassifiesAsExecute(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{SlowCallDuration: time.Second, ConsecutiveFailures: cb.Off, MinimumCalls: 100})
	f.allow().Done(1, nil)
	f.allow().Done(1, errBoom)
	f.allow().Done(1, context.Canceled)
	f.allow().Done(1, context.DeadlineExceeded)
	p := f.allow()
	f.clk.Advance(time.Second + 1)
	p.Done(1, nil)
	m := f.m()
	assert.Equal(t, windowOf{4, 2, 2, 1}, f.window())
	assert.Equal(t, uint64(1), m.TotalIgnored)
}

// --- Panics ---------------------------------------------------------------

func TestPanicCountsAsFailureAndRepanics(t *testing.T) {
	type panicValue struct{ s string }
	err := errors.New("panic error value")
	values := []any{"text", 42, panicValue{"v"}, err}
	for _, v := range values {
		t.Run(fmt.Sprintf("%T", v), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 2, SlowCallDuration: time.Second})
			require.PanicsWithValue(t, v, func() {
				f.b.Execute(func() (int, error) { panic(v) })
			})
			m := f.m()
			assert.Equal(t, cb.Closed, m.State)
			assert.Equal(t, windowOf{1, 0, 1, 0}, f.window())
			assert.Equal(t, uint64(1), m.TotalFailures)
			assert.Equal(t, uint64(1), m.ConsecutiveFailures)

			require.PanicsWithValue(t, v, func() {
				f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) {
					f.clk.Advance(2 * time.Second) // a slow panic
					panic(v)
				})
			})
			m = f.m()
			assert.Equal(t, cb.Open, m.State, "the second failure in a row trips")
			assert.Equal(t, windowOf{2, 0, 2, 1}, f.window())
			require.Len(t, f.events, 1)
			assert.Equal(t, cb.ReasonConsecutiveFailures, f.events[0].Reason)
		})
	}
}

// --- Context --------------------------------------------------------------

// A ctx already done is refused before admission.
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
				f := newRuleFixture(t, throughExecute, cb.Config{SuccessThreshold: 1})
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
			f := newRuleFixture(t, throughExecute, cb.Config{})
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
			// Execute classifies the same way.
			_, r = f.b.Execute(func() (int, error) { return 5, tc.err })
			assert.Equal(t, tc.outcome, r.Outcome)
		})
	}
}

// --- Classification -------------------------------------------------------

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
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.v, tc.err), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cfg, cb.WithClassifier(classify))
			_, r := f.b.Execute(func() (int, error) { return tc.v, tc.err })
			assert.Equal(t, tc.outcome, r.Outcome, "Execute")
			_, r = f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { return tc.v, tc.err })
			assert.Equal(t, tc.outcome, r.Outcome, "ExecuteContext")
			f.allow().Done(tc.v, tc.err)
			m := f.m()
			switch tc.outcome {
			case cb.Success:
				assert.Equal(t, windowOf{3, 3, 0, 0}, f.window())
			case cb.Failure:
				assert.Equal(t, windowOf{3, 0, 3, 0}, f.window())
				assert.Equal(t, uint64(3), m.TotalFailures)
			case cb.Ignored:
				assert.Equal(t, windowOf{}, f.window())
				assert.Equal(t, uint64(3), m.TotalIgnored)
			}
			assert.Equal(t, uint64(0), m.TotalRejected, "a Rejected from the classifier is no rejection")
		})
	}
	assert.Equal(t, 0, asked, "IsFailure and IsIgnored are not asked with a classifier")
}

// A classifier's failures trip like any other.
func TestWithClassifierFailuresTrip(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{ConsecutiveFailures: 2}, cb.WithClassifier(func(v int, _ error) cb.Outcome {
		if v < 0 {
			return cb.Failure
		}
		return cb.Success
	}))
	f.b.Execute(func() (int, error) { return -1, nil })
	f.b.Execute(func() (int, error) { return -1, nil })
	assert.Equal(t, cb.Open, f.b.State())
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
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cfg)
			order = nil
			r := f.call(0, tc.err)
			assert.Equal(t, tc.outcome, r.Outcome)
			assert.Equal(t, tc.err, r.Err, "the error is reported whatever its outcome")
			assert.Equal(t, tc.asked, order)
		})
	}
}

// A custom IsFailure returning false makes errors successes; the default
// IsIgnored still applies.
func TestCustomIsFailure(t *testing.T) {
	errNotFound := errors.New("not found")
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1,
		IsFailure:           func(err error) bool { return err != nil && !errors.Is(err, errNotFound) },
	})
	for range 10 {
		r := f.call(0, errNotFound)
		require.Equal(t, cb.Success, r.Outcome)
		require.Equal(t, errNotFound, r.Err)
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
}

// The default classification: nil succeeds, context.Canceled (wrapped or
// not) is ignored, everything else fails.
func TestDefaultClassification(t *testing.T) {
	tests := []struct {
		err     error
		outcome cb.Outcome
	}{
		{nil, cb.Success},
		{context.Canceled, cb.Ignored},
		{fmt.Errorf("x: %w", context.Canceled), cb.Ignored},
		{context.DeadlineExceeded, cb.Failure},
		{errBoom, cb.Failure},
		{errors.New(context.Canceled.Error()), cb.Failure}, // the same text is not the same error
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.err), func(t *testing.T) {
			f := newRuleFixture(t, throughExecute, cb.Config{})
			assert.Equal(t, tc.outcome, f.call(0, tc.err).Outcome)
			f.b.ForceHalfOpen()
			assert.Equal(t, tc.outcome, f.call(0, tc.err).Outcome, "as a probe")
		})
	}
}
