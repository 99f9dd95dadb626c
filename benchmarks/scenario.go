package benchmarks

import (
	"errors"
	"runtime"
	"time"
)

// The common policy every library is configured as close to as it allows.
const (
	// Window is the span of the rolling window of outcomes.
	Window = 10 * time.Second
	// WindowBuckets is the number of buckets the window is cut into.
	WindowBuckets = 10
	// MinimumCalls is how many calls the window must hold before the
	// failure rate can trip the breaker.
	MinimumCalls = 100
	// TripRate is the failure rate that trips the breaker.
	TripRate = 0.5
	// HalfFailingTripRate replaces TripRate in the HalfFailing scenario,
	// so that half the calls failing does not trip the breaker. (A
	// threshold of exactly 0.5 would trip on the 50% it measures; 0.6
	// leaves room for the few calls of each goroutine that a sliding
	// window may cut in two.)
	HalfFailingTripRate = 0.6
	// OpenTime is how long a tripped breaker stays open.
	OpenTime = 60 * time.Second
	// Probes is how many probe calls a half-open breaker lets through,
	// and how many successes close it.
	Probes = 3
)

// Scenario is one workload of the comparison.
type Scenario int

// The scenarios.
const (
	// ClosedSuccess: every call succeeds and the breaker stays closed.
	ClosedSuccess Scenario = iota
	// HalfFailing: every goroutine alternates success and failure
	// (success first), so half the calls fail, and the breaker, whose trip
	// rate is HalfFailingTripRate for this scenario, must stay closed.
	HalfFailing
	// OpenReject: the breaker has been tripped and is open for OpenTime;
	// every call must be rejected.
	OpenReject
	// ProbeCycle: one half-open episode per operation. The breaker has
	// been tripped; each operation lets its open time pass (the injected
	// clock moves past OpenTime, or a library that takes no clock is given
	// the shortest open time it accepts and the real clock passes it),
	// then calls until a probe is admitted. The probe fails, which opens
	// the breaker again. Single goroutine only: with several, the open
	// time would pass for all of them at once and the workload would be
	// rejections, which OpenReject measures.
	ProbeCycle
)

// Scenarios lists every Scenario in the order they are reported.
var Scenarios = []Scenario{ClosedSuccess, HalfFailing, OpenReject, ProbeCycle}

var scenarioNames = [...]string{"ClosedSuccess", "HalfFailing", "OpenReject", "ProbeCycle"}

// String returns the scenario's name, as in its Benchmark function.
func (s Scenario) String() string {
	if s < 0 || int(s) >= len(scenarioNames) {
		return "Scenario(?)"
	}
	return scenarioNames[s]
}

// Modes returns the ways scenario s is run.
func (s Scenario) Modes() []Mode {
	if s == ProbeCycle {
		return []Mode{Serial}
	}
	return []Mode{Serial, Par1, Par8}
}

// Violation describes what a failed operation of the scenario saw.
func (s Scenario) Violation() string {
	switch s {
	case OpenReject:
		return "the breaker admitted a call while it should be open"
	case ProbeCycle:
		return "no probe was admitted after the open time had passed"
	default:
		return "the breaker rejected a call while it should be closed"
	}
}

// Mode is how a scenario's operations are driven.
type Mode int

// The modes.
const (
	// Serial: one goroutine, b.Loop.
	Serial Mode = iota
	// Par1: b.RunParallel at parallelism 1 (GOMAXPROCS goroutines).
	Par1
	// Par8: b.RunParallel at parallelism 8 (8*GOMAXPROCS goroutines).
	Par8
)

var modeNames = [...]string{"serial", "par1", "par8"}

// String returns the mode's name in benchmark names.
func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return "mode(?)"
	}
	return modeNames[m]
}

// Parallelism returns the b.SetParallelism argument of a parallel mode,
// 0 for Serial.
func (m Mode) Parallelism() int {
	switch m {
	case Par1:
		return 1
	case Par8:
		return 8
	default:
		return 0
	}
}

// errFail is the error of a failing protected call.
var errFail = errors.New("benchmarks: dependency failed")

// Protected is the protected function of a call, in the two shapes the
// libraries take: returning a value and an error, or only an error. Both
// make the same calls (with the same state), so a library that takes the
// second needs no wrapper around the first.
type Protected struct {
	Value func() (int, error)
	Err   func() error
}

// The protected functions of a successful and of a failing call.
var (
	succeed = Protected{
		Value: func() (int, error) { return 1, nil },
		Err:   func() error { return nil },
	}
	fail = Protected{
		Value: func() (int, error) { return 0, errFail },
		Err:   func() error { return errFail },
	}
)

// alternate returns a Protected whose calls succeed and fail in turn,
// success first, whichever shape is called.
func alternate() Protected {
	var i uint
	return Protected{
		Value: func() (int, error) {
			i++
			if i&1 == 0 {
				return 0, errFail
			}
			return 1, nil
		},
		Err: func() error {
			i++
			if i&1 == 0 {
				return errFail
			}
			return nil
		},
	}
}

// maxProbeWait bounds the calls a ProbeCycle operation makes before a probe
// is admitted; past it the operation fails.
const maxProbeWait = 1 << 20

// Op returns one goroutine's operation for scenario s on br: a function
// that makes the scenario's call (or, for ProbeCycle, its cycle) and
// reports whether the breaker behaved as the scenario requires. Each
// goroutine needs its own: HalfFailing's alternation is per goroutine.
//
// For ClosedSuccess and HalfFailing the returned function is the
// library's Call itself, with no wrapper around it.
func (br *Breaker) Op(s Scenario) func() bool {
	switch s {
	case ClosedSuccess:
		return br.Caller(succeed)
	case HalfFailing:
		return br.Caller(alternate())
	case OpenReject:
		c := br.Caller(succeed)
		return func() bool { return !c() }
	default:
		c := br.Caller(fail)
		return func() bool {
			if br.Advance != nil {
				br.Advance()
			}
			for n := 0; !c(); n++ {
				if n == maxProbeWait {
					return false
				}
				runtime.Gosched()
			}
			return true
		}
	}
}

// tripTimeout bounds Prepare's wait for a breaker to trip (hystrix-go
// counts outcomes asynchronously, so its trip comes some time after the
// failures that cause it).
const tripTimeout = 10 * time.Second

// errNoTrip is Prepare's error when failures did not trip the breaker.
var errNoTrip = errors.New("benchmarks: the breaker did not trip")

// Prepare puts br in the state scenario s starts from: tripped, by failing
// calls, for OpenReject and ProbeCycle; as built for the others.
func (br *Breaker) Prepare(s Scenario) error {
	if s != OpenReject && s != ProbeCycle {
		return nil
	}
	c := br.Caller(fail)
	start := time.Now()
	for i := 0; br.Closed(); i++ {
		c()
		if i >= 10*MinimumCalls {
			if time.Since(start) > tripTimeout {
				return errNoTrip
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return nil
}

// Check reports whether br ends scenario s in the state it requires:
// closed after ClosedSuccess and HalfFailing, not closed after OpenReject
// and ProbeCycle (whose probes all fail).
func (br *Breaker) Check(s Scenario) bool {
	closed := br.Closed()
	if s == OpenReject || s == ProbeCycle {
		return !closed
	}
	return closed
}
