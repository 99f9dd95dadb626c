package cb

import (
	"math"
	"time"
)

// Transition describes one state change, as OnStateChange receives it.
type Transition struct {
	Name       string // the breaker's name
	From, To   State
	Generation uint64 // the generation the change began
	// Reason is one of "consecutive failures", "failure rate",
	// "slow-call rate", "open timeout elapsed", "probe failed",
	// "probes succeeded", "forced open", "forced closed",
	// "forced half-open" and "reset".
	Reason string
}

// trip opens a closed breaker whose word was w. Only the state word's CAS
// decides: a loser finds the generation moved and does nothing.
func (b *core) trip(w word, now time.Duration, reason string) {
	next := w.next(Open, false, 0)
	if b.cas(w, next) {
		b.transitioned(w, next, now, reason)
	}
}

// transitioned finishes a transition whose CAS this goroutine won: it
// publishes the reading the generation began at and tells the listener.
func (b *core) transitioned(from, to word, since time.Duration, reason string) {
	until := time.Duration(math.MaxInt64) // closed, or forced: time ends nothing
	switch {
	case to.forced() || to.state() == Closed:
	case to.state() == Open:
		until = since + b.openFor(to.level())
	default:
		until = since + b.s.halfOpenTimeout
	}
	b.meta.publish(to.gen(), since, until)
	if from.state() == to.state() || b.s.onStateChange == nil {
		return
	}
	defer func() { _ = recover() }() // a listener's panic must not break the breaker
	b.s.onStateChange(Transition{Name: b.name, From: from.state(), To: to.state(), Generation: to.gen(), Reason: reason})
}

// openFor is the open time at backoff level l.
func (b *core) openFor(l uint) time.Duration {
	d, limit := b.s.openTimeout, b.s.maxOpenTimeout
	for ; l > 0 && d < limit; l-- {
		if d > limit/2 {
			return limit // doubling would pass the cap (or overflow)
		}
		d *= 2
	}
	return d // New checked OpenTimeout <= MaxOpenTimeout
}

// backoff is the level after a failed half-open episode at level l: one
// doubling more, until the cap is reached (never, without a cap).
func (b *core) backoff(l uint) uint {
	if b.s.maxOpenTimeout == 0 || l == maxLevel || b.openFor(l) >= b.s.maxOpenTimeout {
		return l
	}
	return l + 1
}

// current returns the state word as of the reading now, first making the
// transitions that time alone causes: Open past its open time becomes
// HalfOpen, and a HalfOpen episode undecided HalfOpenTimeout after it began
// restarts. The new episode is dated when it began in theory (the deadline,
// plus any whole HalfOpenTimeouts that also passed), not when it was
// noticed, so the state is a function of time and not of who looks.
func (b *core) current(now time.Duration) word {
	for {
		w := b.load()
		if w.state() == Closed || w.forced() {
			return w
		}
		gen, _, start := b.meta.read()
		if genAfter(gen, w.gen()) {
			continue // w is stale: another goroutine has moved on since
		}
		if gen != w.gen() {
			return w // its CAS is nanoseconds old: no timeout can have passed
		}
		if now < start {
			return w
		}
		if hot := b.s.halfOpenTimeout; now-start >= hot {
			start += (now - start) / hot * hot
		}
		next := w.next(HalfOpen, false, w.level())
		if b.cas(w, next) {
			b.transitioned(w, next, start, "open timeout elapsed")
			return next
		}
	}
}

// retryAfter is the time until an open breaker whose word is w admits a
// probe; 0 when forced.
func (b *core) retryAfter(w word, now time.Duration) time.Duration {
	if w.forced() {
		return 0
	}
	gen, _, until := b.meta.read()
	switch {
	case genAfter(gen, w.gen()):
		return 0 // the breaker has moved on since w: a retry may be admitted
	case gen != w.gen():
		return b.openFor(w.level()) // w's transition is nanoseconds old
	}
	return until - now
}

// force moves the breaker to state s in a new generation, whatever it was.
func (b *core) force(s State, forced bool, resetLevel bool, reason string) {
	now := b.now()
	for {
		w := b.load()
		level := w.level()
		if resetLevel {
			level = 0
		}
		next := w.next(s, forced, level)
		if b.cas(w, next) {
			if s == Closed {
				b.clearWindow(now)
			}
			b.transitioned(w, next, now, reason)
			return
		}
	}
}

// ForceOpen opens the breaker and holds it open, with no timeout and no
// probes, until ForceClosed, ForceHalfOpen or Reset.
func (b *core) ForceOpen() { b.force(Open, true, false, "forced open") }

// ForceClosed closes the breaker with an empty window, cleared streaks and
// the backoff back at OpenTimeout; lifetime totals are kept. It does not
// hold the breaker closed: it trips again as usual.
func (b *core) ForceClosed() { b.force(Closed, false, true, "forced closed") }

// ForceHalfOpen starts a fresh half-open episode now, with a full pool of
// probe permits, keeping the backoff level.
func (b *core) ForceHalfOpen() { b.force(HalfOpen, false, false, "forced half-open") }

// Reset returns the breaker to its initial state: closed, with an empty
// window, cleared streaks and backoff, not forced. Only the lifetime totals
// survive. It differs from ForceClosed only in the Transition reason.
func (b *core) Reset() { b.force(Closed, false, true, "reset") }
