package cb_test

// The fixtures the tests share: the entry points every rule runs through;
// the rule fixture, a breaker on a fake clock that makes its calls through
// one entry point and records its events; the protected functions, errors
// and clocks; and the recorders of events for concurrent tests.

import (
	"context"
	"errors"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// errBoom is the error of a failing call.
var errBoom = errors.New("boom")

// fnOK is a protected function that succeeds.
func fnOK() (int, error) { return 1, nil }

// fnFail is a protected function that fails with errBoom.
func fnFail() (int, error) { return 0, errBoom }

// fnOKCtx is fnOK for ExecuteContext.
func fnOKCtx(context.Context) (int, error) { return 1, nil }

// ms is a millisecond, for readings written in milliseconds.
const ms = time.Millisecond

// endOfTime is the largest reading and the largest Duration.
const endOfTime = time.Duration(math.MaxInt64)

// neverTrips is cfg with every trip rule off, so that the window and the
// totals can be watched alone.
func neverTrips(cfg cb.Config) cb.Config {
	cfg.ConsecutiveFailures = cb.Off
	cfg.FailureRateThreshold = cb.Off
	cfg.SlowCallDuration = cb.Off
	return cfg
}

// testClock is a clock a test moves: a cbtest.Clock, or a settableClock.
type testClock interface {
	cb.Clock
	Advance(d time.Duration) time.Duration
	Set(t time.Duration)
}

// settableClock is a testClock for readings a cbtest.Clock cannot make (it
// starts at 0): anywhere in the Duration range, negative ones included, as
// the real clock's are inside a synctest bubble. Not safe for concurrent
// use.
type settableClock struct{ now time.Duration }

func (c *settableClock) Now() time.Duration { return c.now }

func (c *settableClock) Set(t time.Duration) { c.now = t }

func (c *settableClock) Advance(d time.Duration) time.Duration {
	if c.now > endOfTime-d {
		c.now = endOfTime
	} else {
		c.now += d
	}
	return c.now
}

// elapsed is the time from the reading start to end, saturating as the
// breaker's durations do.
func elapsed(start, end time.Duration) time.Duration {
	if start < 0 && end > endOfTime+start {
		return endOfTime
	}
	return end - start
}

// --- Entry points ---------------------------------------------------------

// entryPoint is one of the four ways a call goes through a breaker. Every
// rule holds through each of them, so the rule tests run once per entry
// point (see throughEach), making their calls through the fixture.
type entryPoint int

const (
	throughExecute        entryPoint = iota // Execute: the whole CallResult comes back
	throughCall                             // Call: fn's own (T, error), or the *OpenError
	throughExecuteContext                   // ExecuteContext, with a live context
	throughAllowDone                        // Allow, the call, then Done: nothing comes back
)

var (
	// entryPoints are the four entry points.
	entryPoints = []entryPoint{throughExecute, throughCall, throughExecuteContext, throughAllowDone}
	// fnEntryPoints are those that run a function: where a panic can
	// start (code between Allow and Done that panics never reaches Done).
	fnEntryPoints = []entryPoint{throughExecute, throughCall, throughExecuteContext}
)

// String names the entry point, as its subtests are named.
func (e entryPoint) String() string {
	return [...]string{"Execute", "Call", "ExecuteContext", "AllowDone"}[e]
}

// returnsResult reports whether the entry point returns a CallResult.
func (e entryPoint) returnsResult() bool { return e == throughExecute || e == throughExecuteContext }

// throughEach runs test once per entry point of eps, as a subtest named
// after it: the same test for every entry point, as one runs the same
// tests against every implementation of an interface.
func throughEach(t *testing.T, eps []entryPoint, test func(t *testing.T, via entryPoint)) {
	t.Helper()
	for _, via := range eps {
		t.Run(via.String(), func(t *testing.T) { test(t, via) })
	}
}

// --- The rule fixture -----------------------------------------------------

// ruleFixture is a Breaker[int] named "rules" on a fake clock, making its
// calls through one entry point and recording every Transition its
// OnStateChange receives.
type ruleFixture struct {
	t      *testing.T
	via    entryPoint
	clk    testClock
	b      *cb.Breaker[int]
	events []cb.Transition
	// open holds, for each call through Call or Allow/Done between its two
	// readings of the totals (as fn returns, and after the call), what the
	// calls nested in that span added to them: a call in the closing gap
	// that the call's own end opens, say. They are not the call's own.
	open []*totals
}

// newRuleFixture returns a fixture making its calls through via, on a
// breaker with cfg and the fake clock cfg.Clock when it is a testClock (a
// new cbtest.Clock otherwise).
func newRuleFixture(t *testing.T, via entryPoint, cfg cb.Config, opts ...cb.Option[int]) *ruleFixture {
	t.Helper()
	clk, ok := cfg.Clock.(testClock)
	if !ok {
		clk = cbtest.NewClock()
		cfg.Clock = clk
	}
	f := &ruleFixture{t: t, via: via, clk: clk}
	user := cfg.OnStateChange
	cfg.OnStateChange = func(tr cb.Transition) {
		f.events = append(f.events, tr)
		if user != nil {
			user(tr)
		}
	}
	b, err := cb.New[int]("rules", cfg, opts...)
	require.NoError(t, err)
	f.b = b
	return f
}

// result is what a test can know of one call made through the fixture:
// the CallResult Execute returns, as far as the entry point shows it.
//
// Execute and ExecuteContext return it whole. Call and Allow/Done show a
// rejection whole: the *OpenError tells the state and, asked at once,
// RetryAfter. Of an admitted call they show the outcome and staleness in
// the lifetime totals (which count it exactly once), the state that
// admitted it in Metrics as fn starts, and whether it was slow in the
// window, when the window grows by it. They do not show the Duration, the
// slowness of a call that does not enter the window, or the outcome of a
// stale call: hides says which, and those fields hold values no call has
// (a negative Duration, the Outcome unshown), so that reading them by
// mistake fails; assertDuration, assertSlow and assertOutcome skip them.
type result struct {
	cb.CallResult[int]
	hides hidden
}

// hidden is a set of CallResult fields an entry point does not show.
type hidden uint8

const (
	hidesDuration hidden = 1 << iota
	hidesSlow
	hidesOutcome
)

// unshown is the Outcome of a result whose entry point does not show it.
const unshown = cb.Outcome(255)

// callSpec is a call the fixture makes: fn (for Allow/Done, the caller's
// code between the two) runs inside, when set, lets d pass on the fake
// clock, and returns (v, err), or panics with panicValue when set.
type callSpec struct {
	d          time.Duration
	v          int
	err        error
	inside     func()
	panicValue any
}

// call makes a call through f.via whose fn takes d and returns (7, err).
func (f *ruleFixture) call(d time.Duration, err error) result {
	f.t.Helper()
	return f.do(callSpec{d: d, v: 7, err: err})
}

// ok makes an instant successful call.
func (f *ruleFixture) ok() result { f.t.Helper(); return f.call(0, nil) }

// fail makes an instant call failing with errBoom.
func (f *ruleFixture) fail() result { f.t.Helper(); return f.call(0, errBoom) }

// do makes the call c through f.via and returns what the breaker made of
// it. It checks that fn ran exactly when the call was admitted, that the
// result carries fn's value and error and the time fn took, and, where the
// result is read from Metrics, that the call was counted exactly once.
// Through Call and Allow/Done it reads Metrics as fn starts and as it
// returns, which changes nothing the call decides: a reading makes only
// the transitions already due at that instant, dated at their deadlines,
// which the next look would make all the same.
func (f *ruleFixture) do(c callSpec) result {
	f.t.Helper()
	derived := !f.via.returnsResult()
	ran := 0
	var took time.Duration
	var admittedIn cb.State
	var before cb.Metrics
	var nested *totals
	defer func() { // after a panic, as after counted
		if n := len(f.open); nested != nil && n > 0 && f.open[n-1] == nested {
			f.open = f.open[:n-1]
		}
	}()
	fn := func() (int, error) {
		ran++
		start := f.clk.Now()
		if derived {
			admittedIn = f.b.Metrics().State
		}
		if c.inside != nil {
			c.inside()
		}
		f.clk.Advance(c.d)
		took = elapsed(start, f.clk.Now())
		if c.panicValue != nil {
			panic(c.panicValue)
		}
		if derived {
			before = f.b.Metrics()
			nested = &totals{}
			f.open = append(f.open, nested)
		}
		return c.v, c.err
	}
	var r result
	switch f.via {
	case throughExecute, throughExecuteContext:
		var v int
		if f.via == throughExecute {
			v, r.CallResult = f.b.Execute(fn)
		} else {
			v, r.CallResult = f.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { return fn() })
		}
		require.Equal(f.t, r.Value, v, "the value returned is the result's")
		if r.Outcome == cb.Rejected {
			require.Equal(f.t, f.refused(r.Err).CallResult, r.CallResult, "the *OpenError tells what the CallResult says")
		} else {
			require.Equal(f.t, took, r.Duration)
		}
	case throughCall:
		v, err := f.b.Call(fn)
		if ran == 0 {
			require.Zero(f.t, v)
			r = f.refused(err)
			break
		}
		require.Equal(f.t, c.v, v, "Call returns fn's value")
		require.Equal(f.t, c.err, err, "Call returns fn's own error")
		r = f.counted(c, admittedIn, before, nested)
	case throughAllowDone:
		p, err := f.b.Allow()
		if err != nil {
			r = f.refused(err)
			break
		}
		require.Nil(f.t, c.panicValue, "code between Allow and Done that panics never reaches Done")
		p.Done(fn())
		r = f.counted(c, admittedIn, before, nested)
	}
	if r.Outcome == cb.Rejected {
		require.Equal(f.t, 0, ran, "fn ran although the call was rejected")
		require.Zero(f.t, r.Value)
		f.addNested(totals{rejected: 1})
	} else {
		require.Equal(f.t, 1, ran, "fn did not run once although the call was admitted")
		require.Equal(f.t, c.v, r.Value)
		require.Equal(f.t, c.err, r.Err)
	}
	return r
}

// refused is the result of a call refused with err, as the *OpenError
// tells it.
func (f *ruleFixture) refused(err error) result {
	f.t.Helper()
	require.ErrorIs(f.t, err, cb.ErrOpen)
	var oe *cb.OpenError
	require.ErrorAs(f.t, err, &oe)
	assert.Equal(f.t, "rules", oe.Name)
	return result{CallResult: cb.CallResult[int]{Err: err, Outcome: cb.Rejected, State: oe.State, RetryAfter: oe.RetryAfter()}}
}

// totals are the lifetime totals of a Metrics, and its window's calls and
// slow calls, or differences of them.
type totals struct{ calls, failures, ignored, stale, rejected, window, slow int64 }

func totalsOf(m cb.Metrics) totals {
	return totals{
		int64(m.TotalCalls), int64(m.TotalFailures), int64(m.TotalIgnored), int64(m.TotalStale), int64(m.TotalRejected),
		int64(m.Calls), int64(m.SlowCalls),
	}
}

func (a totals) minus(b totals) totals {
	return totals{
		a.calls - b.calls, a.failures - b.failures, a.ignored - b.ignored, a.stale - b.stale, a.rejected - b.rejected,
		a.window - b.window, a.slow - b.slow,
	}
}

// addNested adds d, what a call of f added to the totals, to the
// innermost call of f whose span it fell in, if any.
func (f *ruleFixture) addNested(d totals) {
	if n := len(f.open); n > 0 {
		o := f.open[n-1]
		*o = totals{
			o.calls + d.calls, o.failures + d.failures, o.ignored + d.ignored, o.stale + d.stale, o.rejected + d.rejected,
			o.window + d.window, o.slow + d.slow,
		}
	}
}

// counted is the result of the call c, admitted in state through Call or
// Allow/Done, read from the Metrics taken as fn returned (before) and
// after the call, less what the calls nested in between added.
func (f *ruleFixture) counted(c callSpec, state cb.State, before cb.Metrics, nested *totals) result {
	f.t.Helper()
	all := totalsOf(f.b.Metrics()).minus(totalsOf(before))
	require.Same(f.t, nested, f.open[len(f.open)-1])
	f.open = f.open[:len(f.open)-1]
	f.addNested(all)
	d := all.minus(*nested)
	require.Equal(f.t, int64(1), d.calls+d.ignored+d.stale, "a call is exactly one of counted, ignored or stale")
	require.Zero(f.t, d.rejected, "an admitted call is no rejection")
	r := result{CallResult: cb.CallResult[int]{Value: c.v, Err: c.err, State: state, Duration: -1}, hides: hidesDuration}
	switch {
	case d.stale == 1:
		r.Stale, r.Outcome = true, unshown
		r.hides |= hidesOutcome
	case d.ignored == 1:
		r.Outcome = cb.Ignored
	case d.failures == 1:
		r.Outcome = cb.Failure
	default:
		r.Outcome = cb.Success
	}
	if d.calls == 1 && d.window == 1 {
		r.Slow = d.slow == 1
	} else {
		r.hides |= hidesSlow
	}
	return r
}

// assertSlow asserts r.Slow, where f's entry point shows it.
func (f *ruleFixture) assertSlow(r result, want bool, msgAndArgs ...any) {
	f.t.Helper()
	if r.hides&hidesSlow == 0 {
		assert.Equal(f.t, want, r.Slow, msgAndArgs...)
	}
}

// assertDuration asserts r.Duration, where f's entry point shows it.
func (f *ruleFixture) assertDuration(r result, want time.Duration, msgAndArgs ...any) {
	f.t.Helper()
	if r.hides&hidesDuration == 0 {
		assert.Equal(f.t, want, r.Duration, msgAndArgs...)
	}
}

// assertOutcome asserts r.Outcome, where f's entry point shows it.
func (f *ruleFixture) assertOutcome(r result, want cb.Outcome, msgAndArgs ...any) {
	f.t.Helper()
	if r.hides&hidesOutcome == 0 {
		assert.Equal(f.t, want, r.Outcome, msgAndArgs...)
	}
}

// panics makes the call c through f.via and requires it to panic with
// want: a panic in fn, or in the code that classifies its result, goes on
// with its value.
func (f *ruleFixture) panics(want any, c callSpec) {
	f.t.Helper()
	require.False(f.t, c.panicValue != nil && f.via == throughAllowDone, "Allow/Done runs no fn to panic in")
	require.PanicsWithValue(f.t, want, func() { f.do(c) })
}

// at moves the fake clock to the reading d.
func (f *ruleFixture) at(d time.Duration) { f.clk.Set(d) }

// m is the breaker's Metrics.
func (f *ruleFixture) m() cb.Metrics { return f.b.Metrics() }

// lastEvent is the last Transition the listener heard.
func (f *ruleFixture) lastEvent() cb.Transition {
	f.t.Helper()
	require.NotEmpty(f.t, f.events)
	return f.events[len(f.events)-1]
}

// trip fails calls until the breaker opens (at most 1000).
func (f *ruleFixture) trip() {
	f.t.Helper()
	for range 1000 {
		if f.b.State() == cb.Open {
			return
		}
		r := f.fail()
		require.Equal(f.t, cb.Closed, r.State)
	}
	require.Equal(f.t, cb.Open, f.b.State())
}

// allow takes a permit, which must be granted.
func (f *ruleFixture) allow() *cb.Permit[int] {
	f.t.Helper()
	p, err := f.b.Allow()
	require.NoError(f.t, err)
	return &p
}

// rejected asserts that Allow refuses with an *OpenError in state s.
func (f *ruleFixture) rejected(s cb.State) {
	f.t.Helper()
	p, err := f.b.Allow()
	require.ErrorIs(f.t, err, cb.ErrOpen)
	var oe *cb.OpenError
	require.ErrorAs(f.t, err, &oe)
	assert.Equal(f.t, [2]any{"rules", s}, [2]any{oe.Name, oe.State})
	p.Done(1, nil) // the zero Permit: nothing
}

// windowOf is the window part of a Metrics.
type windowOf struct {
	Calls, Successes, Failures, SlowCalls uint64
}

// window is the window part of the breaker's Metrics.
func (f *ruleFixture) window() windowOf {
	m := f.m()
	return windowOf{m.Calls, m.Successes, m.Failures, m.SlowCalls}
}

// --- Events ---------------------------------------------------------------

// eventLog records every Transition an OnStateChange receives, from any
// goroutine, and counts them by (From, To).
type eventLog struct {
	byPair [3][3]atomic.Int64
	mu     sync.Mutex // guards list (the listener's own state, not the breaker's)
	list   []cb.Transition
}

func (e *eventLog) on(tr cb.Transition) {
	e.byPair[tr.From][tr.To].Add(1)
	e.mu.Lock()
	e.list = append(e.list, tr)
	e.mu.Unlock()
}

func (e *eventLog) count(from, to cb.State) int64 { return e.byPair[from][to].Load() }

func (e *eventLog) all() []cb.Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]cb.Transition(nil), e.list...)
}

func (e *eventLog) total() int64 {
	var n int64
	for i := range e.byPair {
		for j := range e.byPair[i] {
			n += e.byPair[i][j].Load()
		}
	}
	return n
}

// sorted returns the events recorded, ordered by generation: a listener
// runs after its transition's CAS, so two transitions nanoseconds apart
// may report in either order.
func (e *eventLog) sorted() []cb.Transition {
	events := e.all()
	slices.SortFunc(events, func(a, b cb.Transition) int {
		switch {
		case a.Generation < b.Generation:
			return -1
		case a.Generation > b.Generation:
			return 1
		}
		return 0
	})
	return events
}

// mirror is the state a listener that keeps the event of the highest
// Generation believes in.
func mirror(events []cb.Transition) cb.State {
	var last cb.Transition
	for _, e := range events {
		if e.Generation > last.Generation {
			last = e
		}
	}
	return last.To
}

// waitFor spins until cond holds, yielding to the goroutines that make it
// hold. What it waits for takes milliseconds; a wait of 20s means the
// breaker will never get there (a permit never returned, say), and fails.
// It also gives up once the test has failed: the goroutines it waits for
// may have stopped at their first failed assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if t.Failed() {
			t.FailNow()
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "waited 20s for "+what)
		}
		runtime.Gosched()
	}
}
