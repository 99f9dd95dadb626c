package cbredis

import (
	"context"
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// announce writes the transitions heard since the last round to the
// records, for the members that have one.
func (f *Fleet) announce(ctx context.Context, ms []*member) bool {
	var todo []*member
	var args [][]any
	for _, m := range ms {
		if m.pending == nil || !m.joined || m.gen == -1 {
			continue
		}
		st := m.link.Status()
		if st.Generation != m.pending.localGen {
			m.pending = nil // the breaker has moved on since
			continue
		}
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
		todo = append(todo, m)
		args = append(args, []any{f.o.replica, m.gen, state, level, millis(left), millis(ttl)})
	}
	if len(todo) == 0 {
		return true
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
