package cbredis

import (
	"fmt"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// member is one shared breaker. Its fields below unsub belong to the
// syncer goroutine alone.
type member struct {
	name  string
	link  cb.FleetLink
	base  string
	warm  chan struct{} // closed after the first round
	left  chan struct{} // closed once Unshare has made it local
	unsub func()

	shape shape
	every time.Duration // the interval between syncs
	next  time.Time     // when the next sync is due

	sent  cb.WindowCounts // Totals as last sent
	epoch int64           // the closed generation own counts in; -1 for none
	own   map[int64]cb.WindowCounts
	// gen is the record's generation as this replica last adopted or
	// wrote it; -1 when unknown, genBad when the record read was bad.
	gen int64
	// linked reports that the breaker's current episode is the fleet's:
	// adopted from the record or announced to it. Its outcome is
	// announced; a local episode's is not.
	linked bool
	// joined reports that HoldProbes is on: the fleet has been reached
	// since the breaker last went local.
	joined   bool
	degraded bool
	lastOK   time.Time
	pending  *announcement
	// failures counts this member's failed syncs in a row, which its
	// backoff doubles with.
	failures int
	// doubt is what this replica sent in syncs whose replies were lost:
	// the server may have counted it, in a bucket the reply would have
	// named, so it is taken off the fleet's window until it has aged out
	// of it. Counting it twice, local and fleet, could open the fleet on
	// one replica's failures; leaving it out at worst undercounts.
	doubt []doubtful
	// removed reports that Unshare took the member away, perhaps before
	// the syncer heard it join.
	removed bool
}

// doubtful is a delta of unknown fate, in doubt until until.
type doubtful struct {
	until time.Time
	c     cb.WindowCounts
}

// genBad is a member's gen when the record it read was not one this
// package writes, and it knew no generation before: its next transition
// is written over the bad record.
const genBad = -2

// announcement is a transition to write to the record: to state, made in
// the breaker's generation localGen.
type announcement struct {
	open     bool
	localGen uint64
}

// shape is what the syncer needs of a breaker's config.
type shape struct {
	width    time.Duration // a bucket; 0 for a count window, whose counts are not shared
	buckets  int
	window   time.Duration // a whole sync-less window makes the breaker local
	leaseTTL time.Duration // the probe lease: the half-open timeout
}

// shapeOf is the shape of the breaker's policy, as the core resolved it.
// A count window's breaker goes local after the default window without a
// sync: it has no span of its own.
func shapeOf(l cb.FleetLink) shape {
	fs := l.Shape()
	s := shape{width: fs.BucketWidth, buckets: fs.Buckets, window: fs.Window, leaseTTL: fs.HalfOpenTimeout}
	if s.width == 0 {
		s.window = cb.DefaultWindow
	}
	return s
}

func (f *Fleet) newMember(c cb.Circuit) (*member, error) {
	link := c.FleetLink()
	s := shapeOf(link)
	if f.o.setEvery && s.width > f.o.interval {
		return nil, fmt.Errorf("%w: interval %v is shorter than a bucket (%v) of breaker %q's window: each sync would write the same bucket again",
			ErrInvalidOption, f.o.interval, s.width, c.Name())
	}
	return &member{
		name:   c.Name(),
		link:   link,
		base:   baseKey(f.o.prefix, c.Name()),
		warm:   make(chan struct{}),
		left:   make(chan struct{}),
		shape:  s,
		every:  max(f.o.interval, s.width),
		sent:   link.Totals(),
		epoch:  -1,
		own:    make(map[int64]cb.WindowCounts),
		gen:    -1,
		lastOK: time.Now(),
	}, nil
}

// goLocal makes the breaker a local breaker for good: no listener, no
// fleet window, no hold.
func (m *member) goLocal() {
	if m.unsub != nil {
		m.unsub()
	}
	m.release()
}

// release lets go of the breaker: no fleet window, no hold.
func (m *member) release() {
	m.link.SetWindow(0, nil)
	m.link.HoldProbes(false)
}

// join puts the breaker under the fleet's hold on probing after the
// fleet was reached.
func (m *member) join() {
	if !m.joined {
		m.joined = true
		m.gen = -1 // adopt the record afresh
		m.link.HoldProbes(true)
	}
}

// degrade makes a breaker that has gone a whole window without a sync a
// local breaker until the fleet is reached again.
func (m *member) degrade() {
	m.joined, m.linked, m.pending = false, false, nil
	m.release()
}

// hear notes a transition of a shared breaker: the ones the fleet
// shares become announcements for the next round.
func (f *Fleet) hear(ev event) {
	m, tr := ev.m, ev.tr
	switch tr.Reason {
	case cb.ReasonConsecutiveFailures, cb.ReasonFleetFailureRate, cb.ReasonFleetSlowCallRate, cb.ReasonTripRule:
		if m.joined {
			m.pending = &announcement{open: true, localGen: tr.Generation}
		}
	case cb.ReasonProbeFailed, cb.ReasonProbeSlow, cb.ReasonHalfOpenTimeout:
		if m.linked && m.joined {
			m.pending = &announcement{open: true, localGen: tr.Generation}
		}
	case cb.ReasonProbesSucceeded:
		if m.linked && m.joined {
			m.pending = &announcement{open: false, localGen: tr.Generation}
		}
	case cb.ReasonFailureRate, cb.ReasonSlowCallRate:
		// A local episode, on one replica's own window without a quorum:
		// it probes on its own when its open time is over.
		m.linked, m.pending = false, nil
		m.link.GrantProbes(tr.Generation)
	case cb.ReasonForcedOpen, cb.ReasonForcedClosed, cb.ReasonForcedHalfOpen, cb.ReasonReset:
		// An operator's hand on this replica alone.
		m.linked, m.pending = false, nil
	}
}

// waitsForLease reports whether the breaker's fleet episode has reached
// the end of its open time and waits for the probe lease.
func (m *member) waitsForLease() bool {
	return m.linked && m.joined && m.link.Status().Held
}

// openTimeLeft is the time until the breaker's fleet episode reaches
// the end of its open time, when it is open; an hour otherwise.
func (m *member) openTimeLeft() time.Duration {
	if m.linked && m.joined {
		if st := m.link.Status(); st.State == cb.Open && st.Remaining > 0 {
			return st.Remaining
		}
	}
	return time.Hour
}
