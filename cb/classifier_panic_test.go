package cb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

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
	for name, p := range panicking {
		t.Run(name, func(t *testing.T) {
			cfg := p.cfg
			cfg.ConsecutiveFailures = 2
			f := newRuleFixture(t, throughExecute, cfg, p.opts...)
			entries := []func(){
				func() { f.b.Execute(func() (int, error) { return 1, errBoom }) },
				func() { _, _ = f.b.Call(func() (int, error) { return 1, errBoom }) },
				func() {
					f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { return 1, errBoom })
				},
				func() {
					pm, err := f.b.Allow()
					require.NoError(t, err)
					pm.Done(1, errBoom)
				},
			}
			for i, call := range entries {
				require.PanicsWithValue(t, classifierPanic{}, call, "entry point %d", i)
				m := f.m()
				assert.Equal(t, uint64(i+1), m.TotalCalls, "entry point %d: counted", i)
				assert.Equal(t, uint64(i+1), m.TotalFailures, "entry point %d: as a failure", i)
				if i%2 == 1 {
					assert.Equal(t, cb.Open, m.State, "entry point %d: the second failure in a row trips", i)
					f.b.Reset()
				}
			}
		})
	}
}

// In half-open, a panicking classifier fails the probe: the breaker
// reopens at once instead of keeping a permit that no one returns, which
// would reject every call until HalfOpenTimeout.
func TestPanickingClassifierFailsTheProbe(t *testing.T) {
	for name, p := range panicking {
		t.Run(name, func(t *testing.T) {
			cfg := p.cfg
			cfg.ConsecutiveFailures, cfg.OpenTimeout, cfg.SuccessThreshold = 1, time.Second, 2
			for _, done := range []bool{false, true} {
				f := newRuleFixture(t, throughExecute, cfg, p.opts...)
				f.b.ForceHalfOpen()
				if done {
					pm := f.allow()
					require.PanicsWithValue(t, classifierPanic{}, func() { pm.Done(1, errBoom) })
				} else {
					require.PanicsWithValue(t, classifierPanic{}, func() {
						f.b.Execute(func() (int, error) { return 1, errBoom })
					})
				}
				m := f.m()
				assert.Equal(t, cb.Open, m.State, "Done=%v: the probe failed", done)
				assert.Equal(t, 0, m.HalfOpenInFlight)
				assert.Equal(t, uint64(1), m.TotalFailures)
				assert.Equal(t, cb.ReasonProbeFailed, f.events[len(f.events)-1].Reason)
			}
		})
	}
}

// IsFailure and IsIgnored are asked only about non-nil errors, so the
// natural predicates work: a nil error is a success without asking.
func TestIsFailureAndIsIgnoredNeverSeeNil(t *testing.T) {
	errNotFound := errors.New("not found")
	f := newRuleFixture(t, throughExecute, cb.Config{
		ConsecutiveFailures: 1,
		IsFailure:           func(err error) bool { return !errors.Is(err, errNotFound) },
		IsIgnored: func(err error) bool {
			require.Error(t, err, "IsIgnored asked about nil")
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
}
