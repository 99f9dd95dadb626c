package cbredis

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// sync flushes and reads every member, and returns the members whose open
// time is over and must ask for the probe lease.
func (f *Fleet) sync(ctx context.Context, ms []*member, start time.Time) (leases []*member, ok bool) {
	states := make([]cb.FleetStatus, len(ms))
	deltas := make([]cb.WindowCounts, len(ms))
	args := make([][]any, len(ms))
	for i, m := range ms {
		st := m.link.Status()
		cur := m.link.Totals()
		d := cur.Sub(m.sent)
		m.sent = cur
		states[i], deltas[i] = st, d
		var ttl time.Duration
		if m.linked && st.State == cb.HalfOpen && st.ProbesOut > 0 {
			ttl = m.shape.leaseTTL
		}
		args[i] = []any{
			f.o.replica, m.epoch, d.Successes, d.Failures, d.SlowSuccesses, d.SlowFailures,
			millis(m.shape.width), m.shape.buckets, millis(ttl),
		}
	}
	cmds := f.pipeline(ctx, syncScript, ms, args)
	ok = true
	for i, m := range ms {
		v, err := ints(cmds[i], 10)
		if err != nil || (len(v)-10)%5 != 0 {
			ok = false
			if errors.Is(err, errMalformed) || err == nil {
				f.malformed.Inc()
			}
			if deltas[i].Calls() > 0 {
				m.doubt = append(m.doubt, doubtful{until: start.Add(m.shape.window + m.shape.width), c: deltas[i]})
			}
			m.failures++
			f.missed(m, start)
			continue
		}
		m.failures = 0
		m.lastOK = start
		if m.degraded {
			m.degraded = false
			f.degraded.Dec()
		}
		m.join()
		rec, bad := recordOf(v[1:6])
		f.malformed.Add(uint64(bad))
		if written := v[6]; written >= 0 {
			m.own[written] = m.own[written].Add(deltas[i])
		}
		f.apply(m, rec)
		if !rec.open && rec.gen >= 0 && rec.gen == m.gen && m.shape.width > 0 {
			f.malformed.Add(m.judge(states[i], v[7], v[10:], v[6], f.o.quorum, start))
		}
		if f.needsLease(m, rec, v[8], time.Duration(v[9])*time.Millisecond) {
			leases = append(leases, m)
		}
	}
	return leases, ok
}

// missed notes a failed sync of m: a whole window without one makes the
// breaker local.
func (f *Fleet) missed(m *member, start time.Time) {
	if start.Sub(m.lastOK) < m.shape.window {
		return
	}
	if !m.degraded {
		m.degraded = true
		f.degraded.Inc()
	}
	m.degrade()
}

// judge hands the fleet's window to the breaker: the buckets read (rows
// of number, s, f, ss, sf) less what this replica wrote to them and what
// it may have (doubt), with others replicas reporting failures or slow
// calls.
func (m *member) judge(st cb.FleetStatus, others int64, rows []int64, written int64, quorum int, now time.Time) (bad uint64) {
	var sum cb.WindowCounts
	latest := written
	for r := 0; r+5 <= len(rows); r += 5 {
		b := rows[r]
		if min(rows[r+1], rows[r+2], rows[r+3], rows[r+4]) < 0 {
			bad++ // the script passes only counts it could parse: not ours
			continue
		}
		c := cb.WindowCounts{
			Successes: uint64(rows[r+1]), Failures: uint64(rows[r+2]),
			SlowSuccesses: uint64(rows[r+3]), SlowFailures: uint64(rows[r+4]),
		}
		sum = sum.Add(c.Sub(m.own[b]))
		latest = max(latest, b)
	}
	for b := range m.own {
		if b <= latest-int64(m.shape.buckets) {
			delete(m.own, b)
		}
	}
	m.doubt = slices.DeleteFunc(m.doubt, func(d doubtful) bool { return now.After(d.until) })
	for _, d := range m.doubt {
		sum = sum.Sub(d.c)
	}
	if st.State == cb.Closed {
		m.link.SetWindow(st.Generation, &cb.FleetWindow{Counts: sum, Replicas: int(max(others, 0)), Quorum: quorum})
	}
	return bad
}

// newEpoch starts counting in the closed generation g.
func (m *member) newEpoch(g int64) {
	if m.epoch != g {
		m.epoch = g
		clear(m.own)
		m.doubt = m.doubt[:0]
	}
}

// millis is d in whole milliseconds, rounded up: the scripts count in
// milliseconds, and a positive duration must stay positive (PX 0 is an
// error, and a narrower bucket would shorten the fleet's window).
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
