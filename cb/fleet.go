package cb

import (
	"math"
	"math/bits"
	"time"

	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// The fleet seam: what a sharer (such as the cbredis module) needs to keep
// the breakers of many replicas of a service in step through a shared
// store, while every decision on the call path stays local. See FleetLink.

// WindowCounts counts outcomes by kind, as a window holds them.
type WindowCounts struct {
	Successes     uint64 // fast successes
	Failures      uint64 // fast failures
	SlowSuccesses uint64 // successes slower than SlowCallDuration
	SlowFailures  uint64 // failures slower than SlowCallDuration
}

// Calls is the number of outcomes counted, saturating at the largest
// uint64.
func (c WindowCounts) Calls() uint64 {
	return addCount(addCount(c.Successes, c.Failures), addCount(c.SlowSuccesses, c.SlowFailures))
}

// Sub returns c minus d, kind by kind; a kind of d larger than c's gives 0.
func (c WindowCounts) Sub(d WindowCounts) WindowCounts {
	return WindowCounts{
		Successes:     max(c.Successes, d.Successes) - d.Successes,
		Failures:      max(c.Failures, d.Failures) - d.Failures,
		SlowSuccesses: max(c.SlowSuccesses, d.SlowSuccesses) - d.SlowSuccesses,
		SlowFailures:  max(c.SlowFailures, d.SlowFailures) - d.SlowFailures,
	}
}

// Add returns c plus d, kind by kind, saturating.
func (c WindowCounts) Add(d WindowCounts) WindowCounts {
	return WindowCounts{
		Successes:     addCount(c.Successes, d.Successes),
		Failures:      addCount(c.Failures, d.Failures),
		SlowSuccesses: addCount(c.SlowSuccesses, d.SlowSuccesses),
		SlowFailures:  addCount(c.SlowFailures, d.SlowFailures),
	}
}

func addCount(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

func (c WindowCounts) ring() ring.Counts {
	var r ring.Counts
	r[ring.Success], r[ring.Failure] = c.Successes, c.Failures
	r[ring.SlowSuccess], r[ring.SlowFailure] = c.SlowSuccesses, c.SlowFailures
	return r
}

func countsOf(r *ring.Counts) WindowCounts {
	return WindowCounts{
		Successes: r[ring.Success], Failures: r[ring.Failure],
		SlowSuccesses: r[ring.SlowSuccess], SlowFailures: r[ring.SlowFailure],
	}
}

// FleetWindow is what the rest of a fleet counted in the span of this
// breaker's window, as a sharer last read it from its store.
type FleetWindow struct {
	// Counts holds the other replicas' outcomes: never this replica's
	// own, which its local window already holds. They are added to the
	// local counts kind by kind, saturating (see WindowCounts.Add); when
	// the calls then add up past the largest uint64 (counts no fleet
	// makes, but a bad value in a store may), every kind is halved until
	// they do not, so the rates judged are still those the counts give.
	Counts WindowCounts
	// Replicas is how many other replicas reported a failure or a slow
	// call in the span.
	Replicas int
	// Quorum is how many replicas, this one included, must have reported
	// a failure or a slow call before the fleet's counts are judged: this
	// replica counts when its local window holds one. At most 1 lets the
	// fleet's counts always take part.
	Quorum int

	gen uint64 // the closed generation the window was given to
}

// met reports whether the quorum holds, given the local window c. The
// count of reporters stops at the largest int, which meets any quorum.
func (f *FleetWindow) met(c *ring.Counts) bool {
	n := f.Replicas
	if c.Failures()+c.Slow() > 0 && n < math.MaxInt {
		n++
	}
	return n >= f.Quorum
}

// FleetStatus is a breaker's state as a sharer reads it.
type FleetStatus struct {
	State      State
	Forced     bool
	Generation uint64
	// Level is the backoff step: the open time is OpenTimeout doubled
	// Level times, up to MaxOpenTimeout.
	Level int
	// Remaining is, when open and not forced, the time left until the
	// open time is over (0 once it is).
	Remaining time.Duration
	// ProbesOut is, when half-open, how many probes are running.
	ProbesOut int
	// Held reports whether the open time is over but the breaker waits
	// for the fleet's grant to probe (see FleetLink.HoldProbes).
	Held bool
}

// FleetLink is the seam through which a sharer keeps one breaker in step
// with the same breaker on other replicas of a service. The breaker goes
// on deciding every call alone, lock-free and without I/O; a sharer runs
// beside it, off the call path, and does five things through the link:
//
//   - It reads Totals now and then, and writes the difference from its
//     last reading (the outcomes counted since) to its store.
//   - It reads back what the other replicas wrote and hands it to
//     SetWindow. The rate rules then judge the local window together with
//     the fleet's, wherever they judge (after a failure or a slow call, and
//     at once in SetWindow), when a quorum of replicas reported failures or
//     slow calls; such a trip carries ReasonFleetFailureRate or
//     ReasonFleetSlowCallRate. They also judge the local window alone
//     (first without the quorum, then if the joined window did not
//     trip), so one sick replica opens its own breaker, and only its own.
//   - It hears the breaker's transitions through Subscribe and writes the
//     ones the fleet shares to its store.
//   - It adopts the transitions other replicas made: AdoptOpen with the
//     open time they have left, AdoptClosed.
//   - With HoldProbes it keeps an open breaker from probing when its open
//     time is over until GrantProbes lets it, so that one replica at a time
//     probes for the whole fleet; the others stay open (AdoptOpen) until
//     that replica's episode ends.
//
// A sharer that loses its store calls SetWindow with nil and HoldProbes
// with false: the breaker is then a local breaker again, exactly. Force
// and Reset act on this replica only. A breaker has one sharer at a time.
// Every method is safe for concurrent use and none blocks; the zero
// FleetLink is not usable.
type FleetLink struct{ b *core }

// FleetLink returns the breaker's seam for a sharer.
func (b *core) FleetLink() FleetLink { return FleetLink{b} }

// Totals returns the lifetime counts of the outcomes the breaker has
// counted in its closed state: those its window holds, as long as they
// are recent. Successive readings differ by what was counted between
// them.
func (l FleetLink) Totals() WindowCounts {
	var sums ring.Counts
	l.b.counters.SumTo(&sums)
	return countsOf(&sums)
}

// SetWindow gives the breaker the fleet's window f, read while the
// breaker was closed in generation gen (FleetStatus.Generation), and
// judges it with the local window at once. It reports false, keeping
// nothing, when the breaker is no longer closed in gen: the window was
// read for a period that has ended. A nil f removes the fleet's window,
// and so does every close.
func (l FleetLink) SetWindow(gen uint64, f *FleetWindow) bool {
	b := l.b
	if f == nil {
		b.fleet.Store(nil)
		return true
	}
	fw := *f
	fw.gen = gen
	w := b.load()
	if w.state() != Closed || w.gen() != gen {
		return false
	}
	// A window stored after a close moved the generation on is never
	// judged: it carries the generation it was read for.
	b.fleet.Store(&fw)
	now := b.now()
	p := b.pol.Load()
	var c, sums ring.Counts
	p.window(now, &c, &sums)
	n := uint64(0)
	if s := b.streak.Load(); s&^maxStreak == streakOf(w) {
		n = s & maxStreak
	}
	b.evaluate(p, w, now, &c, n)
	return true
}

// HoldProbes turns the fleet's hold on probing on or off. While it is on,
// an open breaker whose open time is over stays open (rejecting calls,
// with RetryAfter 0) until GrantProbes lets its generation probe or a
// transition moves it on.
func (l FleetLink) HoldProbes(on bool) { l.b.holdProbes.Store(on) }

// GrantProbes lets the open generation gen turn half-open when its open
// time is over, while HoldProbes is on. It reports whether the breaker is
// still open in gen.
func (l FleetLink) GrantProbes(gen uint64) bool {
	b := l.b
	b.granted.Store(gen + 1)
	w := b.load()
	return w.state() == Open && w.gen() == gen
}

// AdoptOpen opens the breaker, as another replica's trip or failed
// episode did, for the open time that replica has left, at backoff level
// level (clamped to the levels there are). Listeners hear ReasonFleetOpened
// unless the breaker was open already. It does nothing, and reports false,
// when the breaker is forced open. Every replica adopts the time left,
// not another host's clock. Adopted from closed, it restarts
// ConsecutiveSuccesses, as the failures that tripped the fleet would
// have. Like the Force methods, it acts on the state as last made: an
// open time already over that nobody has looked at since is replaced
// quietly.
func (l FleetLink) AdoptOpen(remaining time.Duration, level int) bool {
	b := l.b
	now := b.now()
	lvl := uint(min(max(level, 0), maxLevel))
	for {
		w := b.load()
		switch {
		case w.state() == closing:
			b.completeClose(w, now)
			continue
		case w.forced():
			return false
		}
		next := w.nextGen(Open, false, lvl)
		if !b.cas(w, next) {
			continue
		}
		if w.state() == Closed {
			b.markSuccesses(nil)
		}
		b.dates.publish(next.gen(), now, addSat(now, max(remaining, 0)))
		if b.count(w, next, ReasonFleetOpened) {
			b.tell(w, next, ReasonFleetOpened)
		}
		return true
	}
}

// AdoptClosed closes the breaker, as another replica's successful
// episode did, with an empty window and the backoff back at OpenTimeout.
// Listeners hear ReasonFleetClosed. It does nothing, and reports false,
// when the breaker is closed already or forced open.
func (l FleetLink) AdoptClosed() bool {
	b := l.b
	now := b.now()
	p := b.pol.Load()
	for {
		w := b.load()
		switch {
		case w.state() == closing:
			b.completeClose(w, now)
			continue
		case w.state() == Closed, w.forced():
			return false
		}
		if b.close(p, w, w.nextGen(closing, false, 0), now, ReasonFleetClosed) {
			return true
		}
	}
}

// Status returns the breaker's state as of now, making the transitions
// time alone causes first (as State does).
func (l FleetLink) Status() FleetStatus {
	b := l.b
	now := b.now()
	p := b.pol.Load()
	w := b.catchUp(now, p)
	s := FleetStatus{State: w.public(), Forced: w.forced(), Generation: w.gen(), Level: int(w.level())}
	switch w.state() {
	case Open:
		if !w.forced() {
			s.Remaining = b.retryAfter(p, w, now)
			s.Held = s.Remaining == 0 && b.held(w)
		}
	case HalfOpen:
		s.ProbesOut = int(w.permits() - w.probeSuccesses())
	}
	return s
}

// FleetShape is what a sharer needs of the policy in force, defaults
// resolved.
type FleetShape struct {
	// Window is the span of the time window and BucketWidth its bucket
	// (Window/Buckets); both are 0 for a count window (WindowCalls).
	Window, BucketWidth time.Duration
	Buckets             int
	// HalfOpenTimeout bounds a half-open episode's probe (see Config).
	HalfOpenTimeout time.Duration
}

// Shape returns the shape of the policy in force.
func (l FleetLink) Shape() FleetShape {
	p := l.b.pol.Load()
	return FleetShape{Window: p.settings.window, BucketWidth: p.width, Buckets: p.buckets, HalfOpenTimeout: p.halfOpenTimeout}
}

// OpenFor is the open time the breaker's policy gives backoff level
// level, for a sharer that announces an open state.
func (l FleetLink) OpenFor(level int) time.Duration {
	return l.b.pol.Load().openFor(uint(min(max(level, 0), maxLevel)))
}

// held reports whether the open word w must wait for the fleet's grant
// before turning half-open.
func (b *core) held(w word) bool {
	return b.holdProbes.Load() && b.granted.Load() != w.gen()+1
}

// judgeWithFleet returns the counts the rate rules judge, given the local
// window c of the closed word w: c with the fleet's window added when one
// is set for w's generation and its quorum holds. fleet reports whether
// it was added.
func (b *core) judgeWithFleet(w word, c *ring.Counts) (judged *ring.Counts, fleet bool) {
	f := b.fleet.Load()
	if f == nil || f.gen != w.gen() || !f.met(c) {
		return c, false
	}
	sum := countsOf(c).Add(f.Counts).fit().ring()
	return &sum, true
}

// fit returns c with every kind halved, as often as it takes (twice at
// most), for its calls to add up within a uint64: the rates and the
// TripCounts judged on it are sums of its kinds, which must not wrap.
func (c WindowCounts) fit() WindowCounts {
	for {
		s, c1 := bits.Add64(c.Successes, c.Failures, 0)
		s, c2 := bits.Add64(s, c.SlowSuccesses, 0)
		_, c3 := bits.Add64(s, c.SlowFailures, 0)
		if c1|c2|c3 == 0 {
			return c
		}
		c = WindowCounts{c.Successes / 2, c.Failures / 2, c.SlowSuccesses / 2, c.SlowFailures / 2}
	}
}
