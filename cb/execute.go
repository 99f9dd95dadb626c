package cb

import (
	"context"
	"time"

	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// ticket is an admitted call: the state word and state that admitted it
// and the reading it started at.
type ticket struct {
	w     word
	state State
	start time.Duration
}

// Execute runs fn if the breaker admits it and counts its outcome. It
// returns fn's value (the zero T when rejected) and the CallResult. A panic
// in fn is counted as a failure and continues with the same value.
//
// The closed path is written out here, without the general run and
// finish, which serve every state through pointers.
func (b *Breaker[T]) Execute(fn func() (T, error)) (v T, r CallResult[T]) {
	if fn == nil {
		panic("tripswitch: Execute called with a nil func")
	}
	w := b.load()
	if w.state() != Closed {
		now := b.now()
		if ra, ok := b.rejectOpen(w, now); ok {
			r.Err, r.RetryAfter, r.Outcome, r.State = b.openErr, ra, Rejected, Open
			return v, r
		}
		b.executeSlow(fn, now, &v, &r)
		return v, r
	}
	start := b.now()
	done := false
	defer b.guard(&done, w, start)
	val, err := fn()
	o, d, slow, stale := b.closedDone(w, start, val, err)
	done = true
	r.Value, r.Err, r.Duration, r.State, r.Outcome, r.Slow, r.Stale = val, err, d, Closed, o, slow, stale
	return val, r
}

// Call runs fn if the breaker admits it and counts its outcome, as Execute
// does, and returns what fn returned. When the breaker rejects the call,
// fn does not run, and Call returns the zero T and an error matching
// ErrOpen (the breaker's *OpenError, with no allocation). A panic in fn is
// counted as a failure and continues with the same value.
//
// Call suits callers that want only fn's own (T, error), and it is the
// cheaper of the two: Go returns (T, error) in registers but a
// CallResult[T] through memory, which measured about 8 ns of a 20 ns
// closed success in the hot config (BenchmarkExecuteSuccess against
// BenchmarkCallSuccess).
func (b *Breaker[T]) Call(fn func() (T, error)) (T, error) {
	if fn == nil {
		panic("tripswitch: Call called with a nil func")
	}
	w := b.load()
	if w.state() != Closed {
		now := b.now()
		var v T
		if _, ok := b.rejectOpen(w, now); ok {
			return v, b.openErr
		}
		var r CallResult[T]
		b.executeSlow(fn, now, &v, &r)
		return v, r.Err
	}
	start := b.now()
	done := false
	defer b.guard(&done, w, start)
	val, err := fn()
	b.closedDone(w, start, val, err)
	done = true
	return val, err
}

// closedDone classifies and counts a call admitted while closed under w
// that returned normally; its results come back in registers.
func (b *Breaker[T]) closedDone(w word, start time.Duration, val T, err error) (o Outcome, d time.Duration, slow, stale bool) {
	end := b.now()
	o = Success
	if err != nil || b.classifier != nil || !b.s.defaultClassifiers {
		o = b.classify(val, err)
	}
	d = subSat(end, start)
	slow = b.s.slowOn && d > b.s.slowDur
	if b.load() != w || o != Success || slow || b.tw == nil || !b.tw.Fast(end) {
		stale = b.countClosed(w, o, slow, end)
	} else if s := b.streak.Load(); s != streakOf(w) {
		b.streakEnd(w, s) // a fast success ends a failure streak
	}
	return o, d, slow, stale
}

// rejectOpen counts and reports a rejection when w is open and, at now,
// still before its deadline (or forced), with the time left until a probe
// may be admitted. Anything else (half-open, a deadline passed, a
// generation not yet published) is left to admitSlow.
func (b *core) rejectOpen(w word, now time.Duration) (retryAfter time.Duration, ok bool) {
	if w.state() != Open {
		return 0, false
	}
	if !w.forced() {
		gen, _, until := b.meta.read()
		if gen != w.gen() || due(now, until) {
			return 0, false
		}
		retryAfter = subSat(until, now)
	}
	b.sums.AddTally(ring.Rejected)
	return retryAfter, true
}

// guard counts a failure for a closed call whose fn or classifier
// panicked (done still false), leaving the panic to go on unchanged.
func (b *core) guard(done *bool, w word, start time.Duration) {
	if !*done {
		end := b.now()
		b.countClosed(w, Failure, b.s.slowOn && subSat(end, start) > b.s.slowDur, end)
	}
}

// executeSlow is Execute when the breaker is neither closed nor plainly
// open when the call arrives at now.
func (b *Breaker[T]) executeSlow(fn func() (T, error), now time.Duration, v *T, r *CallResult[T]) {
	t, ok := b.admitSlow(now)
	if !ok {
		b.reject(r, t)
		return
	}
	b.run(t, fn, nil, v, r)
}

// ExecuteContext is Execute for context-aware calls. A ctx already done is
// refused before admission: fn does not run, no permit is taken, and the
// result is Ignored with Err = ctx.Err() (counted in TotalIgnored).
// Cancellation seen by fn is ignored by default (Config.IsIgnored), while a
// deadline exceeded counts as a failure.
func (b *Breaker[T]) ExecuteContext(ctx context.Context, fn func(context.Context) (T, error)) (v T, r CallResult[T]) {
	switch {
	case ctx == nil:
		panic("tripswitch: ExecuteContext called with a nil Context")
	case fn == nil:
		panic("tripswitch: ExecuteContext called with a nil func")
	}
	if err := ctx.Err(); err != nil {
		r.Err, r.Outcome, r.State = err, Ignored, b.load().public()
		b.sums.AddTally(ring.Ignored)
		return v, r
	}
	t, ok := b.admit()
	if !ok {
		b.reject(&r, t)
		return v, r
	}
	b.run(t, nil, func() (T, error) { return fn(ctx) }, &v, &r)
	return v, r
}

// run calls fn (or fnc) under ticket t and writes the results through v
// and r. A panic in fn or in the classifier skips the normal return, so
// the deferred check sees done false and counts a failure (returning a
// probe permit) without recovering: the panic goes on unchanged.
//
// Why pointers: (T, CallResult[T]) is too wide for registers, so results
// travel through memory, and a caller that loads them 16 bytes at a time
// stalls on every field stored one by one just before (a failed store
// forward, which cost more than the whole hot path on the benchmark
// machines). finish therefore stores every field before the atomic add
// that records the outcome; that locked add drains the store buffer, so
// the caller's loads find the fields in cache.
func (b *Breaker[T]) run(t ticket, fn, fnc func() (T, error), v *T, r *CallResult[T]) {
	done := false
	defer func() {
		if !done {
			var zero T
			b.finish(t, zero, nil, true, v, r)
		}
	}()
	if fn == nil {
		fn = fnc
	}
	val, err := fn()
	b.finish(t, val, err, false, v, r)
	done = true
}

// admit decides whether a call may run now. A closed breaker admits without
// reading the clock for the decision.
func (b *core) admit() (ticket, bool) {
	if w := b.load(); w.state() == Closed {
		return ticket{w: w, state: Closed, start: b.now()}, true
	}
	return b.admitSlow(b.now())
}

// admitSlow admits in Open (after its timeout) and HalfOpen. A refusal
// returns ok false with the ticket's start set to the retry delay.
//
// A probe taken while no other is out starts the episode's clock: its
// deadline, HalfOpenTimeout from now, is published before the CAS that
// takes the permit, so no probe is ever out without one. An episode
// waiting for traffic therefore never times out, and a probe always has
// the whole HalfOpenTimeout to answer.
func (b *core) admitSlow(now time.Duration) (ticket, bool) {
	for {
		w := b.current(now)
		switch {
		case w.state() == Closed:
			return ticket{w: w, state: Closed, start: now}, true
		case w.state() == Open:
			return ticket{w: w, state: Open, start: b.retryAfter(w, now)}, false
		case w.issued() >= b.s.halfOpenMaxCalls:
			return ticket{w: w, state: HalfOpen}, false
		}
		if w.issued() == w.succ() {
			gen, since, _ := b.meta.read()
			if gen != w.gen() {
				// w's transition is nanoseconds old and not yet dated; a
				// fresh reading is not before it (now may be).
				since = b.now()
			}
			// A reading taken before the episode began (by a caller
			// descheduled since) must not shorten the probe's time.
			b.meta.extend(w.gen(), since, addSat(max(now, since), b.s.halfOpenTimeout))
		}
		if b.cas(w, w.withIssued(w.issued()+1)) {
			return ticket{w: w, state: HalfOpen, start: now}, true
		}
	}
}

// reject fills r for a call refused under t (see admitSlow) and counts the
// rejection, after the stores (see run).
func (b *Breaker[T]) reject(r *CallResult[T], t ticket) {
	r.Outcome, r.State, r.Err, r.RetryAfter = Rejected, t.state, b.rejectErr(t), t.start
	b.sums.AddTally(ring.Rejected)
}

// rejectErr is the preallocated error of a call refused under t.
func (b *core) rejectErr(t ticket) error {
	if t.state == HalfOpen {
		return b.probeErr
	}
	return b.openErr
}

// classify turns fn's result into Success, Failure or Ignored.
func (b *Breaker[T]) classify(v T, err error) Outcome {
	if b.classifier != nil {
		if o := b.classifier(v, err); o <= Ignored {
			return o
		}
		return Failure
	}
	return b.classifyErr(err)
}

// classifyErr classifies by the error alone, as configured.
func (b *core) classifyErr(err error) Outcome {
	switch {
	case err == nil:
		return Success
	case b.s.defaultClassifiers:
		if defaultIsIgnored(err) {
			return Ignored
		}
		return Failure
	case b.s.isIgnored(err):
		return Ignored
	case b.s.isFailure(err):
		return Failure
	}
	return Success
}

// finish measures and counts a call admitted under t, writing its results
// through v and r before the add that records it (see run).
func (b *Breaker[T]) finish(t ticket, val T, err error, panicked bool, v *T, r *CallResult[T]) {
	end := b.now()
	d := subSat(end, t.start)
	slow := b.s.slowOn && d > b.s.slowDur
	o := Failure
	if !panicked {
		o = b.classify(val, err)
	}
	*v = val
	r.Value, r.Err, r.Outcome, r.State, r.Duration, r.Slow = val, err, o, t.state, d, slow
	if t.state == HalfOpen {
		r.Stale = b.countProbe(t, o, slow, end)
		return
	}
	r.Stale = b.countClosed(t.w, o, slow, end)
}

// countClosed applies the outcome of a call admitted while closed in the
// generation of w and reports whether it was stale.
func (b *core) countClosed(w word, o Outcome, slow bool, now time.Duration) bool {
	if b.load().gen() != w.gen() {
		b.sums.AddTally(ring.Stale)
		return true
	}
	if o == Ignored {
		b.sums.AddTally(ring.Ignored)
		return false
	}
	b.record(now, ring.KindOf(o == Failure, slow))
	if o == Success {
		if s := b.streak.Load(); s != streakOf(w) {
			b.streakEnd(w, s)
		}
		if slow {
			var c, sums ring.Counts
			b.window(now, &c, &sums)
			b.evaluate(w, now, &c)
		}
		return false
	}
	n := b.streakAdd(w)
	var c, sums ring.Counts
	b.window(now, &c, &sums)
	b.markSuccesses(&sums)
	if b.s.consecutive != 0 && n >= b.s.consecutive {
		b.trip(w, now, ReasonConsecutiveFailures)
		return false
	}
	b.evaluate(w, now, &c)
	return false
}

// evaluate trips a closed breaker whose window holds at least MinimumCalls
// and whose failure or slow-call rate has reached its threshold. It runs
// only after a failure or a slow call: a fast success cannot raise a rate.
func (b *core) evaluate(w word, now time.Duration, c *ring.Counts) {
	calls := c.Calls()
	if calls < b.s.minCalls || calls == 0 {
		return
	}
	switch {
	case b.s.failRate > 0 && float64(c.Failures())/float64(calls) >= b.s.failRate:
		b.trip(w, now, ReasonFailureRate)
	case b.s.slowOn && b.s.slowRate > 0 && float64(c.Slow())/float64(calls) >= b.s.slowRate:
		b.trip(w, now, ReasonSlowCallRate)
	}
}

// countProbe applies the outcome of a half-open probe with one CAS on the
// state word, which also decides whether it is stale. With slow-call
// tracking on, a slow success fails the episode as a failure does: a
// dependency that answers slowly has not recovered, and closing on it
// would trip again on the slow-call rate at once.
func (b *core) countProbe(t ticket, o Outcome, slow bool, now time.Duration) bool {
	for {
		// current first: an episode whose HalfOpenTimeout has passed has
		// failed, even if nobody has looked since, and this probe is then
		// stale.
		w := b.current(now)
		if w.gen() != t.w.gen() {
			b.sums.AddTally(ring.Stale)
			return true
		}
		switch {
		case o == Ignored:
			if b.cas(w, w.withIssued(w.issued()-1)) {
				b.sums.AddTally(ring.Ignored)
				return false
			}
		case o == Failure || slow:
			next := w.next(Open, false, b.backoff(w.level()))
			if b.cas(w, next) {
				b.probes[ring.KindOf(o == Failure, slow)].Inc()
				b.probeStreak(o == Failure)
				b.markSuccesses(nil)
				reason := ReasonProbeFailed
				if o != Failure {
					reason = ReasonProbeSlow
				}
				b.transitioned(w, next, now, reason)
				return false
			}
		case w.succ()+1 >= b.s.successThreshold:
			b.probes[ring.Success].Inc()
			if b.close(w, w.next(closing, false, 0), now, ReasonProbesSucceeded) {
				return false
			}
			b.probes[ring.Success].Dec() // not this probe's close after all: look again
		case b.cas(w, w.withSucc(w.succ()+1)):
			b.probes[ring.Success].Inc()
			b.probeStreak(false)
			return false
		}
	}
}
