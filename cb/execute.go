package cb

// Admission and the entry points: Execute, Call and ExecuteContext, and
// the admission they share with Allow.

import (
	"context"
	"time"

	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// ticket is admission's answer: the state word and state that admitted
// (or refused) a call, and the reading it arrived at (see
// refusedRetryAfter for what a refusal reports).
type ticket struct {
	w     word
	state State // with shadowRun set on a refusal shadow mode runs all the same
	start time.Duration
}

// shadowRun marks, in ticket.state, a refused call that shadow mode runs
// all the same. It is a bit of the state, not a field of its own: Go keeps
// a struct of at most four fields in registers, and a fifth puts every
// ticket in memory, where Allow's copies of it stall on store forwarding.
const shadowRun State = 4

// shadow reports whether t refused a call that shadow mode runs.
func (t ticket) shadow() bool { return t.state&shadowRun != 0 }

// Execute runs fn if the breaker admits it and counts its outcome. It
// returns fn's value (the zero T when rejected) and the CallResult. A panic
// in fn is counted as a failure and continues with the same value. A nil
// fn panics before admission and counts nothing.
func (b *Breaker[T]) Execute(fn func() (T, error)) (v T, r CallResult[T]) {
	if fn == nil {
		panic("tripswitch: Execute called with a nil func")
	}
	// The closed path is written out here, apart from run and finish,
	// which serve every state through pointers.
	w := b.load()
	if w.state() != Closed {
		now := b.now()
		if ra, ok := b.rejectOpen(w, now); ok {
			r.Err, r.RetryAfter, r.Outcome, r.State = b.openErr, ra, Rejected, Open
			return v, r
		}
		b.executeNotClosed(fn, now, &v, &r)
		return v, r
	}
	start := b.now()
	done := false
	defer b.countPanicked(&done, w, start)
	val, err := fn()
	o, d, slow, stale := b.finishClosed(w, start, val, err)
	done = true
	r.Value, r.Err, r.Duration, r.State, r.Outcome, r.Slow, r.Stale = val, err, d, Closed, o, slow, stale
	return val, r
}

// Call runs fn if the breaker admits it and counts its outcome, as Execute
// does, and returns what fn returned. When the breaker rejects the call,
// fn does not run, and Call returns the zero T and an error matching
// ErrOpen (the breaker's *OpenError, with no allocation; its RetryAfter
// says when to try again). A panic in fn is counted as a failure and
// continues with the same value.
//
// Call suits callers that want only fn's own (T, error), and it is the
// cheaper of the two: Go returns (T, error) in registers but a
// CallResult[T] through memory (the benchmarks measure the difference).
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
		b.executeNotClosed(fn, now, &v, &r)
		return v, r.Err
	}
	start := b.now()
	done := false
	defer b.countPanicked(&done, w, start)
	val, err := fn()
	b.finishClosed(w, start, val, err)
	done = true
	return val, err
}

// ExecuteContext is Execute for context-aware calls. A ctx already done is
// refused before admission: fn does not run, no permit is taken, and the
// result is Ignored with Err = ctx.Err() (counted in TotalIgnored).
// Cancellation seen by fn is ignored by default (Config.IsIgnored), while a
// deadline exceeded counts as a failure. A nil ctx or fn panics before
// admission and counts nothing.
func (b *Breaker[T]) ExecuteContext(ctx context.Context, fn func(context.Context) (T, error)) (v T, r CallResult[T]) {
	switch {
	case ctx == nil:
		panic("tripswitch: ExecuteContext called with a nil Context")
	case fn == nil:
		panic("tripswitch: ExecuteContext called with a nil func")
	}
	if err := ctx.Err(); err != nil {
		r.Err, r.Outcome, r.State = err, Ignored, b.load().public()
		b.counters.AddTally(ring.Ignored)
		return v, r
	}
	t, ok := b.admit()
	switch {
	case ok:
		b.run(t, func() (T, error) { return fn(ctx) }, &v, &r)
	case t.shadow():
		b.runShadow(t, func() (T, error) { return fn(ctx) }, &v, &r)
	default:
		b.reject(&r, t)
	}
	return v, r
}

// executeNotClosed is Execute when the breaker is neither closed nor plainly
// open when the call arrives at now (or is in shadow mode).
func (b *Breaker[T]) executeNotClosed(fn func() (T, error), now time.Duration, v *T, r *CallResult[T]) {
	t, ok := b.admitNotClosed(now)
	switch {
	case ok:
		b.run(t, fn, v, r)
	case t.shadow():
		b.runShadow(t, fn, v, r)
	default:
		b.reject(r, t)
	}
}

// rejectOpen counts and reports a rejection when w is open and, at now,
// still before its deadline (or forced), with the time left until a probe
// may be admitted. Anything else (half-open, a deadline passed, a
// generation not yet published, shadow mode) is left to admitNotClosed.
func (b *core) rejectOpen(w word, now time.Duration) (retryAfter time.Duration, ok bool) {
	if w.state() != Open {
		return 0, false
	}
	if !w.forced() {
		gen, _, deadline := b.dates.read()
		if gen != w.gen() || due(now, deadline) {
			return 0, false
		}
		retryAfter = subSat(deadline, now)
	}
	if b.pol.Load().shadow {
		return 0, false
	}
	b.counters.AddTally(ring.Rejected)
	return retryAfter, true
}

// countPanicked counts a failure for a closed call whose fn or classifier
// panicked (done still false), leaving the panic to go on unchanged.
func (b *core) countPanicked(done *bool, w word, start time.Duration) {
	if !*done {
		end := b.now()
		p := b.pol.Load()
		b.countClosed(p, w, Failure, p.slowOn && subSat(end, start) > p.slowDur, end)
	}
}

// run calls fn under ticket t and writes the results through v and r. A
// panic in fn or in the classifier skips the normal return, so the
// deferred check sees done false and counts a failure (returning a probe
// permit) without recovering: the panic goes on unchanged.
func (b *Breaker[T]) run(t ticket, fn func() (T, error), v *T, r *CallResult[T]) {
	// Results go through pointers: (T, CallResult[T]) is too wide for
	// registers, and a caller that loads them 16 bytes at a time stalls on
	// fields stored one by one just before (a failed store forward).
	// finish stores every field before the atomic add that records the
	// outcome, which drains the store buffer. The policy is loaded once,
	// as fn returns, and judges the call whatever happens next.
	done := false
	var p *policy
	defer func() {
		if !done {
			if p == nil {
				p = b.pol.Load()
			}
			var zero T
			b.finish(t, zero, nil, true, v, r, p)
		}
	}()
	val, err := fn()
	p = b.pol.Load()
	b.finish(t, val, err, false, v, r, p)
	done = true
}

// runShadow runs fn for a call that the breaker, in shadow mode, refused
// under t: it is counted as the rejection it would have been, before fn
// runs (as a rejection is counted when made), and its outcome counts
// nowhere else, since enforcing it would not have run. r reports fn's
// result with WouldReject set; a panic in fn goes on, counting nothing
// more.
func (b *Breaker[T]) runShadow(t ticket, fn func() (T, error), v *T, r *CallResult[T]) {
	b.counters.AddTally(ring.Rejected)
	ra := b.refusedRetryAfter(t)
	val, err := fn()
	d := subSat(b.now(), t.start)
	p := b.pol.Load()
	o := b.classify(p, val, err)
	*v = val
	r.Value, r.Err, r.Outcome, r.State, r.Duration, r.RetryAfter = val, err, o, t.state&^shadowRun, d, ra
	r.Slow, r.WouldReject = p.slowOn && d > p.slowDur, true
}

// admit decides whether a call may run now. A closed breaker admits without
// reading the clock for the decision.
func (b *core) admit() (ticket, bool) {
	if w := b.load(); w.state() == Closed {
		return ticket{w: w, state: Closed, start: b.now()}, true
	}
	return b.admitNotClosed(b.now())
}

// admitNotClosed admits in Open (after its timeout) and HalfOpen. A
// refusal returns ok false, with shadow set when the breaker runs the
// call all the same.
//
// A probe taken while no other is out starts the episode's clock: its
// deadline, HalfOpenTimeout from now, is published before the CAS that
// takes the permit, so no probe is ever out without one. An episode
// waiting for traffic therefore never times out, and a probe always has
// the whole HalfOpenTimeout to answer.
func (b *core) admitNotClosed(now time.Duration) (ticket, bool) {
	p := b.pol.Load()
	for {
		w := b.catchUp(now, p)
		switch {
		case w.state() == Closed:
			return ticket{w: w, state: Closed, start: now}, true
		case w.state() == Open:
			return ticket{w: w, state: Open | p.shadowMark, start: now}, false
		case w.permits() >= p.halfOpenMaxCalls:
			return ticket{w: w, state: HalfOpen | p.shadowMark, start: now}, false
		}
		if w.permits() == w.probeSuccesses() {
			gen, start, _ := b.dates.read()
			if gen != w.gen() {
				// w's transition is nanoseconds old and not yet dated; a
				// fresh reading is not before it (now may be).
				start = b.now()
			}
			// A reading taken before the episode began (by a caller
			// descheduled since) must not shorten the probe's time.
			b.dates.extend(w.gen(), start, addSat(max(now, start), p.halfOpenTimeout))
		}
		if b.cas(w, w.withPermits(w.permits()+1)) {
			return ticket{w: w, state: HalfOpen, start: now}, true
		}
	}
}

// reject fills r for a call refused under t (see admitNotClosed) and
// counts the rejection, after the stores (see run).
func (b *Breaker[T]) reject(r *CallResult[T], t ticket) {
	r.Outcome, r.State, r.Err, r.RetryAfter = Rejected, t.state, b.rejectErr(t), b.refusedRetryAfter(t)
	b.counters.AddTally(ring.Rejected)
}

// refusedRetryAfter is the time, as of the refusal, until a breaker that
// refused t while open admits a probe (0 when half-open or forced). It is
// worked out when needed rather than carried in the ticket: a fourth
// field moves tickets out of registers, which Allow and Done pay for on
// every call.
func (b *core) refusedRetryAfter(t ticket) time.Duration {
	if t.state&^shadowRun != Open {
		return 0
	}
	return b.retryAfter(b.pol.Load(), t.w, t.start)
}

// rejectErr is the preallocated error of a call refused under t.
func (b *core) rejectErr(t ticket) error {
	if t.state == HalfOpen {
		return b.probeErr
	}
	return b.openErr
}
