package cb

import (
	"runtime"
	"time"

	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// The state machine: every change of the state word but a probe permit,
// and the publishing and telling that follow each.

// trip opens a closed breaker whose word was w. Only the state word's CAS
// decides: a loser finds the generation moved and does nothing.
func (b *core) trip(p *policy, w word, now time.Duration, reason Reason) {
	next := w.nextGen(Open, false, 0)
	if b.cas(w, next) {
		b.transitioned(p, w, next, now, reason)
	}
}

// transitioned finishes a transition whose CAS this goroutine won: it
// publishes the reading the generation began at and tells the listener.
// p, the policy the transition was decided under, sets an open time.
func (b *core) transitioned(p *policy, from, to word, start time.Duration, reason Reason) {
	b.publishDates(p, to, start)
	if b.count(from, to, reason) {
		b.tell(from, to, reason)
	}
}

// publishDates publishes the reading the generation of to began at, and
// the deadline p gives it.
func (b *core) publishDates(p *policy, to word, start time.Duration) {
	deadline := endOfTime // closed or forced: time ends nothing
	switch {
	case to.forced():
	case to.state() == Open:
		deadline = addSat(start, p.openFor(to.level()))
	case to.state() == HalfOpen:
		deadline = noDeadline
	}
	b.dates.publish(to.gen(), start, deadline)
}

// count counts the transition from from to to in Metrics.Transitions and
// reports whether it is one listeners hear: a new generation that changes
// nothing they would see is neither.
func (b *core) count(from, to word, reason Reason) bool {
	if from.public() == to.public() && from.forced() == to.forced() {
		return false
	}
	b.transitions[reason].Inc()
	return true
}

// tell has the listeners hear the transition from from to to.
func (b *core) tell(from, to word, reason Reason) {
	b.listeners.Tell(Transition{Name: b.name, From: from.public(), To: to.public(), Generation: to.gen(), Reason: reason})
}

// openFor is the open time at backoff level l.
func (p *policy) openFor(l uint) time.Duration {
	d, limit := p.openTimeout, p.maxOpenTimeout
	for ; l > 0 && d < limit; l-- {
		if d > limit/2 {
			return limit // doubling would pass the cap (or overflow)
		}
		d *= 2
	}
	return d // resolve checked OpenTimeout <= MaxOpenTimeout
}

// backoff is the level after a failed half-open episode at level l: one
// doubling more, until the cap is reached (never, without a cap).
func (p *policy) backoff(l uint) uint {
	if p.maxOpenTimeout == 0 || l == maxLevel || p.openFor(l) >= p.maxOpenTimeout {
		return l
	}
	return l + 1
}

// catchUp returns the state word as of the reading now, first completing
// a close under way and making the transitions that time alone causes:
// Open past its open time becomes HalfOpen, and a half-open episode whose
// probe has been out HalfOpenTimeout fails and reopens. Each is dated at
// its deadline, not when it was noticed, so the state is a function of
// time and not of who looks. p sets the open time of a failed episode.
func (b *core) catchUp(now time.Duration, p *policy) word {
	for {
		w := b.load()
		switch {
		case w.state() == closing:
			b.completeClose(w, now)
			continue
		case w.state() == Closed || w.forced():
			return w
		}
		gen, _, deadline := b.dates.read()
		if genAfter(gen, w.gen()) {
			continue // w is stale: another goroutine has moved on since
		}
		if gen != w.gen() || !due(now, deadline) {
			return w // a generation not yet published is nanoseconds old: no deadline has passed
		}
		if w.state() == Open {
			if b.held(w) {
				return w // the fleet grants probes (see FleetLink.HoldProbes)
			}
			next := w.nextGen(HalfOpen, false, w.level())
			if b.cas(w, next) {
				b.transitioned(p, w, next, deadline, ReasonOpenTimeout)
			}
			continue
		}
		if w.permits() == w.probeSuccesses() {
			return w // no probe is out: the next one starts a new deadline
		}
		next := w.nextGen(Open, false, p.backoff(w.level()))
		if b.cas(w, next) {
			b.transitioned(p, w, next, deadline, ReasonHalfOpenTimeout)
		}
	}
}

// retryAfter is the time until an open breaker whose word is w admits a
// probe; 0 when forced.
func (b *core) retryAfter(p *policy, w word, now time.Duration) time.Duration {
	if w.forced() {
		return 0
	}
	gen, _, deadline := b.dates.read()
	switch {
	case genAfter(gen, w.gen()):
		return 0 // the breaker has moved on since w: a retry may be admitted
	case gen != w.gen():
		return p.openFor(w.level()) // w's transition is nanoseconds old
	}
	return max(subSat(deadline, now), 0)
}

// forcing is what a Force or Reset does to the state word.
type forcing uint8

const (
	holdOpen   forcing = iota // open and forced, the backoff level kept
	closeFresh                // closed, the backoff level back to 0
	probeFresh                // a fresh half-open episode, the backoff level kept
)

// force moves the breaker as f says, in a new generation, whatever it
// was.
func (b *core) force(f forcing, reason Reason) {
	now := b.now()
	p := b.pol.Load()
	for {
		w := b.load()
		if w.state() == closing {
			// Completed first, so that every closing word is cleared once
			// and the success of a probe that closed is counted.
			b.completeClose(w, now)
			continue
		}
		switch f {
		case closeFresh:
			if b.close(p, w, w.nextGen(closing, false, 0), now, reason) {
				return
			}
			continue
		case holdOpen:
			if next := w.nextGen(Open, true, w.level()); b.cas(w, next) {
				b.transitioned(p, w, next, now, reason)
				return
			}
		case probeFresh:
			if next := w.nextGen(HalfOpen, false, w.level()); b.cas(w, next) {
				b.transitioned(p, w, next, now, reason)
				return
			}
		}
	}
}

// close moves the breaker from w to next, a closing word, and completes
// the close: the window and the failure streak are emptied before the
// word admits calls again, then the listener is told. It reports whether
// its CAS won.
func (b *core) close(p *policy, w, next word, now time.Duration, reason Reason) bool {
	if !b.cas(w, next) {
		return false
	}
	// Dated and counted at once: whoever completes the close (a call or
	// a reader may, before the closer) sees the breaker closed, and with
	// it when that began and the change counted.
	to := next.settled()
	b.publishDates(p, to, now)
	told := b.count(w, to, reason)
	if h := b.closingHook; h != nil {
		h()
	}
	b.completeClose(next, now)
	if told {
		b.tell(w, to, reason)
	}
	return true
}

// completeClose completes the close of the closing word w: whoever finds the
// word closing (the closer, or any call or reader) empties the window and
// the streak for w's generation, once, then admits calls with one CAS.
// Nobody waits for a closer that was descheduled between its two CASes.
func (b *core) completeClose(w word, now time.Duration) {
	b.clearFor(w, now)
	b.cas(w, w.settled())
}

// clearFor empties the window and the streaks for the closed generation of
// w, unless that (or a newer) generation's clear is already done. The
// cleared word is gen<<1 | busy: clears are serialized, and a clear that
// comes late for an older generation does nothing, so it can never empty
// the window of a generation already admitting calls. The policy is read
// under the claim, which Reconfigure also takes to publish a new one, so
// the window emptied is the one in force (see publishPolicy).
func (b *core) clearFor(w word, now time.Duration) {
	gen := w.gen()
	for {
		c := b.cleared.Load()
		switch {
		case c&1 == 1:
			runtime.Gosched() // another clear is a few stores from done
		case !genAfter(gen, c>>1):
			return
		case b.cleared.CompareAndSwap(c, gen<<1|1):
			if p := b.pol.Load(); p.tw != nil {
				p.tw.Clear(now)
			} else {
				p.cw.Clear()
			}
			if w.probeSuccesses() != 0 {
				b.probes[ring.Success].Inc() // the success of the probe that closed (see countProbe)
			}
			b.streak.Store(streakOf(w))
			b.fleet.Store(nil) // counted for the period that ended
			b.markSuccesses(nil)
			b.cleared.Store(gen << 1)
			return
		}
	}
}

// ForceOpen opens the breaker and holds it open, with no timeout and no
// probes, until ForceClosed, ForceHalfOpen or Reset.
func (b *core) ForceOpen() { b.force(holdOpen, ReasonForcedOpen) }

// ForceClosed closes the breaker with an empty window, cleared streaks and
// the backoff back at OpenTimeout; lifetime totals are kept. It does not
// hold the breaker closed: it trips again as usual.
func (b *core) ForceClosed() { b.force(closeFresh, ReasonForcedClosed) }

// ForceHalfOpen starts a fresh half-open episode now, with a full pool of
// probe permits, keeping the backoff level.
func (b *core) ForceHalfOpen() { b.force(probeFresh, ReasonForcedHalfOpen) }

// Reset returns the breaker to its initial state: closed, with an empty
// window, cleared streaks and backoff, not forced. Only the lifetime totals
// survive. It differs from ForceClosed only in the Transition reason.
func (b *core) Reset() { b.force(closeFresh, ReasonReset) }
