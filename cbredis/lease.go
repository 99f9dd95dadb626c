package cbredis

import (
	"context"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

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
		args[i] = []any{f.o.replica, m.gen, millis(m.shape.leaseTTL)}
	}
	cmds := f.pipeline(ctx, leaseScript, ms, args)
	for i, m := range ms {
		v, err := ints(cmds[i], 6)
		if err != nil {
			f.errs.Inc()
			continue // asked again next round
		}
		rec, bad := recordOf(v[1:6])
		f.malformed.Add(uint64(bad))
		st := states[i]
		switch v[0] {
		case 0:
			f.apply(m, rec)
		case 1:
			m.link.AdoptOpen(rec.rem, rec.level)
		case 2:
			m.link.GrantProbes(st.Generation)
		case 3:
			if len(v) > 6 {
				m.link.AdoptOpen(time.Duration(v[6])*time.Millisecond, rec.level)
			}
		}
	}
}
