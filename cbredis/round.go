package cbredis

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tripswitch/tripswitch/cb"
)

// A round is one pass of the syncer over its members, under one deadline:
// the transitions to announce (one pipelined round trip, when there are
// any), the sync (one pipelined round trip: every member flushes its
// counts and reads back the fleet's window and record), and the probe
// leases to ask for (one more, when an open time is over).

// record is a breaker's state record as a script read it.
type record struct {
	gen   int64 // 0: no record yet; -1: a bad one, ignored
	open  bool
	level int
	rem   time.Duration // open time left, by the server's clock
}

// recordOf parses g, st, lvl, rem, bad.
func recordOf(v []int64) (record, int64) {
	return record{gen: v[0], open: v[1] == 1, level: int(v[2]), rem: time.Duration(v[3]) * time.Millisecond}, v[4]
}

// round runs one round over ms and reports whether Redis answered.
func (f *Fleet) round(ms []*member) bool {
	ctx, cancel := context.WithTimeout(context.Background(), f.o.timeout)
	defer cancel()
	start := time.Now()
	ok := f.announce(ctx, ms)
	leases, synced := f.sync(ctx, ms, start)
	ok = synced && ok
	if len(leases) > 0 {
		f.lease(ctx, leases)
	}
	if ok {
		f.syncs.Inc()
		f.lastSync.Store(time.Now().UnixNano())
	} else {
		f.errs.Inc()
	}
	return ok
}

// pipeline runs script s once per member of ms, with the arguments
// args[i] for ms[i], in one round trip, and returns each reply. When the server has
// lost its script cache, the scripts are loaded and the round trip is
// made once more.
func (f *Fleet) pipeline(ctx context.Context, s *redis.Script, ms []*member, args [][]any) []*redis.Cmd {
	for attempt := 0; ; attempt++ {
		pipe := f.client.Pipeline()
		cmds := make([]*redis.Cmd, len(ms))
		for i, m := range ms {
			cmds[i] = s.EvalSha(ctx, pipe, []string{m.base}, args[i]...)
		}
		_, _ = pipe.Exec(ctx) // each command carries its own error
		if attempt > 0 || !noScript(cmds) {
			return cmds
		}
		for _, s := range scripts {
			if err := s.Load(ctx, f.client).Err(); err != nil {
				return cmds
			}
		}
	}
}

func noScript(cmds []*redis.Cmd) bool {
	for _, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// errMalformed is a reply that is not what the script returns.
var errMalformed = errors.New("cbredis: malformed reply")

// ints is a script's reply as integers; at least n of them.
func ints(c *redis.Cmd, n int) ([]int64, error) {
	raw, err := c.Slice()
	if err != nil {
		return nil, err
	}
	v := make([]int64, len(raw))
	for i, x := range raw {
		n, ok := x.(int64)
		if !ok {
			return nil, errMalformed
		}
		v[i] = n
	}
	if len(v) < n {
		return nil, errMalformed
	}
	return v, nil
}

// announce writes the transitions heard since the last round to the
// records, for the members that have one.
func (f *Fleet) announce(ctx context.Context, ms []*member) bool {
	var todo []*member
	var states []cb.FleetStatus
	for _, m := range ms {
		if m.pending == nil || !m.joined || m.gen == -1 {
			continue
		}
		st := m.link.Status()
		if st.Generation != m.pending.localGen {
			m.pending = nil // the breaker has moved on since
			continue
		}
		todo = append(todo, m)
		states = append(states, st)
	}
	if len(todo) == 0 {
		return true
	}
	args := make([][]any, len(todo))
	for i, m := range todo {
		st := states[i]
		state, level, left := "closed", 0, time.Duration(0)
		if m.pending.open {
			state, level, left = "open", st.Level, st.Remaining
			switch {
			case st.State == cb.HalfOpen:
				// A record written back while this replica probes (see
				// apply): the others wait as long as its lease would
				// have had them wait, while its probe ends the episode.
				left = m.shape.leaseTTL
			case left == 0 && !st.Held:
				left = m.link.OpenFor(st.Level)
			}
		}
		ttl := max(24*time.Hour, 2*left)
		args[i] = []any{f.o.replica, m.gen, state, level, left.Milliseconds(), ttl.Milliseconds()}
	}
	cmds := f.pipeline(ctx, announceScript, todo, args)
	ok := true
	for i, m := range todo {
		v, err := ints(cmds[i], 6)
		if err != nil {
			ok = false
			continue
		}
		rec, bad := recordOf(v[1:])
		f.malformed.Add(uint64(bad))
		switch {
		case v[0] == 1 && m.pending.open:
			m.pending, m.gen, m.linked = nil, rec.gen, true
		case v[0] == 1:
			m.pending, m.gen, m.linked = nil, rec.gen, false
			m.newEpoch(rec.gen)
		case rec.open:
			// Another replica opened the fleet first: this one's trip joins it.
			m.pending = nil
			f.apply(m, rec)
		default:
			// The record moved on to a close this replica had not seen:
			// announce again against it, in the next round.
			m.gen = rec.gen
			m.newEpoch(rec.gen)
			f.poke()
		}
	}
	return ok
}

// newEpoch starts counting in the closed generation g.
func (m *member) newEpoch(g int64) {
	if m.epoch != g {
		m.epoch = g
		clear(m.own)
	}
}

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
			m.shape.width.Milliseconds(), m.shape.buckets, ttl.Milliseconds(),
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
			f.missed(m, start)
			continue
		}
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
			f.malformed.Add(m.judge(states[i], v[7], v[10:], v[6], f.o.quorum))
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
// of number, s, f, ss, sf) less what this replica wrote to them, with
// others replicas reporting failures or slow calls.
func (m *member) judge(st cb.FleetStatus, others int64, rows []int64, written int64, quorum int) (bad uint64) {
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
	if st.State == cb.Closed {
		m.link.SetWindow(st.Generation, &cb.FleetWindow{Counts: sum, Replicas: int(max(others, 0)), Quorum: quorum})
	}
	return bad
}

// apply adopts the record rec, when it is new to this replica.
func (f *Fleet) apply(m *member, rec record) {
	if rec.gen < 0 && m.gen == -1 {
		// A bad record is no generation to adopt, but it was read: a
		// transition may be written over it. Waiting for a good one
		// instead would keep a trip of this replica from the fleet,
		// and keep it open, held from probing, for good.
		m.gen = genBad
	}
	if rec.gen < 0 || rec.gen == m.gen {
		return
	}
	st := m.link.Status()
	switch {
	case rec.open:
		if m.link.AdoptOpen(rec.rem, rec.level) {
			m.linked, m.pending = true, nil
		}
	case rec.gen == 0 && m.linked && st.State != cb.Closed:
		// The record is gone (a server that restarted without its data)
		// while the fleet was open here, or probing here for the fleet:
		// this replica writes it back, so that the fleet stays open
		// until a probe succeeds.
		m.pending = &announcement{open: true, localGen: st.Generation}
		f.poke()
	default:
		if m.linked && st.State != cb.Closed {
			m.link.AdoptClosed()
		}
		m.linked = false
		m.newEpoch(rec.gen)
	}
	m.gen = rec.gen
}

// needsLease reports whether m, given its record and the lease's holder
// (0 none, 1 this replica, 2 another) and time left, must ask for the
// probe lease. A local episode is let probe at once; a fleet episode
// whose lease another replica holds waits for it.
func (f *Fleet) needsLease(m *member, rec record, holder int64, left time.Duration) bool {
	if !m.joined {
		return false
	}
	st := m.link.Status()
	if !m.linked {
		if st.Held && m.pending == nil {
			m.link.GrantProbes(st.Generation)
		}
		return false
	}
	if !rec.open || rec.gen != m.gen {
		return false
	}
	switch {
	case st.State == cb.HalfOpen && holder == 2 && st.ProbesOut == 0:
		// Granted once, but the lease lapsed and went to another
		// replica before this one probed: wait for that one's episode.
		m.link.AdoptOpen(left, st.Level)
		return false
	case st.State == cb.HalfOpen && holder == 0 && st.ProbesOut == 0:
		return true
	}
	return st.State == cb.Open && st.Held
}

// lease asks for the probe lease for each of ms.
func (f *Fleet) lease(ctx context.Context, ms []*member) {
	states := make([]cb.FleetStatus, len(ms))
	args := make([][]any, len(ms))
	for i, m := range ms {
		states[i] = m.link.Status()
		args[i] = []any{f.o.replica, m.gen, m.shape.leaseTTL.Milliseconds()}
	}
	cmds := f.pipeline(ctx, leaseScript, ms, args)
	for i, m := range ms {
		v, err := ints(cmds[i], 6)
		if err != nil {
			continue // asked again next round
		}
		rec, bad := recordOf(v[1:6])
		f.malformed.Add(uint64(bad))
		st := states[i]
		switch v[0] {
		case 0:
			f.apply(m, rec)
		case 1:
			m.link.AdoptOpen(rec.rem, st.Level)
		case 2:
			m.link.GrantProbes(st.Generation)
		case 3:
			if len(v) > 6 {
				m.link.AdoptOpen(time.Duration(v[6])*time.Millisecond, st.Level)
			}
		}
	}
}
