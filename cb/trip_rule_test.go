package cb_test

// Config.TripRule: asked where the built-in rules are, when they have not
// tripped, with exact counts; ungated by MinimumCalls; a panic is false.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// ruleRecorder is a TripRule that records what it is asked and answers
// with trip.
type ruleRecorder struct {
	asked []cb.TripCounts
	trip  func(cb.TripCounts) bool
}

func (r *ruleRecorder) rule(c cb.TripCounts) bool {
	r.asked = append(r.asked, c)
	return r.trip(c)
}

// The rule is asked after each failure and slow call in the closed
// state, never after a fast success, with the window's counts and the
// streak; it trips with ReasonTripRule.
func TestTripRuleAskedWithExactCounts(t *testing.T) {
	rec := &ruleRecorder{trip: func(c cb.TripCounts) bool { return c.SlowFailures >= 2 }}
	f := newRC(t, cb.Config{
		WindowCalls: 10, ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off,
		SlowCallDuration: time.Second, SlowCallRateThreshold: cb.Off, TripRule: rec.rule,
	})
	f.ok()
	f.fail()
	f.call(2*time.Second, nil)
	f.call(2*time.Second, errRC)
	f.ok()
	assert.Equal(t, cb.Closed, f.b.State())
	f.call(2*time.Second, errRC)
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, []cb.TripCounts{
		{Calls: 2, Failures: 1, ConsecutiveFailures: 1},
		{Calls: 3, Failures: 1, SlowCalls: 1},
		{Calls: 4, Failures: 2, SlowCalls: 2, SlowFailures: 1, ConsecutiveFailures: 1},
		{Calls: 6, Failures: 3, SlowCalls: 3, SlowFailures: 2, ConsecutiveFailures: 1},
	}, rec.asked)
	assert.Equal(t, []cb.Reason{cb.ReasonTripRule}, f.reasons())
	assert.Equal(t, "trip rule", cb.ReasonTripRule.String())
	assert.Equal(t, cb.Open, cb.ReasonTripRule.To())

	f.clk.Advance(cb.DefaultOpenTimeout)
	f.fail() // a probe: the rule is not asked in half-open
	assert.Len(t, rec.asked, 4)
}

// MinimumCalls gates the rates, not the rule; a built-in rule that trips
// goes first, and the rule is then not asked.
func TestTripRuleCombinesWithBuiltIns(t *testing.T) {
	rec := &ruleRecorder{trip: func(c cb.TripCounts) bool { return c.Failures >= 1 && c.Calls >= 2 }}
	f := newRC(t, cb.Config{MinimumCalls: 10, WindowCalls: 10, ConsecutiveFailures: 3, TripRule: rec.rule})
	f.ok()
	f.fail()
	assert.Equal(t, []cb.Reason{cb.ReasonTripRule}, f.reasons(), "2 calls, far below MinimumCalls")

	rec = &ruleRecorder{trip: func(cb.TripCounts) bool { return true }}
	g := newRC(t, cb.Config{ConsecutiveFailures: 1, TripRule: rec.rule})
	g.fail()
	assert.Equal(t, []cb.Reason{cb.ReasonConsecutiveFailures}, g.reasons())
	assert.Empty(t, rec.asked, "a built-in rule tripped first")
}

// A panic in the rule counts as false, once per evaluation: the call is
// counted once, the breaker stays closed, and the built-in rules still
// trip.
func TestTripRulePanicIsFalse(t *testing.T) {
	asked := 0
	f := newRC(t, cb.Config{ConsecutiveFailures: 3, TripRule: func(cb.TripCounts) bool { asked++; panic("rule bug") }})
	var r cb.CallResult[int]
	assert.NotPanics(t, func() { r = f.fail() })
	assert.Equal(t, cb.Failure, r.Outcome)
	p, err := f.b.Allow()
	require.NoError(t, err)
	assert.NotPanics(t, func() { p.Done(0, errRC) })
	m := f.b.Metrics()
	assert.Equal(t, cb.Closed, m.State)
	assert.Equal(t, uint64(2), m.TotalCalls)
	assert.Equal(t, uint64(2), m.TotalFailures)
	f.fail()
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, 2, asked)
	assert.Equal(t, []cb.Reason{cb.ReasonConsecutiveFailures}, f.reasons())
}

// The rule costs nothing on the success path and allocates nothing on
// the failure path.
func TestTripRuleAllocatesNothing(t *testing.T) {
	asked := 0
	b := cb.MustNew[int]("rule-alloc", cb.Config{
		ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off,
		IsIgnored: func(error) bool { return false }, // no type switch whose cache fills lazily
		TripRule:  func(c cb.TripCounts) bool { asked++; return c.Calls == 0 },
	})
	ok := func() (int, error) { return 1, nil }
	fail := func() (int, error) { return 0, errRC }
	b.Execute(fail)
	allocs := testing.AllocsPerRun(1, func() {
		for range 1000 {
			b.Execute(ok)
			b.Execute(fail)
		}
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 1+2*1000, asked, "asked after each failure only (AllocsPerRun runs a warm-up and the run)")
}
