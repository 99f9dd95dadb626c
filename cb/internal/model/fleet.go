package model

import (
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// The fleet seam, as cb.FleetLink documents it: the lifetime counts of
// the closed state, the fleet's window judged with the local one, the hold
// on probing, and the transitions adopted from other replicas.

// Totals returns the lifetime counts, by kind, of the outcomes counted in
// the closed state (probes are not).
func (m *Model) Totals() cb.WindowCounts {
	m.lock()
	defer m.unlock()
	return m.closedTotals
}

// SetWindow gives the model the fleet's window f, read while it was closed
// in generation gen, and judges it with the local window at once (the rate
// rules and the TripRule, with the failure streak as it stands). It
// reports false, keeping nothing, when the model is not closed in gen. A
// nil f removes the fleet's window.
func (m *Model) SetWindow(gen uint64, f *cb.FleetWindow) bool {
	m.lock()
	defer m.unlock()
	if f == nil {
		m.fleet = nil
		return true
	}
	if m.state != cb.Closed || m.gen != gen {
		return false
	}
	m.fleet = &fleetWindow{counts: f.Counts, replicas: f.Replicas, quorum: f.Quorum, gen: gen}
	m.judge(m.now())
	return true
}

// HoldProbes turns the fleet's hold on probing on or off.
func (m *Model) HoldProbes(on bool) {
	m.lock()
	defer m.unlock()
	m.hold = on
}

// GrantProbes lets the open generation gen turn HalfOpen when its time is
// over, while the hold is on; it reports whether the model is open in gen.
func (m *Model) GrantProbes(gen uint64) bool {
	m.lock()
	defer m.unlock()
	m.granted, m.grant = true, gen
	return m.state == cb.Open && m.gen == gen
}

// held reports whether an Open whose time is over waits for the fleet's
// grant.
func (m *Model) held() bool { return m.hold && (!m.granted || m.grant != m.gen) }

// AdoptOpen opens the model in a new generation for remaining (none when
// not positive), at backoff level level clamped to the levels there are:
// an event (ReasonFleetOpened) unless it was open already. Adopted from
// Closed, it restarts ConsecutiveSuccesses. Forced open, it does nothing
// and reports false.
func (m *Model) AdoptOpen(remaining time.Duration, level int) bool {
	m.lock()
	defer m.unlock()
	if m.forced {
		return false
	}
	now := m.now()
	if m.state == cb.Closed {
		m.succStreak = 0
	}
	m.level = min(max(level, 0), maxLevel)
	m.moveTo(cb.Open, false, now, cb.ReasonFleetOpened)
	m.openUntil = addSat(now, max(remaining, 0))
	return true
}

// AdoptClosed closes the model as a probe close would (empty window and
// streaks, no backoff, the fleet's window removed), under
// ReasonFleetClosed, counting no probe. Closed already or forced open, it
// does nothing and reports false.
func (m *Model) AdoptClosed() bool {
	m.lock()
	defer m.unlock()
	if m.state == cb.Closed || m.forced {
		return false
	}
	m.clear(m.moveTo(cb.Closed, false, m.now(), cb.ReasonFleetClosed))
	return true
}

// Status returns the sharer's view of the model as of now, after the
// transitions that time alone causes.
func (m *Model) Status() cb.FleetStatus {
	m.lock()
	defer m.unlock()
	now := m.now()
	m.observe(now)
	s := cb.FleetStatus{State: m.state, Forced: m.forced, Generation: m.gen, Level: m.level}
	switch {
	case m.state == cb.Open && !m.forced:
		s.Remaining = m.retryAfter(now)
		s.Held = s.Remaining == 0 && m.held()
	case m.state == cb.HalfOpen:
		s.ProbesOut = m.issued - m.probeOK
	}
	return s
}

// OpenFor is the open time the policy gives backoff level level, clamped
// to the levels there are.
func (m *Model) OpenFor(level int) time.Duration {
	m.lock()
	defer m.unlock()
	return m.openAt(min(max(level, 0), maxLevel))
}
