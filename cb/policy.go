package cb

// The trip policy: how a finished call is classified and counted, when
// the window's rates trip a closed breaker, and how a probe's outcome
// decides its half-open episode.

import (
	"time"

	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// classify turns fn's result into Success, Failure or Ignored.
func (b *Breaker[T]) classify(p *policy, v T, err error) Outcome {
	if b.classifier != nil {
		if o := b.classifier(v, err); o <= Ignored {
			return o
		}
		return Failure
	}
	return p.classifyErr(err)
}

// classifyErr classifies by the error alone, as configured.
func (p *policy) classifyErr(err error) Outcome {
	switch {
	case err == nil:
		return Success
	case p.defaultClassifiers:
		if defaultIsIgnored(err) {
			return Ignored
		}
		return Failure
	case p.isIgnored(err):
		return Ignored
	case p.isFailure(err):
		return Failure
	}
	return Success
}

// finishClosed classifies and counts a call admitted while closed under w
// that returned normally; its results come back in registers. The call is
// judged by the policy in force as it ends, loaded once.
func (b *Breaker[T]) finishClosed(w word, start time.Duration, val T, err error) (o Outcome, d time.Duration, slow, stale bool) {
	end := b.now()
	p := b.pol.Load()
	o = Success
	if err != nil || b.classifier != nil || !p.defaultClassifiers {
		o = b.classify(p, val, err)
	}
	d = subSat(end, start)
	slow = p.slowOn && d > p.slowDur
	if b.load() != w || o != Success || slow || p.tw == nil || !p.tw.RecordFastSuccess(end) {
		stale = b.countClosed(p, w, o, slow, end)
	} else if s := b.streak.Load(); s != streakOf(w) {
		b.streakEnd(w, s) // a fast success ends a failure streak
	}
	return o, d, slow, stale
}

// finish measures and counts, under the policy p, a call admitted under t,
// writing its results through v and r before the add that records it
// (see run). p comes last: the arguments before it fill the registers Go
// passes arguments in, and the error keeps two of them.
func (b *Breaker[T]) finish(t ticket, val T, err error, panicked bool, v *T, r *CallResult[T], p *policy) {
	end := b.now()
	d := subSat(end, t.start)
	slow := p.slowOn && d > p.slowDur
	o := Failure
	if !panicked {
		o = b.classify(p, val, err)
	}
	*v = val
	r.Value, r.Err, r.Outcome, r.State, r.Duration, r.Slow = val, err, o, t.state, d, slow
	if t.state == HalfOpen {
		r.Stale = b.countProbe(p, t, o, slow, end)
		return
	}
	r.Stale = b.countClosed(p, t.w, o, slow, end)
}

// countClosed applies, under the policy p, the outcome of a call admitted
// while closed in the generation of w and reports whether it was stale.
func (b *core) countClosed(p *policy, w word, o Outcome, slow bool, now time.Duration) bool {
	if b.load().gen() != w.gen() {
		b.counters.AddTally(ring.Stale)
		return true
	}
	if o == Ignored {
		b.counters.AddTally(ring.Ignored)
		return false
	}
	p.record(now, ring.KindOf(o == Failure, slow))
	if o == Success {
		if s := b.streak.Load(); s != streakOf(w) {
			b.streakEnd(w, s)
		}
		if slow {
			var c, sums ring.Counts
			p.window(now, &c, &sums)
			b.evaluate(p, w, now, &c, 0)
		}
		return false
	}
	n := b.streakAdd(w)
	var c, sums ring.Counts
	p.window(now, &c, &sums)
	b.markSuccesses(&sums)
	if p.streakLimit != 0 && n >= p.streakLimit {
		b.trip(p, w, now, ReasonConsecutiveFailures)
		return false
	}
	b.evaluate(p, w, now, &c, n)
	return false
}

// evaluate trips a closed breaker whose window holds at least MinimumCalls
// and whose failure or slow-call rate has reached its threshold, or, when
// neither has, whose TripRule says so, given the window c and the failure
// streak n. It runs only after a failure or a slow call: a fast success
// cannot raise a rate, and a TripRule costs nothing on the success path.
//
// With a fleet's window (see FleetLink) whose quorum holds, the rates
// judge the local window and the fleet's together first, then the local
// window alone: one sick replica's own rates still open its own breaker
// when the fleet's healthy counts dilute them. The TripRule is asked of
// the joined window.
func (b *core) evaluate(p *policy, w word, now time.Duration, c *ring.Counts, n uint64) {
	joined, fleet := b.judgeWithFleet(w, c)
	if fleet && b.rateTrip(p, w, now, joined, ReasonFleetFailureRate, ReasonFleetSlowCallRate) {
		return
	}
	if b.rateTrip(p, w, now, c, ReasonFailureRate, ReasonSlowCallRate) {
		return
	}
	if p.tripRule != nil && p.askTripRule(joined, n) {
		b.trip(p, w, now, ReasonTripRule)
	}
}

// rateTrip trips the breaker, giving the reason failRate or slowRate,
// when the window c holds at least MinimumCalls and a rate has reached
// its threshold, and reports whether it did.
func (b *core) rateTrip(p *policy, w word, now time.Duration, c *ring.Counts, failRate, slowRate Reason) bool {
	calls := c.Calls()
	if calls < p.minCalls || calls == 0 {
		return false
	}
	switch {
	case p.failRate > 0 && float64(c.Failures())/float64(calls) >= p.failRate:
		b.trip(p, w, now, failRate)
	case p.slowOn && p.slowRate > 0 && float64(c.Slow())/float64(calls) >= p.slowRate:
		b.trip(p, w, now, slowRate)
	default:
		return false
	}
	return true
}

// askTripRule returns what the TripRule says of the window c and the
// failure streak n; false if it panics.
func (p *policy) askTripRule(c *ring.Counts, n uint64) (trip bool) {
	defer func() {
		if recover() != nil {
			trip = false
		}
	}()
	return p.tripRule(TripCounts{
		Calls: c.Calls(), Failures: c.Failures(), SlowCalls: c.Slow(), SlowFailures: c[ring.SlowFailure],
		ConsecutiveFailures: n,
	})
}

// countProbe applies the outcome of a half-open probe with one CAS on the
// state word, which also decides whether it is stale. With slow-call
// tracking on, a slow success fails the episode as a failure does: a
// dependency that answers slowly has not recovered, and closing on it
// would trip again on the slow-call rate at once.
func (b *core) countProbe(p *policy, t ticket, o Outcome, slow bool, now time.Duration) bool {
	for {
		// current first: an episode whose HalfOpenTimeout has passed has
		// failed, even if nobody has looked since, and this probe is then
		// stale.
		w := b.catchUp(now, p)
		if w.gen() != t.w.gen() {
			b.counters.AddTally(ring.Stale)
			return true
		}
		switch {
		case o == Ignored:
			if b.cas(w, w.withPermits(w.permits()-1)) {
				b.counters.AddTally(ring.Ignored)
				return false
			}
		case o == Failure || slow:
			next := w.nextGen(Open, false, p.backoff(w.level()))
			if b.cas(w, next) {
				b.probes[ring.KindOf(o == Failure, slow)].Inc()
				b.probeStreak(o == Failure)
				b.markSuccesses(nil)
				reason := ReasonProbeFailed
				if o != Failure {
					reason = ReasonProbeSlow
				}
				b.transitioned(p, w, next, now, reason)
				return false
			}
		case w.probeSuccesses()+1 >= p.successThreshold:
			// The closing word carries this probe's success, which the
			// close's one clear counts (see clearFor): counted here, the
			// restarted success streak could include or miss it depending
			// on who completes the close first.
			if b.close(p, w, w.nextGen(closing, false, 0).withProbeSuccesses(1), now, ReasonProbesSucceeded) {
				return false
			}
		case b.cas(w, w.withProbeSuccesses(w.probeSuccesses()+1)):
			b.probes[ring.Success].Inc()
			b.probeStreak(false)
			return false
		}
	}
}

// record counts an outcome of kind k ending at now in the window.
func (p *policy) record(now time.Duration, k ring.Kind) {
	if p.tw != nil {
		p.tw.Record(now, k)
	} else {
		p.cw.Record(k)
	}
}

// window returns the window's counts and the lifetime sums of counted
// closed-state outcomes as of now.
// They are written through pointers, not returned: see ring.Stripes.SumTo.
func (p *policy) window(now time.Duration, window, sums *ring.Counts) {
	if p.tw != nil {
		p.tw.Snapshot(now, window, sums)
	} else {
		p.cw.Snapshot(window, sums)
	}
}

// probeTotals returns the lifetime counts of probe outcomes.
func (b *core) probeTotals() ring.Counts {
	var c ring.Counts
	for k := range c {
		c[k] = b.probes[k].Load()
	}
	return c
}

// markSuccesses restarts ConsecutiveSuccesses: it stores the lifetime
// count of counted successes, given sums, the closed-state ones (probe
// successes are in the streak too, so a breaker forced open from
// half-open still shows them). A nil sums is summed here.
func (b *core) markSuccesses(sums *ring.Counts) {
	if sums == nil {
		sums = new(ring.Counts)
		b.counters.SumTo(sums)
	}
	b.successBase.Store(sums.Successes() + b.probes[ring.Success].Load() + b.probes[ring.SlowSuccess].Load())
}

// streakAdd counts a failure in the streak of w's closed generation and
// returns the new count, or 0 when the streak already belongs to a newer
// generation (the call outlived its own).
func (b *core) streakAdd(w word) uint64 {
	tag := streakOf(w)
	for {
		s := b.streak.Load()
		n := s & maxStreak
		switch {
		case s&^maxStreak != tag:
			return 0
		case n == maxStreak:
			return n
		case b.streak.CompareAndSwap(s, s+1):
			return n + 1
		}
	}
}

// streakEnd ends the failure streak s, read by a success of w's closed
// generation, if it is that generation's. A success racing a failure may
// lose its CAS: then the failure came after it.
func (b *core) streakEnd(w word, s uint64) {
	if s&^maxStreak == streakOf(w) {
		b.streak.CompareAndSwap(s, streakOf(w))
	}
}

// probeStreak counts a probe's outcome in the failure streak, which runs
// on from the closed generation that tripped: a failure adds one, a
// success ends it.
func (b *core) probeStreak(failed bool) {
	for {
		s := b.streak.Load()
		next := s &^ maxStreak
		if failed {
			next = s + 1
			if s&maxStreak == maxStreak {
				return
			}
		}
		if next == s || b.streak.CompareAndSwap(s, next) {
			return
		}
	}
}
