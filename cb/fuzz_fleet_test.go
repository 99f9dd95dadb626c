package cb_test

// What FuzzBreaker drives through the fleet seam (cb.FleetLink): the
// fleet's window (SetWindow, with counts, replicas and quorum fuzzed, and
// for the current, an older, a newer or a remembered generation), the
// hold on probing and its grant, the transitions adopted from other
// replicas (AdoptOpen with any remaining time and level, AdoptClosed), and
// the sharer's reads (Status, Totals, OpenFor), all compared with the
// model's.
//
// Argument bytes of the fleet ops:
//
//	SetWindow   four counts (successes, failures, slow successes, slow
//	            failures; see fleetCount), replicas and quorum (see
//	            fleetInt), a generation (see fleetGen)
//	Hold        bit 0: on
//	Grant       a generation
//	AdoptOpen   a clock move (fuzzConfig.duration), its sign (see
//	            decodeFleetOp), a level (see fleetLevel)
//	AdoptClosed none
//	Status      a level for OpenFor

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

// fleetOp holds the decoded arguments of a fleet op.
type fleetOp struct {
	Counts           cb.WindowCounts
	Replicas, Quorum int
	Gen              fleetGenChoice
	NilWindow        bool // SetWindow(gen, nil)
	On               bool
	Remaining        time.Duration
	Level            int
}

// fleetGenChoice is how a fleet op names a generation: the one a Status
// read just now gives (compared as part of the op), plus Delta; or, when
// Seen, the one the subject's last such read gave, without reading (the
// generation a sharer read some time ago, and no look at the clock).
type fleetGenChoice struct {
	Seen  bool
	Delta uint64
}

// fleetGen decodes a generation byte: bits 0-2 choose (0-3: the current
// generation; 4: the one before; 5: the one after; 6: the current one
// plus 2^39, the same modulo the generation's bits in the state word; 7:
// the last seen), and bits 3-4 both set ask SetWindow for a nil window.
func fleetGen(b byte) (g fleetGenChoice, nilWindow bool) {
	switch b & 7 {
	case 4:
		g.Delta = math.MaxUint64 // -1
	case 5:
		g.Delta = 1
	case 6:
		g.Delta = 1 << 39
	case 7:
		g.Seen = true
	}
	return g, b&0x18 == 0x18
}

// fleetCount decodes a count: mostly small (below 0xe0: 0 to 31), so that
// the fleet's counts weigh like a few replicas' windows; up to 0xf7,
// thousands; from 0xf8, one of fleetHugeCounts, which a store with a bad
// value may hand over, and whose sums overflow.
func fleetCount(b byte) uint64 {
	switch {
	case b >= 0xf8:
		return fleetHugeCounts[b-0xf8]
	case b >= 0xe0:
		return uint64(b-0xdf) * 1000
	}
	return uint64(b & 0x1f)
}

var fleetHugeCounts = [...]uint64{
	1 << 60, 1 << 62, 1 << 63, 3 << 62,
	math.MaxUint64 - 10, math.MaxUint64 - 4, math.MaxUint64 - 1, math.MaxUint64,
}

// fleetInt decodes replicas or a quorum: 0 to 15, negative with bit 7;
// and the extremes: 0x7f the largest int, 0x7e one less, 0xff the
// smallest, 0xfe one more.
func fleetInt(b byte) int {
	switch b {
	case 0x7f:
		return math.MaxInt
	case 0x7e:
		return math.MaxInt - 1
	case 0xff:
		return math.MinInt
	case 0xfe:
		return math.MinInt + 1
	}
	n := int(b & 0x0f)
	if b&0x80 != 0 {
		return -n
	}
	return n
}

// fleetLevel decodes a backoff level: by bits 6-7, 0 to 7, 0 to 63, past
// the levels there are (64 to 126, or the largest int), or negative (-1 to
// -63, or the smallest int).
func fleetLevel(b byte) int {
	low := int(b & 0x3f)
	switch b >> 6 {
	case 0:
		return low & 7
	case 1:
		return low
	case 2:
		if low == 0x3f {
			return math.MaxInt
		}
		return 64 + low
	}
	if low == 0x3f {
		return math.MinInt
	}
	return -1 - low
}

// Signs of AdoptOpen's remaining time (its sign byte mod 4).
const (
	remAsIs    = 0 // the clock move, as it is
	remNeg     = 1 // its negative
	remForever = 2 // the largest Duration, which never comes
	remMin     = 3 // the smallest Duration
)

func (c *fuzzConfig) decodeFleetOp(r *fuzzReader, o *fuzzOp) {
	f := &fleetOp{}
	o.fleet = f
	switch o.kind {
	case opSetWindow:
		f.Counts.Successes = fleetCount(r.byte())
		f.Counts.Failures = fleetCount(r.byte())
		f.Counts.SlowSuccesses = fleetCount(r.byte())
		f.Counts.SlowFailures = fleetCount(r.byte())
		f.Replicas = fleetInt(r.byte())
		f.Quorum = fleetInt(r.byte())
		f.Gen, f.NilWindow = fleetGen(r.byte())
	case opHold:
		f.On = r.byte()&1 != 0
	case opGrant:
		f.Gen, _ = fleetGen(r.byte())
	case opAdoptOpen:
		f.Remaining = c.duration(r)
		switch r.byte() % 4 {
		case remNeg:
			f.Remaining = -f.Remaining
		case remForever:
			f.Remaining = math.MaxInt64
		case remMin:
			f.Remaining = math.MinInt64
		}
		f.Level = fleetLevel(r.byte())
	case opStatus:
		f.Level = fleetLevel(r.byte())
	}
}

// fleetSubject is a subject's fleet seam.
type fleetSubject interface {
	totals() cb.WindowCounts
	status() cb.FleetStatus
	openFor(level int) time.Duration
	setWindow(gen uint64, f *cb.FleetWindow) bool
	holdProbes(on bool)
	grantProbes(gen uint64) bool
	adoptOpen(remaining time.Duration, level int) bool
	adoptClosed() bool
	// seenGen is the generation the subject's last fleet read gave.
	seenGen() *uint64
}

// fleetAnswer is what a fleet op answered, as comparable data.
type fleetAnswer struct {
	Op  string
	Gen uint64
	OK  bool
}

// fleetRead is what a Status op read.
type fleetRead struct {
	Status  cb.FleetStatus
	Totals  cb.WindowCounts
	OpenFor time.Duration
}

// fleetGenOf returns the generation g names on s, reading (and tracing)
// its Status when g asks to.
func fleetGenOf(s subject, g fleetGenChoice, trace *[]any) uint64 {
	seen := s.seenGen()
	if !g.Seen {
		st := s.status()
		*trace = append(*trace, st)
		*seen = st.Generation
		return st.Generation + g.Delta
	}
	return *seen
}

// runFleet applies the fleet op o to s.
func runFleet(s subject, o *fuzzOp, trace *[]any) {
	f := o.fleet
	switch o.kind {
	case opSetWindow:
		gen := fleetGenOf(s, f.Gen, trace)
		var fw *cb.FleetWindow
		if !f.NilWindow {
			fw = &cb.FleetWindow{Counts: f.Counts, Replicas: f.Replicas, Quorum: f.Quorum}
		}
		*trace = append(*trace, fleetAnswer{"SetWindow", gen, s.setWindow(gen, fw)})
	case opHold:
		s.holdProbes(f.On)
	case opGrant:
		gen := fleetGenOf(s, f.Gen, trace)
		*trace = append(*trace, fleetAnswer{"GrantProbes", gen, s.grantProbes(gen)})
	case opAdoptOpen:
		*trace = append(*trace, fleetAnswer{Op: "AdoptOpen", OK: s.adoptOpen(f.Remaining, f.Level)})
	case opAdoptClosed:
		*trace = append(*trace, fleetAnswer{Op: "AdoptClosed", OK: s.adoptClosed()})
	case opStatus:
		st := s.status()
		*s.seenGen() = st.Generation
		*trace = append(*trace, fleetRead{st, s.totals(), s.openFor(f.Level)})
	}
}

// fleetMemo is a subject's memory of the generation its last fleet read
// gave.
type fleetMemo struct{ gen uint64 }

func (m *fleetMemo) seenGen() *uint64 { return &m.gen }

func (s *breakerSubject) totals() cb.WindowCounts         { return s.b.FleetLink().Totals() }
func (s *breakerSubject) status() cb.FleetStatus          { return s.b.FleetLink().Status() }
func (s *breakerSubject) openFor(level int) time.Duration { return s.b.FleetLink().OpenFor(level) }
func (s *breakerSubject) holdProbes(on bool)              { s.b.FleetLink().HoldProbes(on) }
func (s *breakerSubject) grantProbes(gen uint64) bool     { return s.b.FleetLink().GrantProbes(gen) }
func (s *breakerSubject) adoptClosed() bool               { return s.b.FleetLink().AdoptClosed() }

func (s *breakerSubject) adoptOpen(remaining time.Duration, level int) bool {
	return s.b.FleetLink().AdoptOpen(remaining, level)
}

// setWindow also checks that the breaker keeps a copy of the window and
// leaves the caller's alone.
func (s *breakerSubject) setWindow(gen uint64, f *cb.FleetWindow) bool {
	if f == nil {
		return s.b.FleetLink().SetWindow(gen, nil)
	}
	given := *f
	ok := s.b.FleetLink().SetWindow(gen, f)
	require.Equal(s.t, given, *f, "SetWindow changed the caller's window")
	return ok
}

func (s *modelSubject) totals() cb.WindowCounts         { return s.m.Totals() }
func (s *modelSubject) status() cb.FleetStatus          { return s.m.Status() }
func (s *modelSubject) openFor(level int) time.Duration { return s.m.OpenFor(level) }
func (s *modelSubject) holdProbes(on bool)              { s.m.HoldProbes(on) }
func (s *modelSubject) grantProbes(gen uint64) bool     { return s.m.GrantProbes(gen) }
func (s *modelSubject) adoptClosed() bool               { return s.m.AdoptClosed() }

func (s *modelSubject) adoptOpen(remaining time.Duration, level int) bool {
	return s.m.AdoptOpen(remaining, level)
}

func (s *modelSubject) setWindow(gen uint64, f *cb.FleetWindow) bool { return s.m.SetWindow(gen, f) }

// Seed building for the fleet ops.

// Generation bytes (see fleetGen).
const (
	genNow, genBefore, genAfter, genWrapped, genSeen byte = 0, 4, 5, 6, 7
	genNil                                           byte = 0x18
)

// Level bytes (see fleetLevel).
const (
	lvl63, lvl64, lvlMaxInt, lvlNeg1, lvlMinInt byte = 0x7f, 0x80, 0xbf, 0xc0, 0xff
)

// Count bytes (see fleetCount) and replicas or quorum bytes (see
// fleetInt).
const (
	count1000, count2e60, countMaxLess10, countMax byte = 0xe0, 0xf8, 0xfc, 0xff
	negative, intMax, intMin                       byte = 0x80, 0x7f, 0xff
)

// window is a fleet window's bytes: four counts (see fleetCount), replicas
// and quorum (see fleetInt).
type window [6]byte

func (s seed) setWindow(w window, gen byte) seed {
	return append(append(append(s, opSetWindow), w[:]...), gen)
}

func (s seed) hold(on bool) seed {
	if on {
		return append(s, opHold, 1)
	}
	return append(s, opHold, 0)
}

func (s seed) grant(gen byte) seed  { return append(s, opGrant, gen) }
func (s seed) adoptClosed() seed    { return append(s, opAdoptClosed) }
func (s seed) status(lvl byte) seed { return append(s, opStatus, lvl) }
func (s seed) statusNow() seed      { return s.status(0) }

// adoptOpen adopts an open state for the clock move d (with its raw bytes)
// under sign, at the level of the byte lvl.
func (s seed) adoptOpen(d, sign, lvl byte, raw ...byte) seed {
	return append(append(append(s, opAdoptOpen, d), raw...), sign, lvl)
}

// TestFleetSeedsAreInTheCorpus checks that each of fleetSeeds is in
// FuzzBreaker's corpus, under its name, as defined.
func TestFleetSeedsAreInTheCorpus(t *testing.T) {
	for _, s := range fleetSeeds() {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", []byte(s.data))
		got, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzBreaker", s.name))
		if err != nil || string(got) != want {
			t.Errorf("testdata/fuzz/FuzzBreaker/%s must read:\n%s", s.name, want)
		}
	}
}

// namedSeed is a seed kept in the corpus under its name.
type namedSeed struct {
	name string
	data seed
}

// fleetSeeds cover each rule of cb.FleetLink at least once. They are
// FuzzBreaker's seeds as files of its corpus (testdata/fuzz/FuzzBreaker),
// named after the rule they cover; TestFleetSeedsAreInTheCorpus keeps the
// files and these definitions the same.
func fleetSeeds() []namedSeed {
	rates := seedConfig{minCalls: min5, failRate: rateHalf, consecutive: consecOff}
	fast := seedConfig{consecutive: consec1, open: open1ms, success: succ1, halfOpen: half10s}
	lazyFast := fast
	lazyFast.flags = flagLazy
	backoff := seedConfig{consecutive: consec1, open: open1ms, maxOpen: capTen, success: succ2, halfOpen: half7ms}
	return []namedSeed{
		// The fleet's window is judged at once with the local one when
		// the quorum holds (this replica's failure makes the second
		// reporter): 3 failures of 5 calls trip, with the fleet's reason.
		{"fleet-window-judged-at-once-under-quorum", newSeed(rates).exec(kFail, dZero).setWindow(window{2, 2, 0, 0, 1, 2}, genNow).metrics().statusNow()},
		// Without the quorum the local window is judged alone; a fast
		// success judges nothing; the next local failure makes the
		// quorum and the joined window trips.
		{"fleet-window-without-quorum-then-local-failure", newSeed(rates).exec(kOK, dZero).setWindow(window{0, 9, 0, 0, 1, 2}, genNow).metrics().
			exec(kOK, dZero).metrics().exec(kFail, dZero).metrics()},
		// A quorum of at most 1 always holds, negative replicas too; a
		// window below MinimumCalls with the local one trips nothing
		// until failures fill it.
		{"fleet-quorum-of-at-most-one", newSeed(rates).setWindow(window{1, 1, 0, 0, negative | 3, 0}, genNow).metrics().
			setWindow(window{1, 1, 0, 0, 0, negative | 2}, genNow).times(2, fail).metrics().exec(kFail, dZero).metrics()},
		// Refused: a window for an older, a newer, a wrapped or a
		// remembered generation, and any window while open; a close
		// removes an accepted one, and so does a nil window (each
		// window would trip with the next failures).
		{"fleet-window-refused-for-other-generations-and-removed", newSeed(rates).statusNow().exec(kOK, dZero).setWindow(window{0, 4, 0, 0, 3, 2}, genBefore).
			setWindow(window{0, 4, 0, 0, 3, 2}, genAfter).setWindow(window{0, 4, 0, 0, 3, 2}, genWrapped).
			force(fReset).setWindow(window{0, 4, 0, 0, 3, 2}, genSeen).exec(kFail, dZero).metrics().
			setWindow(window{2, 0, 0, 0, 0, 0}, genNow).force(fOpen).setWindow(window{0, 9, 0, 0, 3, 0}, genNow).
			force(fClosed).times(3, fail).metrics().
			force(fReset).times(2, fail).setWindow(window{2, 0, 0, 0, 0, 0}, genNow).setWindow(window{}, genNil).
			exec(kFail, dZero).metrics()},
		// The fleet's slow calls trip on the slow-call rate, with the
		// fleet's reason; large counts weigh in the rates.
		{"fleet-slow-call-rate", newSeed(seedConfig{minCalls: min2, failRate: rateOff, consecutive: consecOff, slowDur: slow1ms, slowRate: slowRate20}).
			exec(kOK, dSlow).setWindow(window{3, 0, 1, 0, 1, 2}, genNow).metrics()},
		{"fleet-large-counts-in-rates", newSeed(rates).exec(kFail, dZero).setWindow(window{count2e60, count2e60, 0, 0, 1, 0}, genNow).metrics().
			force(fReset).exec(kFail, dZero).setWindow(window{count2e60, count1000, 0, count2e60, 1, 0}, genNow).metrics()},
		// Counts too large to add up (a bad value in a store) keep the
		// rates they give: 20 failures among 2^64 calls trip nothing,
		// nearly all failures trip; the largest number of replicas and
		// this one meet the largest quorum.
		{"fleet-counts-too-large-to-add-up", newSeed(rates).exec(kOK, dZero).setWindow(window{countMaxLess10, 20, 0, 0, 0, 0}, genNow).metrics().
			setWindow(window{1, countMax, 0, 0, 0, 0}, genNow).metrics().force(fReset).
			setWindow(window{countMax, countMax, countMax, countMax, 0, negative | 1}, genNow).metrics().force(fReset).
			exec(kFail, dZero).setWindow(window{0, 9, 0, 0, intMax, intMax}, genNow).metrics().force(fReset).
			setWindow(window{0, 9, 0, 0, intMin, intMin}, genNow).metrics()},
		// The TripRule is asked of the joined window, at once and after a
		// failure; and SetWindow judges the local window alone, at once,
		// when the quorum does not hold.
		{"fleet-trip-rule-on-joined-window", newSeed(seedConfig{consecutive: consecOff, failRate: rateOff, flags: rule(2)}).
			exec(kFail, dZero).setWindow(window{2, 1, 0, 0, 1, 2}, genNow).metrics()},
		{"fleet-window-judges-local-alone-at-once", newSeed(seedConfig{window: winCalls10, minCalls: min5, consecutive: consecOff, failRate: rateThreeQuarters}).
			times(3, fail).times(2, ok).metrics().reconfigure(seedConfig{window: winCalls10, minCalls: min5, consecutive: consecOff, failRate: rateHalf}).
			setWindow(window{0, 0, 0, 0, 0, 9}, genNow).metrics()},
		// Held: an open breaker past its open time stays open (RetryAfter
		// 0, Status.Held) until its generation is granted; a grant of
		// another generation does nothing; the granted one probes and
		// closes; the next open generation is held again until the hold
		// is off.
		{"fleet-hold-until-granted", newSeed(fast).hold(true).exec(kFail, dZero).statusNow().advance(dOpen).exec(kOK, dZero).allow().statusNow().
			grant(genAfter).grant(genBefore).exec(kOK, dZero).grant(genNow).exec(kOK, dZero).metrics().
			exec(kFail, dZero).advance(dOpen).statusNow().exec(kOK, dZero).hold(false).exec(kOK, dZero).metrics()},
		// Lazy: the half-open state a late grant (of the generation read
		// before, without a look) lets in is dated at the open time's
		// end; a grant, and an adoption, act on the state as last made,
		// as a Force does: an Open whose time is over but that nobody
		// looked at is still open to them.
		{"fleet-grant-and-adoption-act-on-state-as-last-made", newSeed(lazyFast).hold(true).exec(kFail, dZero).statusNow().advance(dOpen).advance(dWindow).state().
			grant(genSeen).advance(dBucket).metrics().statusNow().exec(kFail, dZero).statusNow().hold(false).
			advance(dOpen).grant(genSeen).state().exec(kOK, dZero).exec(kFail, dZero).advance(dOpen).
			adoptOpen(dOpen, remAsIs, 0).metrics()},
		// A granted episode that times out reopens with the backoff step,
		// held again past its open time (a grant of the generation after
		// it does nothing for it); a grant of the next generation, made
		// while closed, lets its open time end unheld.
		{"fleet-granted-episode-times-out-held-again", newSeed(backoff).hold(true).exec(kFail, dZero).grant(genNow).advance(dOpen).allow().statusNow().
			advance(dHalfOpen).statusNow().grant(genAfter).advance(dMaxOpen).exec(kOK, dZero).statusNow().
			grant(genNow).exec(kOK, dZero).exec(kOK, dZero).metrics().
			grant(genAfter).exec(kFail, dZero).advance(dOpen).exec(kOK, dZero).metrics()},
		// AdoptOpen: from closed an event, the fleet's time left and
		// level (past the levels there are, clamped; negative, 0); open
		// already, quiet; no time left, half-open at once; forever,
		// never; a failed probe backs off from the adopted level.
		{"fleet-adopt-open-times-and-levels", newSeed(backoff).times(2, ok).adoptOpen(dOpen, remAsIs, 3).status(3).exec(kOK, dZero).metrics().
			adoptOpen(dMaxOpen, remAsIs, lvl64).status(lvl63).adoptOpen(dHalfOpen, remNeg, 3).metrics().
			exec(kOK, dZero).exec(kFail, dZero).statusNow().advance(dMaxOpen).adoptOpen(dZero, remForever, lvlMaxInt).
			advance(dPastWindow).metrics().adoptOpen(dOpen, remMin, lvlMinInt).state().status(lvlMinInt).
			adoptOpen(dOpen, remAsIs, lvlNeg1).statusNow()},
		// AdoptOpen from half-open with probes out: they come back stale;
		// forced open refuses both adoptions.
		{"fleet-adopt-open-from-half-open-and-forced", newSeed(backoff).exec(kFail, dZero).advance(dOpen).allow().allow().adoptOpen(dOpen, remAsIs, 1).
			done(0, kOK).done(0, kFail).metrics().force(fOpen).adoptOpen(dZero, remAsIs, 0).adoptClosed().
			statusNow().force(fHalfOpen).adoptOpen(dZero, remAsIs, 0).metrics()},
		// AdoptClosed: refused when closed; from open and from half-open
		// (a probe's success in flight counted as none) it empties the
		// window and the streaks and ends the backoff; probes out are
		// stale.
		{"fleet-adopt-closed", newSeed(backoff).adoptClosed().exec(kOK, dZero).exec(kFail, dZero).adoptClosed().metrics().
			exec(kFail, dZero).advance(dOpen).exec(kOK, dZero).allow().adoptClosed().done(0, kOK).metrics().
			statusNow().exec(kFail, dZero).advance(dOpen).exec(kFail, dZero).statusNow().adoptClosed().metrics()},
		// In a close's gap: a call, an adoption, a sharer's reads.
		{"fleet-ops-in-closing-gap", newSeed(seedConfig{consecutive: consec2, minCalls: min2, open: open1ms, success: succ1}).
			times(2, fail).gap(seed{}.adoptOpen(dOpen, remAsIs, 2)).adoptClosed().metrics().
			advance(dOpen).gap(seed{opExecute, kFail, dZero, 0}).adoptClosed().metrics().
			force(fOpen).gap(seed{}.statusNow()).force(fClosed).gap(seed{}.adoptClosed()).force(fReset).
			times(2, fail).gap(seed{}.setWindow(window{0, 9, 0, 0, 1, 0}, genNow)).adoptClosed().metrics()},
		// Totals: the closed state's counted outcomes by kind, for life;
		// probes, rejections, ignored and stale calls are not in them.
		{"fleet-totals", newSeed(seedConfig{consecutive: consec2, slowDur: slow1ms, open: open1ms, success: succ1}).
			exec(kOK, dZero).exec(kOK, dSlow).exec(kFail, dSlow).exec(kCancel, dZero).allow().exec(kFail, dZero).
			done(0, kOK).exec(kOK, dZero).statusNow().advance(dOpen).exec(kOK, dZero).statusNow().
			adoptOpen(dOpen, remAsIs, 0).exec(kOK, dZero).statusNow()},
	}
}
