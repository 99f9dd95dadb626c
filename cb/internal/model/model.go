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

	// openTime is how long the next (or current) Open lasts: OpenTimeout,
	// doubled by each failed probe episode up to MaxOpenTimeout.
	openTime time.Duration
	issued   int // probe permits taken in this episode, less those given back
	probeOK  int // probe successes in this episode
	// deadline is when a half-open episode with a probe out fails: set by
	// each probe admitted while none was out.
	deadline time.Duration

	window     []entry // counted closed-state outcomes, oldest first
	failStreak uint64
	succStreak uint64

	totalCalls, totalFailures, totalRejected, totalIgnored, totalStale, totalSlow uint64
	transitions                                                                   cb.TransitionCounts

	// pending holds the transitions made under the lock, for the listener
	// to hear once it is released.
	pending []cb.Transition
	// closed is set by a close made under the lock; closeHook runs once
	// it is released.
	closed    bool
	closeHook func()
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
	onStateChange func(cb.Transition)
}

// Ticket is a call the model admitted. End it once; later Ends do nothing.
type Ticket struct {
	gen   uint64
	state cb.State
	start time.Duration
	ended bool
}

// Result is the part of a cb.CallResult the model decides: everything but
// the Value.
type Result struct {
	Err        error
	Duration   time.Duration
	RetryAfter time.Duration
	Outcome    cb.Outcome
	State      cb.State
	Slow       bool
	Stale      bool
}

// New returns a closed model named name with the policy cfg, reading time
// from now (cfg.Clock is not used). A cfg that cb.New rejects is rejected
// with the same error: validation is not what the model is for.
func New(name string, cfg cb.Config, now func() time.Duration) (*Model, error) {
	probe := cfg
	probe.Clock, probe.OnStateChange = nil, nil
	if _, err := cb.New[struct{}](name, probe); err != nil {
		return nil, err
	}
	s := resolve(name, cfg)
	return &Model{s: s, now: now, since: now(), openTime: s.openTimeout, deadline: endOfTime}, nil
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
	events, closed := m.pending, m.closed
	m.pending, m.closed = nil, false
	m.mu.Unlock()
	for _, tr := range events {
		func() {
			defer func() { _ = recover() }()
			m.s.onStateChange(tr)
		}()
	}
	if closed && m.closeHook != nil {
		m.closeHook()
	}
}

// SetCloseHook makes f run after every close (by probes, ForceClosed or
// Reset), once the close is complete: what a call arriving in the
// breaker's closing gap must find.
func (m *Model) SetCloseHook(f func()) { m.closeHook = f }

// moveTo starts a new generation in state s (held open when forced),
// begun at the reading at. Each generation has a fresh probe episode.
func (m *Model) moveTo(s cb.State, forced bool, at time.Duration, reason cb.Reason) {
	from, wasForced := m.state, m.forced
	m.state, m.forced, m.since = s, forced, at
	m.gen++
	m.issued, m.probeOK, m.deadline = 0, 0, endOfTime
	if from == s && wasForced == forced {
		return
	}
	m.transitions[reason]++
	if m.s.onStateChange != nil {
		m.pending = append(m.pending, cb.Transition{Name: m.s.name, From: from, To: s, Generation: m.gen, Reason: reason})
	}
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
// closing does.
func (m *Model) clear() {
	m.window = m.window[:0]
	m.failStreak, m.succStreak = 0, 0
	m.openTime = m.s.openTimeout
	m.closed = true
}

// backoff doubles the open time after a failed episode, up to the cap.
func (m *Model) backoff() {
	switch {
	case m.s.maxOpen == 0:
	case m.openTime > m.s.maxOpen/2:
		m.openTime = m.s.maxOpen // doubling would pass the cap
	default:
		m.openTime *= 2
	}
}

// observe makes the transitions that time alone causes, as of now: an
// Open whose time is over is HalfOpen, and a half-open episode whose
// probe has been out HalfOpenTimeout fails and reopens with the backoff
// step. Each is dated at its deadline.
func (m *Model) observe(now time.Duration) {
	for !m.forced {
		switch {
		case m.state == cb.Open && due(now, addSat(m.since, m.openTime)):
			m.moveTo(cb.HalfOpen, false, addSat(m.since, m.openTime), cb.ReasonOpenTimeout)
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
// of an admitted call, or nil and the rejection's result.
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
			m.deadline = addSat(now, m.s.halfOpenLimit)
		}
		m.issued++
		return &Ticket{gen: m.gen, state: cb.HalfOpen, start: now}, Result{}
	}
	m.totalRejected++
	r := Result{Outcome: cb.Rejected, State: m.state, Err: &cb.OpenError{Name: m.s.name, State: m.state}}
	if m.state == cb.Open {
		r.RetryAfter = m.retryAfter(now)
	}
	return nil, r
}

// retryAfter is the time left in a (not forced) Open; 0 when forced.
func (m *Model) retryAfter(now time.Duration) time.Duration {
	if m.forced {
		return 0
	}
	return max(subSat(addSat(m.since, m.openTime), now), 0)
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
	calls, failures, slows := m.counts(now)
	switch {
	case calls == 0 || calls < m.s.minCalls:
	case m.s.failRate > 0 && float64(failures)/float64(calls) >= m.s.failRate:
		m.moveTo(cb.Open, false, now, cb.ReasonFailureRate)
	case m.s.slowOn && m.s.slowRate > 0 && float64(slows)/float64(calls) >= m.s.slowRate:
		m.moveTo(cb.Open, false, now, cb.ReasonSlowCallRate)
	}
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
		m.moveTo(cb.Closed, false, now, cb.ReasonProbesSucceeded)
		m.clear()
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

// counts returns the calls, failures and slow calls in the window as of
// now, first dropping what has aged out of a time window (the readings
// never go back, so it never returns).
func (m *Model) counts(now time.Duration) (calls, failures, slows int) {
	if m.s.windowCalls == 0 {
		oldest := m.bucket(now) - m.s.buckets + 1
		for len(m.window) > 0 && m.window[0].bucket < oldest {
			m.window = m.window[1:]
		}
	}
	for _, e := range m.window {
		calls++
		if e.failure {
			failures++
		}
		if e.slow {
			slows++
		}
	}
	return calls, failures, slows
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
	calls, failures, slows := m.counts(now)
	r := cb.Metrics{
		Name:                 m.s.name,
		State:                m.state,
		Forced:               m.forced,
		Generation:           m.gen,
		Calls:                uint64(calls),
		Successes:            uint64(calls - failures),
		Failures:             uint64(failures),
		SlowCalls:            uint64(slows),
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
	if calls > 0 {
		r.FailureRate = float64(failures) / float64(calls)
		r.SlowCallRate = float64(slows) / float64(calls)
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
	m.moveTo(cb.Closed, false, m.now(), reason)
	m.clear()
}

// ForceHalfOpen starts a fresh probe episode now, keeping the backoff.
func (m *Model) ForceHalfOpen() {
	m.lock()
	defer m.unlock()
	m.moveTo(cb.HalfOpen, false, m.now(), cb.ReasonForcedHalfOpen)
}
