package model

import (
	"math"
	"sync"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// Model is a mutex-guarded breaker with the semantics of cb.Breaker. Its
// methods are safe for concurrent use; OnStateChange is called after the
// mutex is released, as the breaker never calls it under a lock.
type Model struct {
	mu  sync.Mutex
	s   settings
	now func() time.Duration

	state  cb.State
	forced bool // held open by ForceOpen
	gen    uint64
	since  time.Duration // when the current generation began

	// level is how many times failed probe episodes have doubled the
	// open time since the last close (each doubling that the cap allowed
	// when it was earned). A trip opens for OpenTimeout doubled level
	// times, up to MaxOpenTimeout, as they are when it trips.
	level int
	// openUntil is when an Open not forced ends, fixed when it began: a
	// Reconfigure does not move it.
	openUntil time.Duration
	issued    int // probe permits taken in this episode, less those given back
	probeOK   int // probe successes in this episode
	// deadline is when a half-open episode with a probe out fails: set by
	// each probe admitted while none was out to HalfOpenTimeout from then,
	// unless an earlier clock of the episode ends later (which only a
	// HalfOpenTimeout shortened by Reconfigure makes possible).
	deadline time.Duration

	window     []entry // counted closed-state outcomes, oldest first
	failStreak uint64
	succStreak uint64

	totalCalls, totalFailures, totalRejected, totalIgnored, totalStale, totalSlow uint64
	transitions                                                                   cb.TransitionCounts
	// closedTotals counts the outcomes counted in the closed state, by
	// kind, for life: what a sharer reads (cb.FleetLink.Totals).
	closedTotals cb.WindowCounts

	// What a sharer gave (see cb.FleetLink). fleet is the rest of the
	// fleet's window, judged with the local one while the model is closed
	// in the generation it was given for; a close removes it.
	fleet *fleetWindow
	// hold keeps an Open whose time is over from turning HalfOpen, unless
	// granted is set and grant is its generation.
	hold    bool
	granted bool
	grant   uint64

	// pending holds the transitions made under the lock, for the listener
	// to hear once it is released.
	pending []cb.Transition
	// closed is set by a close made under the lock; closeHook runs once
	// it is released. closeTold says the close made the last pending
	// event, which the breaker tells after the closing gap: to the
	// listener in force then (a Reconfigure in the gap may have replaced
	// it).
	closed, closeTold bool
	closeHook         func()
}

// fleetWindow is the fleet's window as a sharer gave it, with the
// generation it was given for.
type fleetWindow struct {
	counts           cb.WindowCounts
	replicas, quorum int
	gen              uint64
}

// entry is one counted outcome in the window.
type entry struct {
	bucket  int64 // the bucket its call ended in (time window only)
	failure bool
	slow    bool
}

// settings is a cb.Config with the documented defaults applied.
type settings struct {
	name          string
	width         time.Duration // bucket width; 0 with a count window
	buckets       int64
	windowCalls   int // > 0: count window
	minCalls      int
	failRate      float64 // <= 0: off
	consecutive   uint64  // 0: off
	slowOn        bool
	slowDur       time.Duration
	slowRate      float64 // < 0: off
	openTimeout   time.Duration
	maxOpen       time.Duration // 0: no backoff
	successNeeded int
	probes        int // HalfOpenMaxCalls
	halfOpenLimit time.Duration
	shadow        bool
	tripRule      func(cb.TripCounts) bool
	onStateChange func(cb.Transition)
}

// sameShape reports whether windows of s and t count the same calls.
func (s *settings) sameShape(t *settings) bool {
	return s.width == t.width && s.buckets == t.buckets && s.windowCalls == t.windowCalls
}

// Ticket is a call the model admitted, or, in shadow mode, would have
// rejected and runs all the same. End it once; later Ends do nothing.
type Ticket struct {
	gen        uint64
	state      cb.State
	start      time.Duration
	ended      bool
	shadow     bool          // a call the model would have rejected
	retryAfter time.Duration // of that rejection
}

// WouldReject reports that the ticket is of a call the model, in shadow
// mode, would have rejected.
func (t *Ticket) WouldReject() bool { return t.shadow }

// Result is the part of a cb.CallResult the model decides: everything but
// the Value.
type Result struct {
	Err         error
	Duration    time.Duration
	RetryAfter  time.Duration
	Outcome     cb.Outcome
	State       cb.State
	Slow        bool
	Stale       bool
	WouldReject bool
}

// New returns a closed model named name with the policy cfg, reading time
// from now (cfg.Clock is not used). A cfg that cb.New rejects is rejected
// with the same error: validation is not what the model is for.
func New(name string, cfg cb.Config, now func() time.Duration) (*Model, error) {
	if err := validate(name, cfg); err != nil {
		return nil, err
	}
	s := resolve(name, cfg)
	return &Model{s: s, now: now, since: now(), deadline: math.MinInt64}, nil
}

// validate returns cb.New's error for cfg.
func validate(name string, cfg cb.Config) error {
	cfg.Clock, cfg.OnStateChange = nil, nil
	_, err := cb.New[struct{}](name, cfg)
	return err
}

// Reconfigure replaces the policy with cfg, as cb.Breaker.Reconfigure
// does (cfg.Clock is not used): the state, generation, backoff level,
// streaks, totals and deadlines are kept, and the window too unless cfg
// shapes it otherwise, when it starts empty. A switch of Shadow is an
// event; then the transitions time alone causes are made, and a half-open
// episode whose successes meet the new SuccessThreshold closes.
func (m *Model) Reconfigure(cfg cb.Config) error {
	if err := validate(m.s.name, cfg); err != nil {
		return err
	}
	m.lock()
	defer m.unlock()
	old := m.s
	m.s = resolve(old.name, cfg)
	if !old.sameShape(&m.s) {
		m.window = nil
	}
	if old.shadow != m.s.shadow {
		reason := cb.ReasonShadowOff
		if m.s.shadow {
			reason = cb.ReasonShadowOn
		}
		m.tell(cb.Transition{Name: m.s.name, From: m.state, To: m.state, Generation: m.gen, Reason: reason})
	}
	now := m.now()
	m.observe(now)
	if m.state == cb.HalfOpen && m.probeOK >= m.s.successNeeded {
		m.clear(m.moveTo(cb.Closed, false, now, cb.ReasonProbesSucceeded))
	}
	return nil
}

// resolve applies the documented defaults; zero means default and cb.Off
// disables.
func resolve(name string, c cb.Config) settings {
	s := settings{
		name:          name,
		windowCalls:   c.WindowCalls,
		minCalls:      or(c.MinimumCalls, cb.DefaultMinimumCalls),
		failRate:      or(c.FailureRateThreshold, cb.DefaultFailureRateThreshold),
		slowOn:        c.SlowCallDuration != cb.Off,
		slowDur:       or(c.SlowCallDuration, cb.DefaultSlowCallDuration),
		slowRate:      or(c.SlowCallRateThreshold, cb.DefaultSlowCallRateThreshold),
		openTimeout:   or(c.OpenTimeout, cb.DefaultOpenTimeout),
		maxOpen:       c.MaxOpenTimeout,
		successNeeded: or(c.SuccessThreshold, cb.DefaultSuccessThreshold),
		shadow:        c.Shadow,
		tripRule:      c.TripRule,
		onStateChange: c.OnStateChange,
	}
	if c.WindowCalls == 0 {
		s.buckets = int64(or(c.Buckets, cb.DefaultBuckets))
		s.width = or(c.Window, cb.DefaultWindow) / time.Duration(s.buckets)
	}
	if c.WindowCalls > 0 && c.MinimumCalls == 0 {
		s.minCalls = min(s.minCalls, c.WindowCalls)
	}
	if c.ConsecutiveFailures != cb.Off {
		s.consecutive = uint64(or(c.ConsecutiveFailures, cb.DefaultConsecutiveFailures))
	}
	s.probes = or(c.HalfOpenMaxCalls, s.successNeeded)
	s.halfOpenLimit = or(c.HalfOpenTimeout, s.openTimeout)
	return s
}

func or[N int | float64 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// lock takes the mutex; unlock releases it and then tells the listener of
// the transitions made meanwhile, recovering its panics.
func (m *Model) lock() { m.mu.Lock() }

func (m *Model) unlock() {
	events, closed, listener := m.pending, m.closed, m.s.onStateChange
	var last []cb.Transition
	if closed && m.closeTold {
		events, last = events[:len(events)-1], events[len(events)-1:]
	}
	m.pending, m.closed, m.closeTold = nil, false, false
	m.mu.Unlock()
	tell(listener, events)
	if !closed {
		return
	}
	if m.closeHook != nil {
		m.closeHook()
	}
	m.mu.Lock()
	listener = m.s.onStateChange
	m.mu.Unlock()
	tell(listener, last)
}

// tell has listener, if any, hear events, recovering its panics.
func tell(listener func(cb.Transition), events []cb.Transition) {
	if listener == nil {
		return
	}
	for _, tr := range events {
		func() {
			defer func() { _ = recover() }()
			listener(tr)
		}()
	}
}

// SetCloseHook makes f run after every close (by probes, ForceClosed or
// Reset), once the close is complete: what a call arriving in the
// breaker's closing gap must find.
func (m *Model) SetCloseHook(f func()) { m.closeHook = f }

// moveTo starts a new generation in state s (held open when forced),
// begun at the reading at. Each generation has a fresh probe episode.
func (m *Model) moveTo(s cb.State, forced bool, at time.Duration, reason cb.Reason) (told bool) {
	from, wasForced := m.state, m.forced
	m.state, m.forced, m.since = s, forced, at
	m.gen++
	m.issued, m.probeOK, m.deadline = 0, 0, math.MinInt64
	if s == cb.Open && !forced {
		m.openUntil = addSat(at, m.openFor())
	}
	if from == s && wasForced == forced {
		return false
	}
	m.tell(cb.Transition{Name: m.s.name, From: from, To: s, Generation: m.gen, Reason: reason})
	return true
}

// tell counts tr and has the listener hear it once the lock is released.
func (m *Model) tell(tr cb.Transition) {
	m.transitions[tr.Reason]++
	m.pending = append(m.pending, tr)
}

const endOfTime = time.Duration(math.MaxInt64)

// addSat is t+d for d >= 0, stopping at the end of time.
func addSat(t, d time.Duration) time.Duration {
	if t > endOfTime-d {
		return endOfTime
	}
	return t + d
}

// due reports whether a deadline has come; one at the end of time never
// does.
func due(now, deadline time.Duration) bool { return now >= deadline && deadline != endOfTime }

// subSat is a-b, clamped to the range of a Duration.
func subSat(a, b time.Duration) time.Duration {
	switch {
	case b < 0 && a > endOfTime+b:
		return endOfTime
	case b > 0 && a < math.MinInt64+b:
		return math.MinInt64
	}
	return a - b
}

// clear empties the window and the streaks and ends the backoff, as
// closing does; told says the close made an event.
func (m *Model) clear(told bool) {
	m.closeTold = told
	m.window = m.window[:0]
	m.failStreak, m.succStreak = 0, 0
	m.level = 0
	m.fleet = nil // read for the period that ended
	m.closed = true
}

// openFor is the open time at the current backoff level.
func (m *Model) openFor() time.Duration { return m.openAt(m.level) }

// openAt is the open time at backoff level level: OpenTimeout doubled
// level times, never past the cap (nor at all without one).
func (m *Model) openAt(level int) time.Duration {
	d := m.s.openTimeout
	for range level {
		switch {
		case m.s.maxOpen == 0 || d >= m.s.maxOpen:
			return d
		case d > m.s.maxOpen/2:
			d = m.s.maxOpen // doubling would pass the cap
		default:
			d *= 2
		}
	}
	return d
}

// backoff earns a doubling of the open time after a failed episode, if
// the cap leaves room for one.
func (m *Model) backoff() {
	if m.s.maxOpen > 0 && m.openFor() < m.s.maxOpen && m.level < maxLevel {
		m.level++
	}
}

// maxLevel is the most doublings the breaker's state word holds.
const maxLevel = 63

// observe makes the transitions that time alone causes, as of now: an
// Open whose time is over is HalfOpen (unless the fleet holds its
// probes), and a half-open episode whose probe has been out
// HalfOpenTimeout fails and reopens with the backoff step. Each is dated
// at its deadline.
func (m *Model) observe(now time.Duration) {
	for !m.forced {
		switch {
		case m.state == cb.Open && due(now, m.openUntil) && !m.held():
			m.moveTo(cb.HalfOpen, false, m.openUntil, cb.ReasonOpenTimeout)
		case m.state == cb.HalfOpen && m.issued > m.probeOK && due(now, m.deadline):
			at := m.deadline
			m.backoff()
			m.moveTo(cb.Open, false, at, cb.ReasonHalfOpenTimeout)
		default:
			return
		}
	}
}

// Begin asks to make a call now (Execute or Allow). It returns the ticket
// of an admitted call, or nil and the rejection's result; in shadow mode,
// a call it would reject is counted as rejected and gets a ticket all
// the same, whose End counts nothing.
func (m *Model) Begin() (*Ticket, Result) {
	m.lock()
	defer m.unlock()
	now := m.now()
	m.observe(now)
	switch {
	case m.state == cb.Closed:
		return &Ticket{gen: m.gen, state: cb.Closed, start: now}, Result{}
	case m.state == cb.HalfOpen && m.issued < m.s.probes:
		if m.issued == m.probeOK {
			// No probe is out: this one starts the episode's clock.
			m.deadline = max(m.deadline, addSat(now, m.s.halfOpenLimit))
		}
		m.issued++
		return &Ticket{gen: m.gen, state: cb.HalfOpen, start: now}, Result{}
	}
	m.totalRejected++
	r := Result{Outcome: cb.Rejected, State: m.state, Err: &cb.OpenError{Name: m.s.name, State: m.state}}
	if m.state == cb.Open {
		r.RetryAfter = m.retryAfter(now)
	}
	if m.s.shadow {
		return &Ticket{gen: m.gen, state: m.state, start: now, shadow: true, retryAfter: r.RetryAfter}, Result{}
	}
	return nil, r
}

// retryAfter is the time left in a (not forced) Open; 0 when forced.
func (m *Model) retryAfter(now time.Duration) time.Duration {
	if m.forced {
		return 0
	}
	return max(subSat(m.openUntil, now), 0)
}

// Refuse counts a call refused because its context was already done with
// err: ignored, without admission, so no transition is made for it.
func (m *Model) Refuse(err error) Result {
	m.lock()
	defer m.unlock()
	m.totalIgnored++
	return Result{Err: err, Outcome: cb.Ignored, State: m.state}
}

// End counts the outcome o (Success, Failure or Ignored; a panic is a
// Failure) of the call of t, which returned err, as of now.
func (m *Model) End(t *Ticket, o cb.Outcome, err error) Result {
	m.lock()
	defer m.unlock()
	now := m.now()
	d := subSat(now, t.start)
	r := Result{Err: err, Outcome: o, State: t.state, Duration: d, Slow: m.s.slowOn && d > m.s.slowDur}
	if t.shadow {
		r.RetryAfter, r.WouldReject = t.retryAfter, true
		return r // counted as rejected when it began
	}
	if t.ended {
		return r
	}
	t.ended = true
	if t.state == cb.HalfOpen {
		// A probe's episode may have timed out while it ran: look first.
		m.observe(now)
	}
	switch {
	case t.gen != m.gen:
		m.totalStale++
		r.Stale = true
	case o == cb.Ignored:
		m.totalIgnored++
		if t.state == cb.HalfOpen {
			m.issued-- // its permit goes back to the pool
		}
	case t.state == cb.HalfOpen:
		m.endProbe(o == cb.Failure, r.Slow, now)
	default:
		m.endClosed(o == cb.Failure, r.Slow, now)
	}
	return r
}

// count adds a counted outcome to the lifetime totals and the streaks.
func (m *Model) count(failure, slow bool) {
	m.totalCalls++
	if slow {
		m.totalSlow++
	}
	if failure {
		m.totalFailures++
		m.failStreak = min(m.failStreak+1, cb.MaxConsecutiveFailures)
		m.succStreak = 0
	} else {
		m.succStreak++
		m.failStreak = 0
	}
}

// endClosed counts an outcome of the current closed generation and trips
// when a rule says so.
func (m *Model) endClosed(failure, slow bool, now time.Duration) {
	m.count(failure, slow)
	switch {
	case failure && slow:
		m.closedTotals.SlowFailures++
	case failure:
		m.closedTotals.Failures++
	case slow:
		m.closedTotals.SlowSuccesses++
	default:
		m.closedTotals.Successes++
	}
	m.window = append(m.window, entry{bucket: m.bucket(now), failure: failure, slow: slow})
	if m.s.windowCalls > 0 && len(m.window) > m.s.windowCalls {
		m.window = m.window[1:]
	}
	if failure && m.s.consecutive > 0 && m.failStreak >= m.s.consecutive {
		m.moveTo(cb.Open, false, now, cb.ReasonConsecutiveFailures)
		return
	}
	if !failure && !slow {
		return // a fast success never trips
	}
	m.judge(now)
}

// judge trips the closed model when, as of now, the window's failure or
// slow-call rate has reached its threshold with at least MinimumCalls
// calls, or else the TripRule says so. When a sharer gave a fleet's
// window for this generation and its quorum holds (see joined), the
// rates judge the local window with the fleet's added first, with the
// fleet's reasons, then the local window alone; the TripRule is asked of
// the joined window.
func (m *Model) judge(now time.Duration) {
	local := m.counts(now)
	c := local
	fleet := false
	if f := m.fleet; f != nil && f.gen == m.gen && f.met(local.Failures > 0 || local.SlowCalls > 0) {
		fleet = true
		c = joined(local, f.counts)
	}
	if fleet && m.rateTrip(now, c, cb.ReasonFleetFailureRate, cb.ReasonFleetSlowCallRate) {
		return
	}
	if m.rateTrip(now, local, cb.ReasonFailureRate, cb.ReasonSlowCallRate) {
		return
	}
	c.ConsecutiveFailures = m.failStreak
	if m.s.tripRule != nil && askTripRule(m.s.tripRule, c) {
		m.moveTo(cb.Open, false, now, cb.ReasonTripRule)
	}
}

// rateTrip opens the model, for the reason failRate or slowRate, when the
// window c holds at least MinimumCalls calls and a rate has reached its
// threshold, and reports whether it did.
func (m *Model) rateTrip(now time.Duration, c cb.TripCounts, failRate, slowRate cb.Reason) bool {
	calls := c.Calls
	switch {
	case calls == 0 || calls < uint64(m.s.minCalls):
		return false
	case m.s.failRate > 0 && float64(c.Failures)/float64(calls) >= m.s.failRate:
		m.moveTo(cb.Open, false, now, failRate)
	case m.s.slowOn && m.s.slowRate > 0 && float64(c.SlowCalls)/float64(calls) >= m.s.slowRate:
		m.moveTo(cb.Open, false, now, slowRate)
	default:
		return false
	}
	return true
}

// met reports whether the fleet's quorum holds: Replicas, and this
// replica when local says its window holds a failure or a slow call,
// reach Quorum (counted exactly, whatever the ints).
func (f *fleetWindow) met(local bool) bool {
	return f.replicas >= f.quorum || local && f.replicas >= f.quorum-1 // quorum > replicas: quorum-1 does not wrap
}

// joined is the local window c with the fleet's counts o added, kind by
// kind and saturating; when the calls then add up past the largest
// uint64, every kind is halved until they do not.
func joined(c cb.TripCounts, o cb.WindowCounts) cb.TripCounts {
	// The local window by kind: fast successes, fast failures, slow
	// successes, slow failures.
	sf := c.SlowFailures
	k := [4]uint64{c.Calls - c.Failures - c.SlowCalls + sf, c.Failures - sf, c.SlowCalls - sf, sf}
	for i, n := range [4]uint64{o.Successes, o.Failures, o.SlowSuccesses, o.SlowFailures} {
		if k[i] > math.MaxUint64-n {
			k[i] = math.MaxUint64
		} else {
			k[i] += n
		}
	}
	for !fitsUint64(k) {
		for i := range k {
			k[i] /= 2
		}
	}
	return cb.TripCounts{Calls: k[0] + k[1] + k[2] + k[3], Failures: k[1] + k[3], SlowCalls: k[2] + k[3], SlowFailures: k[3]}
}

// fitsUint64 reports whether the numbers of k add up to at most the
// largest uint64.
func fitsUint64(k [4]uint64) bool {
	left := uint64(math.MaxUint64)
	for _, n := range k {
		if n > left {
			return false
		}
		left -= n
	}
	return true
}

// askTripRule is what rule says of c; false if it panics.
func askTripRule(rule func(cb.TripCounts) bool, c cb.TripCounts) (trip bool) {
	defer func() {
		if recover() != nil {
			trip = false
		}
	}()
	return rule(c)
}

// endProbe counts an outcome of the current half-open episode: a failure
// (or, with slow-call tracking on, a slow success) reopens with a longer
// open time, SuccessThreshold successes close.
func (m *Model) endProbe(failure, slow bool, now time.Duration) {
	m.count(failure, slow)
	if failure || slow {
		m.succStreak = 0
		m.backoff()
		reason := cb.ReasonProbeFailed
		if !failure {
			reason = cb.ReasonProbeSlow
		}
		m.moveTo(cb.Open, false, now, reason)
		return
	}
	m.probeOK++
	if m.probeOK >= m.s.successNeeded {
		m.clear(m.moveTo(cb.Closed, false, now, cb.ReasonProbesSucceeded))
	}
}

// bucket is the number of the time-window bucket of the reading now,
// rounding down.
func (m *Model) bucket(now time.Duration) int64 {
	if m.s.windowCalls > 0 {
		return 0
	}
	b := int64(now / m.s.width)
	if now%m.s.width < 0 {
		b--
	}
	return b
}

// counts returns the calls, failures, slow calls and slow failures in the
// window as of now, first dropping what has aged out of a time window
// (the readings never go back, so it never returns).
func (m *Model) counts(now time.Duration) cb.TripCounts {
	if m.s.windowCalls == 0 {
		oldest := m.bucket(now) - m.s.buckets + 1
		for len(m.window) > 0 && m.window[0].bucket < oldest {
			m.window = m.window[1:]
		}
	}
	var c cb.TripCounts
	for _, e := range m.window {
		c.Calls++
		if e.failure {
			c.Failures++
		}
		if e.slow {
			c.SlowCalls++
		}
		if e.failure && e.slow {
			c.SlowFailures++
		}
	}
	return c
}

// State returns the state as of now.
func (m *Model) State() cb.State {
	m.lock()
	defer m.unlock()
	m.observe(m.now())
	return m.state
}

// Metrics returns the snapshot cb.Breaker.Metrics would, as of now.
func (m *Model) Metrics() cb.Metrics {
	m.lock()
	defer m.unlock()
	now := m.now()
	m.observe(now)
	c := m.counts(now)
	r := cb.Metrics{
		Name:                 m.s.name,
		State:                m.state,
		Forced:               m.forced,
		Generation:           m.gen,
		Shadow:               m.s.shadow,
		Calls:                c.Calls,
		Successes:            c.Calls - c.Failures,
		Failures:             c.Failures,
		SlowCalls:            c.SlowCalls,
		ConsecutiveFailures:  m.failStreak,
		ConsecutiveSuccesses: m.succStreak,
		TotalCalls:           m.totalCalls,
		TotalFailures:        m.totalFailures,
		TotalRejected:        m.totalRejected,
		TotalIgnored:         m.totalIgnored,
		TotalStale:           m.totalStale,
		TotalSlowCalls:       m.totalSlow,
		Transitions:          m.transitions,
		StateSince:           max(subSat(now, m.since), 0),
	}
	if c.Calls > 0 {
		r.FailureRate = float64(c.Failures) / float64(c.Calls)
		r.SlowCallRate = float64(c.SlowCalls) / float64(c.Calls)
	}
	switch m.state {
	case cb.HalfOpen:
		// The episode's successes: any probe failure would have ended it.
		r.ConsecutiveSuccesses = uint64(m.probeOK)
		r.HalfOpenInFlight = m.issued - m.probeOK
	case cb.Open:
		r.RetryAfter = m.retryAfter(now)
	}
	return r
}

// ForceOpen holds the model open, with no timeout and no probes.
func (m *Model) ForceOpen() {
	m.lock()
	defer m.unlock()
	m.moveTo(cb.Open, true, m.now(), cb.ReasonForcedOpen)
}

// ForceClosed closes the model with an empty window, cleared streaks and
// no backoff.
func (m *Model) ForceClosed() { m.close(cb.ReasonForcedClosed) }

// Reset is ForceClosed under another reason: only lifetime totals survive.
func (m *Model) Reset() { m.close(cb.ReasonReset) }

func (m *Model) close(reason cb.Reason) {
	m.lock()
	defer m.unlock()
	m.clear(m.moveTo(cb.Closed, false, m.now(), reason))
}

// ForceHalfOpen starts a fresh probe episode now, keeping the backoff.
func (m *Model) ForceHalfOpen() {
	m.lock()
	defer m.unlock()
	m.moveTo(cb.HalfOpen, false, m.now(), cb.ReasonForcedHalfOpen)
}
