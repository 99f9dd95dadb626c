package cb

// word is the breaker's whole decision state in one uint64, changed only
// by CAS, so a transition is one CAS and a probe permit is one CAS:
//
//	bits  0-1  State, or closing (see below)
//	bit   2    forced open
//	bits  3-8  backoff level: the open time is OpenTimeout<<level, capped
//	bits  9-16 probe permits taken in this half-open episode
//	bits 17-24 probe successes in this half-open episode
//	bits 25-63 generation, bumped by every transition, Force* and Reset
//
// Six bits of level reach any cap: 1ns<<63 exceeds every Duration. The
// generation has 39 bits: at a million transitions a second it wraps after
// 6 days, and a call is misjudged only if it spans exactly a multiple of
// 2^39 transitions.
type word uint64

const (
	forcedBit    = 1 << 2
	levelShift   = 3
	levelMask    = 0x3f
	permitsShift = 9
	probeOKShift = 17
	fieldMask    = 0xff
	genShift     = 25
	maxLevel     = levelMask
)

// closing is the state of a word between the CAS that closes a breaker
// and the one that admits calls to the new closed generation. The window
// and the failure streak are emptied in between, by whichever goroutine
// comes first (the closer, or a call that finds the word closing), so no
// call of the new generation is ever judged on the old window or streak.
// Outside this file it reads as Closed (see public).
const closing State = 3

func (w word) state() State           { return State(w & 3) }
func (w word) forced() bool           { return w&forcedBit != 0 }
func (w word) level() uint            { return uint(w>>levelShift) & levelMask }
func (w word) permits() uint64        { return uint64(w>>permitsShift) & fieldMask }
func (w word) probeSuccesses() uint64 { return uint64(w>>probeOKShift) & fieldMask }
func (w word) gen() uint64            { return uint64(w >> genShift) }

// public is the state a caller is told: a closing word is closed.
func (w word) public() State {
	if s := w.state(); s != closing {
		return s
	}
	return Closed
}

// settled is a closing word with its close completed: the same
// generation, admitting calls. A closing word made by a probe carries its
// success in the probe-success field until the close's clear counts it.
func (w word) settled() word { return w &^ (3 | fieldMask<<probeOKShift) }

// nextGen is the word of a new generation in state s, with no permits taken.
func (w word) nextGen(s State, forced bool, level uint) word {
	n := (w>>genShift+1)<<genShift | word(s) | word(level)<<levelShift
	if forced {
		n |= forcedBit
	}
	return n
}

func (w word) withPermits(n uint64) word {
	return w&^(fieldMask<<permitsShift) | word(n)<<permitsShift
}

func (w word) withProbeSuccesses(n uint64) word {
	return w&^(fieldMask<<probeOKShift) | word(n)<<probeOKShift
}

// The failure streak is one atomic uint64: the generation bits of the
// closed word it belongs to (as they sit in the word, bits 25-63) above a
// count (bits 0-24, saturating at maxStreak). A close stamps it with the
// new generation and a zero count before any call of that generation is
// admitted, and a closed call changes it only while the stamp is its own
// generation, so a call that outlived its generation cannot add to the
// next one's streak.
const maxStreak = 1<<genShift - 1

// streakOf is the empty streak of w's generation.
func streakOf(w word) uint64 { return uint64(w) &^ maxStreak }
