package cb

import (
	"errors"
	"reflect"
	"runtime"
)

// Reconfigure replaces the breaker's policy with cfg, validated as New
// validates it (an error matching ErrInvalidConfig names every fault, and
// nothing changes). Calls running meanwhile see the old policy or the new
// one, never a mix of the two: a call is judged, wholly, by the policy in
// force when it ends.
//
// What the breaker has learnt is kept: its state, generation, backoff
// level, streaks, lifetime totals and Transitions, and its window when cfg
// counts the same way (buckets of the same width and number, once
// defaults apply, or the same WindowCalls). A window of another shape
// starts empty: its
// counts would mean something else (the old buckets do not divide into
// the new ones, nor a time span into a number of calls), and judging the
// new thresholds on figures made up from them would trip on, or ignore,
// calls that the new window never held. See the package documentation
// for how each rule takes the change.
//
// The breaker keeps its clock (readings from another clock would not
// compare with the deadlines it holds): a nil cfg.Clock keeps it, and any
// other Clock than the breaker's own is refused. cfg.OnStateChange
// replaces the old one as the breaker's first listener (nil removes it);
// listeners added with Subscribe stay. A classifier given with
// WithClassifier stays too.
//
// Turning Shadow on or off is told to listeners as a Transition with
// From == To (ReasonShadowOn, ReasonShadowOff); those events of
// Reconfigures racing each other may reach listeners out of order, and
// Metrics.Shadow tells what is in force. Then, like State, Reconfigure
// makes the transitions that time alone causes, and a half-open episode
// whose probe successes already meet the new SuccessThreshold closes
// (ReasonProbesSucceeded).
func (b *core) Reconfigure(cfg Config) error {
	s, err := cfg.resolve()
	if cfg.Clock != nil && !isNilPointer(cfg.Clock) && !sameClock(b.clock, cfg.Clock) {
		err = errors.Join(err, &ConfigError{Field: "Clock", Value: cfg.Clock, Reason: "must be nil or the breaker's own (a breaker keeps its clock for life)"})
	}
	if err != nil {
		return err
	}
	b.reconfiguring.Lock()
	old := b.pol.Load()
	next := b.newPolicy(s, cfg, old, b.now())
	b.publishPolicy(next, next.tw != old.tw && next.tw != nil)
	b.listeners.SetFirst(s.onStateChange)
	b.reconfiguring.Unlock()

	if old.shadow != next.shadow {
		reason := ReasonShadowOff
		if next.shadow {
			reason = ReasonShadowOn
		}
		w := b.load()
		b.transitions[reason].Inc()
		b.listeners.Tell(Transition{Name: b.name, From: w.public(), To: w.public(), Generation: w.gen(), Reason: reason})
	}
	b.settle()
	return nil
}

// settle makes the transitions that time alone causes, and closes a
// half-open episode whose probe successes meet the SuccessThreshold in
// force: lowered by a Reconfigure, it may be met with no probe out and
// no permit left, and nothing else would ever end the episode.
func (b *core) settle() {
	now := b.now()
	for {
		p := b.pol.Load()
		w := b.catchUp(now, p)
		if w.state() != HalfOpen || w.probeSuccesses() < p.successThreshold {
			return
		}
		if b.close(p, w, w.nextGen(closing, false, 0), now, ReasonProbesSucceeded) {
			return
		}
	}
}

// publishPolicy makes p the policy in force. A new time window is
// restarted first, under the claim that serialises the clears of closes
// (see clearFor): its counts are differences of the cumulative sums from
// its start, so a start taken before a close under way, and the clear
// of the old window by that close, would leave it holding outcomes of the
// generation the close ended. Restarted under the claim, it starts after
// any clear before it, and any clear after it finds it in force.
func (b *core) publishPolicy(p *policy, restart bool) {
	for {
		c := b.cleared.Load()
		if c&1 == 1 {
			runtime.Gosched() // a clear is a few stores from done
			continue
		}
		if !b.cleared.CompareAndSwap(c, c|1) {
			continue
		}
		if restart {
			p.tw.Clear(b.now())
		}
		b.pol.Store(p)
		b.cleared.Store(c)
		return
	}
}

// Config returns the Config the breaker runs with: as given to New or to
// the last Reconfigure (zero fields are not filled in with their
// defaults), with the Clock the breaker keeps. Change a field of it and
// pass it to Reconfigure to change just that:
//
//	cfg := b.Config()
//	cfg.Shadow = false
//	err := b.Reconfigure(cfg)
func (b *core) Config() Config { return b.pol.Load().cfg }

// sameClock reports whether c is the breaker's clock mine. Interfaces
// holding values Go cannot compare (a struct with a func field) make ==
// panic; such a clock of the same type is taken as the same, since
// nothing tells it apart.
func sameClock(mine, c Clock) bool {
	if mine == nil {
		return false // c is not nil
	}
	a, o := reflect.ValueOf(mine), reflect.ValueOf(c)
	if a.Type() != o.Type() {
		return false
	}
	if !a.Comparable() || !o.Comparable() {
		return true
	}
	return a.Equal(o)
}

// isNilPointer reports whether c holds a nil pointer, which resolve
// refuses on its own.
func isNilPointer(c Clock) bool {
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
