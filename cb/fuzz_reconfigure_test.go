package cb_test

// What FuzzBreaker changes at run time: Reconfigure to another config of
// the tables (of the same window shape or another), shadow mode switched
// on and off, and the trip rules of fuzzTripRules, with the listener
// replaced or removed along the way.
//
// The config flags byte grows three fields over those of fuzz_test.go:
//
//	bit  4     Shadow
//	bit  5     no OnStateChange (the listener is removed, or never set)
//	bits 6-7   the TripRule: an index into fuzzTripRules
//
// In the config of a Reconfigure, the lazy bit asks for a nil Clock (the
// breaker keeps its own) rather than the breaker's own clock; lazy mode
// itself is the input's first config's.

import (
	"cmp"
	"errors"
	"slices"

	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
)

const (
	flagShadow    = 16
	flagMute      = 32
	flagRuleShift = 6
)

// fuzzTripRules: none; two slow failures in the window; at least four
// calls of which a third failed; and a rule that trips on a streak of two
// and panics otherwise (a panic counts as false).
var fuzzTripRules = [...]func(cb.TripCounts) bool{
	nil,
	func(c cb.TripCounts) bool { return c.SlowFailures >= 2 },
	func(c cb.TripCounts) bool { return c.Calls >= 4 && c.Failures*3 >= c.Calls },
	func(c cb.TripCounts) bool {
		if c.ConsecutiveFailures >= 2 {
			return true
		}
		panic("fuzz: trip rule")
	},
}

// decodeReconfigFlags applies the flags of the fields above.
func (c *fuzzConfig) decodeReconfigFlags(flags byte) {
	c.cfg.Shadow = flags&flagShadow != 0
	c.mute = flags&flagMute != 0
	c.cfg.TripRule = fuzzTripRules[flags>>flagRuleShift]
}

// decodeReconfigure reads the config of a Reconfigure into o, and makes
// its time scales those of the clock moves decoded after it.
func (c *fuzzConfig) decodeReconfigure(r *fuzzReader, o *fuzzOp) {
	next := decodeFuzzConfig(r)
	o.cfg = &next
	c.width, c.window, c.slowDur = next.width, next.window, next.slowDur
	c.open, c.maxOpen, c.halfOpen = next.open, next.maxOpen, next.halfOpen
}

// fuzzListener is the OnStateChange of c, recording into ev: nil when c
// mutes it.
func fuzzListener(c *fuzzConfig, ev *[]cb.Transition) func(cb.Transition) {
	if c.mute {
		return nil
	}
	panicky := c.panicky
	return func(tr cb.Transition) {
		*ev = append(*ev, tr)
		if panicky {
			panic("fuzz: listener")
		}
	}
}

// setClassifiers sets the classifying funcs of mode in cfg (the
// classifier mode's is an option, not a field).
func setClassifiers(cfg *cb.Config, mode int) {
	cfg.IsIgnored, cfg.IsFailure = nil, nil
	switch mode {
	case classifyCustom:
		cfg.IsIgnored = func(err error) bool { return errors.Is(err, errFuzzSkip) }
		cfg.IsFailure = func(err error) bool { return !errors.Is(err, errFuzzBenign) } // never asked about nil
	case classifyIsFailure:
		cfg.IsFailure = func(err error) bool { return !errors.Is(err, errFuzzBenign) }
	}
}

// reconfiguredMode is the classification mode in force after a
// Reconfigure asking for mode, on a breaker made in mode made: a
// classifier (an option) outlives every Reconfigure, and none can be
// added by one.
func reconfiguredMode(made, mode int) int {
	switch {
	case made == classifyClassifier:
		return classifyClassifier
	case mode == classifyClassifier:
		return classifyDefault
	}
	return mode
}

// inGenerationOrder returns ev in Generation order, the order listeners
// may rely on. A shadow switch carries the generation in force, so it
// goes after the event that began that generation.
func inGenerationOrder(ev []cb.Transition) []cb.Transition {
	ev = slices.Clone(ev)
	slices.SortStableFunc(ev, func(a, b cb.Transition) int {
		return cmp.Or(cmp.Compare(a.Generation, b.Generation), cmp.Compare(shadowSwitch(a), shadowSwitch(b)))
	})
	return ev
}

func shadowSwitch(tr cb.Transition) int {
	if tr.Reason.ChangesState() {
		return 0
	}
	return 1
}

// reconfigure gives the breaker the policy of c; with c nil, its own
// Config with Shadow switched, which also checks that Config gives back
// what the breaker runs with.
func (s *breakerSubject) reconfigure(c *fuzzConfig) {
	var cfg cb.Config
	if c == nil {
		cfg = s.b.Config()
		cfg.Shadow = !cfg.Shadow
	} else {
		cfg = c.cfg
		if !c.lazy {
			cfg.Clock = s.clk
		}
		cfg.OnStateChange = fuzzListener(c, &s.ev)
		setClassifiers(&cfg, reconfiguredMode(s.mode, c.classify))
	}
	require.NoError(s.t, s.b.Reconfigure(cfg))
}

func (s *modelSubject) reconfigure(c *fuzzConfig) {
	cfg := s.cfg
	if c == nil {
		cfg.Shadow = !cfg.Shadow
	} else {
		cfg = c.cfg
		cfg.OnStateChange = fuzzListener(c, &s.ev)
		// Before the model changes: calls ending inside Reconfigure (in
		// a close's gap) are judged by the new policy.
		s.mode = reconfiguredMode(s.made, c.classify)
		setClassifiers(&cfg, s.mode)
	}
	s.cfg = cfg // before: a close's gap inside Reconfigure may reconfigure again
	require.NoError(s.t, s.m.Reconfigure(cfg))
}

// Seed building for the ops above.

func (s seed) reconfigure(c seedConfig) seed { return append(append(s, opReconfigure), c.bytes()...) }
func (s seed) shadow() seed                  { return append(s, opShadow) }

// rule is the flags of trip rule n.
func rule(n byte) byte { return n << flagRuleShift }

// Table indexes the seeds below use, beyond fuzz_test.go's.
const (
	winCalls5 byte = 10
	succ3     byte = 3
)

// reconfigureSeeds cover each rule of Reconfigure, shadow mode and trip
// rules at least once.
func reconfigureSeeds() [][]byte {
	shadowed := seedConfig{consecutive: consec1, open: open1ms, success: succ2, halfOpen: half10s, flags: flagShadow}
	minFive := seedConfig{window: winCalls10, minCalls: min5, consecutive: consecOff, failRate: rateHalf}
	minTwo := minFive
	minTwo.minCalls = min2
	timed := seedConfig{window: win1s10, minCalls: min3, consecutive: consecOff, failRate: rateThreeQuarters}
	counted := timed
	counted.window = winCalls3
	backoff := seedConfig{consecutive: consec1, open: open1ms, maxOpen: capTen, success: succ1, halfOpen: half10s}
	longer := backoff
	longer.open = open1s
	three := seedConfig{consecutive: consec1, open: open1ms, success: succ3, halfOpen: half10s}
	one := three
	one.success = succ1
	two := three
	two.success = succ2
	streak3 := seedConfig{consecutive: 4, open: open1ms, success: succ1}
	streak1 := streak3
	streak1.consecutive = consec1
	streak1.window = winCalls5
	muted := seedConfig{consecutive: consec1, open: open1ms, success: succ1, flags: flagMute}
	heard := muted
	heard.flags = flagShadow | flagLazy // a nil Clock: the breaker keeps its own
	return [][]byte{
		// Shadow: a trip as usual; timed-open calls run, counted as
		// rejected, through Execute, Call and Allow (whose Done counts
		// nothing); probes as usual; a dry probe pool runs the rest;
		// switched off, the breaker rejects, and on again.
		newSeed(shadowed).exec(kFail, dZero).exec(kOK, dZero).call(kFail, dZero).allow().done(0, kFail).metrics().
			advance(dOpen).exec(kOK, dZero).allow().allow().exec(kFail, dZero).metrics().
			shadow().exec(kOK, dZero).done(0, kOK).done(0, kOK).metrics().shadow().metrics(),
		// Shadow from a forced-open breaker, and across a half-open
		// timeout.
		newSeed(shadowed).force(fOpen).exec(kOK, dZero).execCtx(kFail, dSlow).refused().metrics().force(fHalfOpen).
			allow().allow().allow().advance(dHalfOpens).exec(kOK, dZero).done(0, kOK).metrics(),
		// Same shape: the window stays, and the new MinimumCalls decides
		// the next failure.
		newSeed(minFive).exec(kOK, dZero).exec(kFail, dZero).metrics().reconfigure(minTwo).metrics().
			exec(kFail, dZero).metrics(),
		// A time window for a count window and back: each starts empty.
		newSeed(timed).times(2, fail).metrics().reconfigure(counted).metrics().exec(kFail, dZero).metrics().
			times(2, fail).metrics().reconfigure(timed).metrics(),
		// Open: the deadline stays; the next trip (a failed probe, with
		// the backoff step) takes the new OpenTimeout.
		newSeed(backoff).exec(kFail, dZero).metrics().reconfigure(longer).metrics().advance(dRawMs, 0, 1).
			state().exec(kFail, dZero).metrics().advance(dOpen).exec(kOK, dZero).metrics(),
		// Half-open: successes that meet a lowered SuccessThreshold close
		// at once, probes still out come back stale; a pool kept past a
		// lowered HalfOpenMaxCalls admits no more.
		newSeed(three).exec(kFail, dZero).advance(dOpen).exec(kOK, dZero).exec(kOK, dZero).metrics().
			reconfigure(one).metrics(),
		newSeed(three).exec(kFail, dZero).advance(dOpen).allow().allow().allow().done(0, kOK).done(0, kOK).
			reconfigure(two).metrics().done(0, kOK).metrics(),
		newSeed(three).exec(kFail, dZero).advance(dOpen).allow().allow().allow().done(0, kOK).
			reconfigure(two).allow().done(0, kOK).metrics(),
		// A call in flight across a Reconfigure is judged by the new
		// policy; so is one in a close's gap.
		newSeed(streak3).exec(kFail, dZero).
			execNested(kFail, dZero, seed{}.reconfigure(streak1)).metrics().
			advance(dOpen).gap(seed{}.reconfigure(streak3)).exec(kOK, dZero).metrics().
			gap(seed{}.shadow()).force(fClosed).metrics(),
		// Trip rules: two slow failures, with the built-in rules off; a
		// third of at least four calls; a rule that panics until a
		// streak of two; and a built-in rule trips first.
		newSeed(seedConfig{consecutive: consecOff, failRate: rateOff, slowDur: slow1ms, slowRate: slowRateOff, flags: rule(1)}).
			exec(kFail, dSlow).exec(kOK, dSlow).metrics().exec(kFail, dSlow).metrics(),
		newSeed(seedConfig{consecutive: consecOff, failRate: rateOff, flags: rule(2)}).
			exec(kOK, dZero).exec(kFail, dZero).times(2, ok).metrics().exec(kFail, dZero).metrics(),
		newSeed(seedConfig{consecutive: consecOff, failRate: rateOff, flags: rule(3)}).
			exec(kFail, dZero).exec(kOK, dZero).exec(kFail, dZero).metrics().exec(kFail, dZero).metrics(),
		newSeed(seedConfig{window: winCalls3, consecutive: consecOff, failRate: rateHalf, flags: rule(2)}).
			times(3, fail).metrics(),
		// The listener: none, then one that hears the shadow switch, with
		// a nil Clock in the Config.
		newSeed(muted).exec(kFail, dZero).reconfigure(heard).advance(dOpen).exec(kOK, dZero).shadow().metrics(),
	}
}
