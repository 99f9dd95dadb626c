package cb_test

// Generations and events: every transition, Force and Reset starts a new
// generation, and a call admitted in an older one is stale when it ends:
// counted only in TotalStale and reported so. OnStateChange hears every
// change of state (or of the forced flag) once, after it, with the
// generation it began and a reason; a panicking listener is recovered,
// and a listener may use the breaker. A close is atomic: a call that
// arrives in its gap is judged on the new, empty window and streak, and a
// listener keeping the event of the highest generation mirrors the state.
// Every test runs through every entry point.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// Every transition and every Force*/Reset bumps the generation by one;
// OnStateChange fires once per change of state, with From != To.
func TestGenerationAndEvents(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 2, MinimumCalls: 4, FailureRateThreshold: 0.5,
			SlowCallDuration: time.Second, SlowCallRateThreshold: 0.5,
			OpenTimeout: 10 * time.Second, SuccessThreshold: 1,
		})
		tr := func(from, to cb.State, gen uint64, reason cb.Reason) *cb.Transition {
			return &cb.Transition{Name: "rules", From: from, To: to, Generation: gen, Reason: reason}
		}
		steps := []struct {
			name  string
			do    func()
			gen   uint64
			event *cb.Transition // nil: no event
		}{
			{"successes change nothing", func() { f.ok(); f.ok() }, 0, nil},
			{"consecutive failures", func() { f.fail(); f.fail() }, 1, tr(cb.Closed, cb.Open, 1, cb.ReasonConsecutiveFailures)},
			{"rejections change nothing", func() { f.ok() }, 1, nil},
			{"open timeout", func() { f.at(10 * time.Second); f.b.State() }, 2, tr(cb.Open, cb.HalfOpen, 2, cb.ReasonOpenTimeout)},
			{"probe failed", func() { f.fail() }, 3, tr(cb.HalfOpen, cb.Open, 3, cb.ReasonProbeFailed)},
			{"open timeout again", func() { f.at(20 * time.Second); f.m() }, 4, tr(cb.Open, cb.HalfOpen, 4, cb.ReasonOpenTimeout)},
			{"probes succeeded", func() { f.ok() }, 5, tr(cb.HalfOpen, cb.Closed, 5, cb.ReasonProbesSucceeded)},
			{"failure rate", func() { f.ok(); f.fail(); f.ok(); f.fail() }, 6, tr(cb.Closed, cb.Open, 6, cb.ReasonFailureRate)},
			{"ForceHalfOpen", func() { f.b.ForceHalfOpen() }, 7, tr(cb.Open, cb.HalfOpen, 7, cb.ReasonForcedHalfOpen)},
			{"ForceHalfOpen again", func() { f.b.ForceHalfOpen() }, 8, nil},
			{"ForceOpen", func() { f.b.ForceOpen() }, 9, tr(cb.HalfOpen, cb.Open, 9, cb.ReasonForcedOpen)},
			{"ForceOpen again", func() { f.b.ForceOpen() }, 10, nil},
			{"ForceClosed", func() { f.b.ForceClosed() }, 11, tr(cb.Open, cb.Closed, 11, cb.ReasonForcedClosed)},
			{"ForceClosed again", func() { f.b.ForceClosed() }, 12, nil},
			{"Reset while closed", func() { f.b.Reset() }, 13, nil},
			{"ForceOpen from closed", func() { f.b.ForceOpen() }, 14, tr(cb.Closed, cb.Open, 14, cb.ReasonForcedOpen)},
			{"Reset", func() { f.b.Reset() }, 15, tr(cb.Open, cb.Closed, 15, cb.ReasonReset)},
			{"slow-call rate", func() {
				f.ok()
				f.ok()
				f.call(2*time.Second, nil)
				f.call(2*time.Second, nil)
			}, 16, tr(cb.Closed, cb.Open, 16, cb.ReasonSlowCallRate)},
			{"ForceClosed from open", func() { f.b.ForceClosed() }, 17, tr(cb.Open, cb.Closed, 17, cb.ReasonForcedClosed)},
			{"ForceHalfOpen from closed", func() { f.b.ForceHalfOpen() }, 18, tr(cb.Closed, cb.HalfOpen, 18, cb.ReasonForcedHalfOpen)},
			{"Reset from half-open", func() { f.b.Reset() }, 19, tr(cb.HalfOpen, cb.Closed, 19, cb.ReasonReset)},
		}
		for _, s := range steps {
			before := len(f.events)
			s.do()
			require.Equal(t, s.gen, f.m().Generation, s.name)
			if s.event == nil {
				require.Len(t, f.events, before, s.name)
				continue
			}
			require.Len(t, f.events, before+1, s.name)
			assert.Equal(t, *s.event, f.events[before], s.name)
			assert.Equal(t, s.event.To, f.b.State(), s.name)
		}
		for i, e := range f.events {
			assert.NotEqual(t, e.From, e.To, "event %d", i)
		}
	})
}

// A panicking listener is recovered and the breaker goes on working.
func TestPanickingListenerIsRecovered(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		calls := 0
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1,
			OnStateChange: func(cb.Transition) { calls++; panic("listener") },
		})
		require.NotPanics(t, func() { f.fail() })
		assert.Equal(t, cb.Open, f.b.State())
		f.at(time.Second)
		require.NotPanics(t, func() { assert.Equal(t, cb.HalfOpen, f.b.State()) })
		require.NotPanics(t, func() { f.ok() })
		assert.Equal(t, cb.Closed, f.b.State())
		require.NotPanics(t, func() { f.b.ForceOpen(); f.b.ForceHalfOpen(); f.b.Reset() })
		assert.Equal(t, 6, calls)
		assert.Len(t, f.events, 6)
		m := f.m()
		assert.Equal(t, cb.Closed, m.State)
		assert.Equal(t, uint64(6), m.Generation)
		assert.Equal(t, uint64(2), m.TotalCalls)
		r := f.ok()
		assert.Equal(t, cb.Success, r.Outcome)
	})
}

// The listener runs after the change is visible, under no lock: it may
// use the breaker.
func TestListenerMayUseTheBreaker(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		var b *cb.Breaker[int]
		var seen []cb.State
		var gens []uint64
		f := newRuleFixture(t, via, cb.Config{
			ConsecutiveFailures: 1, OpenTimeout: time.Second, SuccessThreshold: 1,
			OnStateChange: func(cb.Transition) {
				seen = append(seen, b.State())
				m := b.Metrics()
				gens = append(gens, m.Generation)
			},
		})
		b = f.b
		f.fail()
		f.at(time.Second)
		f.ok()
		assert.Equal(t, []cb.State{cb.Open, cb.HalfOpen, cb.Closed}, seen)
		assert.Equal(t, []uint64{1, 2, 3}, gens)
	})
}

// An outcome admitted under an older generation is stale: counted only in
// TotalStale and reported in CallResult.Stale, whatever it was and
// whatever moved the generation.
func TestStaleOutcomes(t *testing.T) {
	type panicValue string
	kinds := []struct {
		name    string
		call    callSpec
		runFor  time.Duration // before the generation moves
		outcome cb.Outcome
	}{
		{"success", callSpec{v: 1}, 0, cb.Success},
		{"failure", callSpec{v: 1, err: errBoom}, 0, cb.Failure},
		{"slow failure", callSpec{v: 1, err: errBoom}, time.Hour, cb.Failure},
		{"ignored", callSpec{v: 1, err: context.Canceled}, 0, cb.Ignored},
		{"panic", callSpec{panicValue: panicValue("p")}, 0, cb.Failure},
	}
	changes := map[string]func(f *ruleFixture){
		"ForceClosed":   func(f *ruleFixture) { f.b.ForceClosed() },
		"Reset":         func(f *ruleFixture) { f.b.Reset() },
		"ForceOpen":     func(f *ruleFixture) { f.b.ForceOpen() },
		"ForceHalfOpen": func(f *ruleFixture) { f.b.ForceHalfOpen() },
		"a trip": func(f *ruleFixture) {
			f.fail() // a nested call: ConsecutiveFailures 1 trips
		},
	}
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, k := range kinds {
			if k.call.panicValue != nil && via == throughAllowDone {
				continue // no fn to panic in
			}
			for cname, change := range changes {
				t.Run(k.name+" across "+cname, func(t *testing.T) {
					f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: 1, MinimumCalls: 1, SlowCallDuration: time.Second})
					before := f.m()
					c := k.call
					c.inside = func() {
						f.clk.Advance(k.runFor)
						change(f)
					}
					if c.panicValue != nil {
						f.panics(c.panicValue, c)
					} else {
						r := f.do(c)
						f.assertOutcome(r, k.outcome)
						assert.True(t, r.Stale)
						f.assertSlow(r, k.runFor > time.Second)
					}
					m := f.m()
					assert.Equal(t, uint64(1), m.TotalStale)
					assert.Equal(t, before.Generation+1, m.Generation)
					assert.Equal(t, uint64(0), m.TotalIgnored)
					assert.Equal(t, uint64(0), m.ConsecutiveSuccesses)
					wantCalls := uint64(0)
					if cname == "a trip" {
						wantCalls = 1 // the nested failure, not the stale call
					}
					assert.Equal(t, wantCalls, m.TotalCalls)
					assert.Equal(t, wantCalls, m.TotalFailures)
					assert.Equal(t, wantCalls, m.Calls)
					assert.Equal(t, wantCalls, m.ConsecutiveFailures)
					assert.Equal(t, uint64(0), m.SlowCalls)
					assert.Equal(t, 0, m.HalfOpenInFlight)
					if cname == "ForceClosed" || cname == "Reset" {
						assert.Equal(t, cb.Closed, m.State, "a stale failure does not trip")
					}
				})
			}
		}
	})
}

// A call that arrives between the CAS that closes the breaker and the end
// of the close (the closing gap, which the test reaches through a hook)
// finds the close completed for it, runs in the new generation and is
// judged on an empty window and streak. The events of the close and of
// anything the gap call causes are delivered in the order their CASes
// finished, so a listener that mirrors the state keeps the highest
// Generation: that is the state the breaker is in.
func TestCallInTheClosingGapIsJudgedOnTheNewGeneration(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		for _, how := range []string{"ForceClosed", "Reset", "probe"} {
			t.Run(how, func(t *testing.T) {
				f := newRuleFixture(t, via, cb.Config{
					ConsecutiveFailures: 3, FailureRateThreshold: 0.5, MinimumCalls: 2,
					OpenTimeout: time.Second, SuccessThreshold: 1, SlowCallDuration: cb.Off,
				})
				f.fail()
				f.fail()
				f.fail()
				require.Equal(t, cb.Open, f.b.State())
				var gap []result
				cb.SetClosingHook(f.b, func() {
					if len(gap) == 0 {
						gap = append(gap, f.fail())
					}
				})
				switch how {
				case "ForceClosed":
					f.b.ForceClosed()
				case "Reset":
					f.b.Reset()
				case "probe":
					f.at(time.Second)
					assert.Equal(t, cb.Success, f.ok().Outcome)
				}
				require.Len(t, gap, 1, "the hook ran in the gap")
				assert.Equal(t, cb.Closed, gap[0].State, "the gap call was admitted by the new closed generation")
				assert.False(t, gap[0].Stale)
				m := f.m()
				assert.Equal(t, cb.Closed, m.State, "one failure does not trip")
				assert.Equal(t, uint64(1), m.ConsecutiveFailures)
				assert.Equal(t, uint64(1), m.Calls, "the window holds the gap call alone")

				// Two failures in the next gap trip it on the rate (two of
				// two calls): the trip's event is delivered before the
				// close's, with a higher generation.
				f.b.ForceOpen()
				gap = nil
				events := len(f.events)
				cb.SetClosingHook(f.b, func() {
					if len(gap) == 0 {
						gap = append(gap, f.fail(), f.fail())
					}
				})
				f.b.Reset()
				require.Len(t, gap, 2)
				require.Equal(t, cb.Open, f.b.State())
				got := f.events[events:]
				require.Len(t, got, 2)
				assert.Equal(t, cb.ReasonFailureRate, got[0].Reason, "the trip, made in the gap, is told first")
				assert.Equal(t, cb.ReasonReset, got[1].Reason)
				assert.Greater(t, got[0].Generation, got[1].Generation, "Generation orders them")
				assert.Equal(t, f.b.State(), mirror(f.events), "a listener keeping the newest generation mirrors the state")
			})
		}
	})
}

// The probe that closes a breaker is counted once, whoever completes the
// close: here another probe, ending in the closing gap, finds the close
// under way, completes it, and is stale itself. The success streak then
// restarts with the close.
func TestClosingProbeCountedOnceWhoeverCompletesTheClose(t *testing.T) {
	b := cb.MustNew[int]("gap", cb.Config{SuccessThreshold: 1, HalfOpenMaxCalls: 2, ConsecutiveFailures: 1})
	b.ForceHalfOpen()
	first, err := b.Allow()
	require.NoError(t, err)
	second, err := b.Allow()
	require.NoError(t, err)
	cb.SetClosingHook(b, func() {
		cb.SetClosingHook(b, nil)
		second.Done(1, nil)
		m := b.Metrics()
		assert.Equal(t, cb.Closed, m.State, "the gap's probe completed the close")
		assert.Equal(t, uint64(1), m.TotalStale, "and was stale")
		assert.Equal(t, uint64(1), m.TotalCalls, "the closing probe is counted by the close")
	})
	first.Done(1, nil)
	m := b.Metrics()
	assert.Equal(t, uint64(1), m.TotalCalls, "counted once")
	assert.Equal(t, uint64(0), m.ConsecutiveSuccesses, "the streak restarts at the close")
	b.Execute(fnOK)
	b.Execute(fnOK)
	assert.Equal(t, uint64(2), b.Metrics().ConsecutiveSuccesses)
}
