package cbredis

import "github.com/tripswitch/tripswitch/cb"

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
