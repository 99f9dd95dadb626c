package benchmarks

import (
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/cenk/backoff"
	eapache "github.com/eapache/go-resiliency/breaker"
	fbclock "github.com/facebookgo/clock"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	rubyist "github.com/rubyist/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/tripswitch/tripswitch/cb"
)

// Call makes one call of a protected function through a breaker and
// reports whether the breaker admitted it (a failing call that ran was
// admitted).
type Call func() bool

// Breaker is one library's breaker, built for one scenario, in the shape
// the scenarios drive.
type Breaker struct {
	// Caller returns a Call of the protected function fn through the
	// breaker. Every goroutine gets its own.
	Caller func(fn Protected) Call
	// Closed reports whether the breaker is closed. It is used to prepare
	// and check a scenario, never in a measured operation.
	Closed func() bool
	// Advance, when not nil, makes the open time pass in ProbeCycle (it
	// moves the clock injected into the breaker).
	Advance func()
	// Stop, when not nil, releases what the breaker holds (a clock's
	// goroutine).
	Stop func()
}

// Kind sorts the libraries of the comparison.
type Kind int

// The kinds of library.
const (
	// Floor: no breaker, a bound on what any breaker can cost.
	Floor Kind = iota
	// Tripswitch: this repository's breaker, in one of its configs.
	Tripswitch
	// Peer: another Go circuit breaker.
	Peer
)

// Lib is one library, or floor, of the comparison.
type Lib struct {
	// Name is the library's key in benchmark names (lib=Name).
	Name string
	Kind Kind
	// Module is the Go module the library comes from (empty for floors).
	Module string
	// Unsupported gives, for each scenario the library cannot run, the
	// reason.
	Unsupported map[Scenario]string
	build       func(s Scenario) (*Breaker, error)
}

// ErrUnsupported is Build's error for a scenario the library cannot run.
var ErrUnsupported = errors.New("benchmarks: scenario not supported by this library")

// Supports reports whether the library runs scenario s.
func (l *Lib) Supports(s Scenario) bool {
	_, no := l.Unsupported[s]
	return !no
}

// Build returns a new breaker of the library configured for scenario s
// (not yet prepared: see Breaker.Prepare).
func (l *Lib) Build(s Scenario) (*Breaker, error) {
	if !l.Supports(s) {
		return nil, ErrUnsupported
	}
	return l.build(s)
}

// Libs lists the libraries of the comparison: the floors, tripswitch's
// configs, then the peers.
//
// Five peers are compared. Two more belong in the comparison but are
// missing: cep21/circuit v4 and mercari/go-circuitbreaker could not be
// fetched through the Go module proxy from the machine this comparison
// was built on (it answered 403, "not available"), so they have no
// adapter.
var Libs = []*Lib{
	{
		Name: "floor-call", Kind: Floor,
		Unsupported: map[Scenario]string{
			OpenReject: "a floor never rejects",
			ProbeCycle: "a floor never rejects",
		},
		build: buildFloorCall,
	},
	{
		Name: "floor-atomic", Kind: Floor,
		Unsupported: map[Scenario]string{
			HalfFailing: "one atomic add, whatever the outcome: ClosedSuccess has it",
			OpenReject:  "a floor never rejects",
			ProbeCycle:  "a floor never rejects",
		},
		build: buildFloorAtomic,
	},
	{
		Name: "tripswitch", Kind: Tripswitch, Module: tripswitchModule,
		build: tripswitchConfig{}.build,
	},
	{
		Name: "tripswitch-call", Kind: Tripswitch, Module: tripswitchModule,
		build: tripswitchConfig{viaCall: true}.build,
	},
	{
		Name: "tripswitch-hot", Kind: Tripswitch, Module: tripswitchModule,
		build: tripswitchConfig{hot: true}.build,
	},
	{
		Name: "tripswitch-hot-call", Kind: Tripswitch, Module: tripswitchModule,
		build: tripswitchConfig{hot: true, viaCall: true}.build,
	},
	{
		Name: "tripswitch-hot-count", Kind: Tripswitch, Module: tripswitchModule,
		build: tripswitchConfig{hot: true, countWindow: true}.build,
	},
	{
		Name: "gobreaker", Kind: Peer, Module: "github.com/sony/gobreaker/v2",
		build: buildGobreaker,
	},
	{
		Name: "failsafe", Kind: Peer, Module: "github.com/failsafe-go/failsafe-go",
		build: buildFailsafe,
	},
	{
		Name: "failsafe-permit", Kind: Peer, Module: "github.com/failsafe-go/failsafe-go",
		build: buildFailsafePermit,
	},
	{
		Name: "hystrix", Kind: Peer, Module: "github.com/afex/hystrix-go",
		Unsupported: map[Scenario]string{
			ProbeCycle: "takes no clock and its sleep window is whole milliseconds (at least 1 ms), " +
				"so a cycle would measure a 1 ms wait",
		},
		build: buildHystrix,
	},
	{
		Name: "eapache", Kind: Peer, Module: "github.com/eapache/go-resiliency",
		build: buildEapache,
	},
	{
		Name: "rubyist", Kind: Peer, Module: "github.com/rubyist/circuitbreaker",
		build: buildRubyist,
	},
}

// LibByName returns the library named name, or nil.
func LibByName(name string) *Lib {
	for _, l := range Libs {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// is reports err == target. The libraries return their rejection errors
// unwrapped, and errors.Is would add its own cost to every failing call
// measured.
func is(err, target error) bool {
	return err == target //nolint:errorlint // sentinels are returned unwrapped; see the comment above
}

// manualClock is a clock that moves only when told to: ProbeCycle injects
// it where a library takes a clock, so the open time passes without a wait.
type manualClock struct{ now atomic.Int64 }

// advance moves the clock one OpenTime and a second.
func (c *manualClock) advance() { c.now.Add(int64(OpenTime + time.Second)) }

// ---------------------------------------------------------------------------
// Floors

// floor-call: the protected function called directly; every call admitted.
func buildFloorCall(Scenario) (*Breaker, error) {
	return &Breaker{
		Caller: func(fn Protected) Call {
			return func() bool {
				_, _ = fn.Value()
				return true
			}
		},
		Closed: func() bool { return true },
	}, nil
}

// floor-atomic: one atomic add on a counter that every goroutine shares,
// and nothing else (the protected function is not called): the cost of the
// simplest shared write a breaker could make per call.
func buildFloorAtomic(Scenario) (*Breaker, error) {
	n := new(atomic.Uint64)
	return &Breaker{
		Caller: func(Protected) Call {
			return func() bool {
				n.Add(1)
				return true
			}
		},
		Closed: func() bool { return true },
	}, nil
}

// ---------------------------------------------------------------------------
// tripswitch

// tripswitchModule is the module of every tripswitch config in Libs.
const tripswitchModule = "github.com/tripswitch/tripswitch"

// tripswitchConfig is one of tripswitch's entries in Libs. tripswitch runs
// in three configs, through Execute (which returns fn's value and a
// CallResult) and, for two of them, through Call (the "-call" names: fn's
// own (T, error), which Go returns in registers):
//
//   - tripswitch: the zero cb.Config, i.e. every default: a 10 s window of
//     10 buckets, FailureRateThreshold 0.5, OpenTimeout 60 s,
//     SuccessThreshold 3 (3 probes), the real monotonic clock read twice
//     per call, slow calls tracked (5 s). Not matched: MinimumCalls is 10
//     (the policy says 100), and a 5-consecutive-failures rule is on too;
//     neither changes the paths these scenarios measure (the rules are
//     evaluated only when a failure is counted, and alternating outcomes
//     never make a streak of 5).
//   - tripswitch-hot: the same with the opt-in hot-path settings: a
//     CoarseClock at 1 ms (one atomic load per reading) and
//     SlowCallDuration Off.
//   - tripswitch-hot-count: tripswitch-hot with a count window of the last
//     100 calls (WindowCalls) instead of the 10 s time window.
//
// Per scenario: HalfFailing sets FailureRateThreshold to
// HalfFailingTripRate. ProbeCycle: the default config gets OpenTimeout
// 1 ns (the real clock passes it); the hot configs keep 60 s and read a
// manual clock that each cycle moves past it (a CoarseClock would make
// each cycle wait for its next 1 ms tick; both are one atomic load per
// reading).
type tripswitchConfig struct {
	// hot: the hot-path settings (tripswitch-hot).
	hot bool
	// countWindow, with hot: the count window (tripswitch-hot-count).
	countWindow bool
	// viaCall: driven through Call, not Execute (the "-call" names).
	viaCall bool
}

// build makes the breaker of config c for scenario s.
func (c tripswitchConfig) build(s Scenario) (*Breaker, error) {
	var cfg cb.Config
	br := &Breaker{}
	if c.hot {
		cfg.SlowCallDuration = cb.Off
		if c.countWindow {
			cfg.WindowCalls = MinimumCalls
		}
		if s == ProbeCycle {
			clk := new(manualClock)
			cfg.Clock = tsClock{clk}
			br.Advance = clk.advance
		} else {
			clk, err := cb.NewCoarseClock(time.Millisecond)
			if err != nil {
				return nil, err
			}
			cfg.Clock = clk
			br.Stop = clk.Stop
		}
	}
	switch s {
	case HalfFailing:
		cfg.FailureRateThreshold = HalfFailingTripRate
	case ProbeCycle:
		if !c.hot {
			cfg.OpenTimeout = time.Nanosecond
		}
	}
	b, err := cb.New[int]("bench", cfg)
	if err != nil {
		if br.Stop != nil {
			br.Stop()
		}
		return nil, err
	}
	br.Caller = func(fn Protected) Call {
		if c.viaCall {
			// A rejection is the breaker's *cb.OpenError, unwrapped: a type
			// assertion tells it, as == tells the peers' sentinels.
			return func() bool {
				_, err := b.Call(fn.Value)
				_, open := err.(*cb.OpenError) //nolint:errorlint // returned unwrapped, like the peers' sentinels
				return !open
			}
		}
		return func() bool {
			_, r := b.Execute(fn.Value)
			return r.Outcome != cb.Rejected
		}
	}
	br.Closed = func() bool { return b.State() == cb.Closed }
	return br, nil
}

// tsClock is a manualClock as a cb.Clock.
type tsClock struct{ c *manualClock }

// Now returns the manual clock's reading.
func (t tsClock) Now() time.Duration { return time.Duration(t.c.now.Load()) }

// ---------------------------------------------------------------------------
// Peers

// sony/gobreaker v2: CircuitBreaker[int].Execute.
//
// Config: Interval 10 s with BucketPeriod 1 s (a rolling window of 10
// buckets); ReadyToTrip: at least 100 requests in the window and a failure
// share of at least 50% (HalfFailing: 60%); Timeout 60 s; MaxRequests 3
// (3 probes, 3 successes close). Not matched: Counts.Requests counts calls
// when they start, so the 100 includes calls still running. ProbeCycle:
// Timeout 1 ns (it takes no clock, and 0 means its 60 s default).
func buildGobreaker(s Scenario) (*Breaker, error) {
	b := gobreaker.NewCircuitBreaker[int](gobreakerSettings("bench", s))
	return &Breaker{
		Caller: func(fn Protected) Call {
			return func() bool {
				_, err := b.Execute(fn.Value)
				return !is(err, gobreaker.ErrOpenState) && !is(err, gobreaker.ErrTooManyRequests)
			}
		},
		Closed: func() bool { return b.State() == gobreaker.StateClosed },
	}, nil
}

// gobreakerSettings is gobreaker's config for scenario s (see
// buildGobreaker), which its DistributedCircuitBreaker shares.
func gobreakerSettings(name string, s Scenario) gobreaker.Settings {
	rate := tripRate(s)
	st := gobreaker.Settings{
		Name:         name,
		MaxRequests:  Probes,
		Interval:     Window,
		BucketPeriod: Window / WindowBuckets,
		Timeout:      OpenTime,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.Requests >= MinimumCalls && float64(c.TotalFailures) >= rate*float64(c.Requests)
		},
	}
	if s == ProbeCycle {
		st.Timeout = time.Nanosecond
	}
	return st
}

// failsafe-go: the circuit breaker policy, driven through its executor
// (failsafe.With(breaker).Get, "failsafe") and through the breaker's own
// TryAcquirePermit and RecordError ("failsafe-permit").
//
// Config: WithFailureRateThreshold(0.5 (HalfFailing: 0.6), 100, 10 s) — a
// time-based window that failsafe always cuts into 10 buckets;
// WithDelay(60 s); WithSuccessThreshold(3) (3 probes, 3 successes close,
// any failure reopens). Nothing left unmatched. ProbeCycle: WithDelay
// 1 ns (it takes no clock).
func newFailsafe(s Scenario) circuitbreaker.CircuitBreaker[int] {
	delay := OpenTime
	if s == ProbeCycle {
		delay = time.Nanosecond
	}
	return circuitbreaker.NewBuilder[int]().
		WithFailureRateThreshold(tripRate(s), MinimumCalls, Window).
		WithDelay(delay).
		WithSuccessThreshold(Probes).
		Build()
}

// buildFailsafe drives the failsafe breaker through its executor.
func buildFailsafe(s Scenario) (*Breaker, error) {
	b := newFailsafe(s)
	ex := failsafe.With[int](b)
	return &Breaker{
		Caller: func(fn Protected) Call {
			return func() bool {
				_, err := ex.Get(fn.Value)
				return !is(err, circuitbreaker.ErrOpen)
			}
		},
		Closed: b.IsClosed,
	}, nil
}

// buildFailsafePermit drives the failsafe breaker through its permits,
// with no executor around the call.
func buildFailsafePermit(s Scenario) (*Breaker, error) {
	b := newFailsafe(s)
	return &Breaker{
		Caller: func(fn Protected) Call {
			return func() bool {
				if !b.TryAcquirePermit() {
					return false
				}
				_, err := fn.Value()
				b.RecordError(err)
				return true
			}
		},
		Closed: b.IsClosed,
	}, nil
}

// hystrixSeq numbers hystrix commands: hystrix keeps its circuits in a
// global registry by name, so every breaker built needs a new name.
var hystrixSeq atomic.Uint64

// afex/hystrix-go: hystrix.Do (it runs the function in a goroutine of its
// own, under a per-call timeout timer, and counts outcomes asynchronously,
// through a channel to a metrics goroutine).
//
// Config: RequestVolumeThreshold 100, ErrorPercentThreshold 50
// (HalfFailing: 60), SleepWindow 60000 ms, Timeout 60000 ms and
// MaxConcurrentRequests 65536 (so that neither its call timeout nor its
// concurrency limit, which the policy does not have, ever rejects a call
// here: Do returns before its goroutine hands back the call's ticket, and
// the hand-back waits on an unbuffered channel to one metrics goroutine, so
// under a tight loop thousands of tickets can be out at once; 4096 was
// exhausted in a trial run). Not matched: the window is always 10 s of 1 s buckets (fine, that
// is the policy), the trip is decided on the next call after the metrics
// goroutine has counted the failures, not on the failure itself, and a
// half-open breaker lets one probe through and closes on its first
// success. Not run: ProbeCycle (see Libs).
func buildHystrix(s Scenario) (*Breaker, error) {
	name := "bench-" + strconv.FormatUint(hystrixSeq.Add(1), 10)
	percent := int(math.Round(tripRate(s) * 100))
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		Timeout:                int(OpenTime / time.Millisecond),
		MaxConcurrentRequests:  1 << 16,
		RequestVolumeThreshold: MinimumCalls,
		SleepWindow:            int(OpenTime / time.Millisecond),
		ErrorPercentThreshold:  percent,
	})
	circuit, _, err := hystrix.GetCircuit(name)
	if err != nil {
		return nil, err
	}
	return &Breaker{
		Caller: func(fn Protected) Call {
			return func() bool {
				err := hystrix.Do(name, fn.Err, nil)
				return !is(err, hystrix.ErrCircuitOpen) && !is(err, hystrix.ErrMaxConcurrency)
			}
		},
		Closed: func() bool { return !circuit.IsOpen() },
	}, nil
}

// eapache/go-resiliency breaker: Breaker.Run.
//
// Config: New(50, 3, 60 s): it keeps no window and no rate, only a count of
// errors that resets after an error-free period as long as the open time;
// 50 errors stand for "50% of 100 calls". 3 successes close it, but its
// half-open state admits every call, not 3 probes. HalfFailing: the error
// threshold is math.MaxInt, i.e. it never trips — a count of errors cannot
// tell 50% from 60%, and any finite count is reached by a steady 50%.
// ProbeCycle: timeout 1 ns and an error threshold of 1 (the timeout is
// also its error-free period, so with 1 ns no count of errors above 1 is
// ever reached); its half-open transition is made by a goroutine that
// sleeps the timeout, so each cycle waits for that goroutine to run (the
// measured cycle includes the wait).
func buildEapache(s Scenario) (*Breaker, error) {
	errs, timeout := MinimumCalls/2, OpenTime
	switch s {
	case HalfFailing:
		errs = math.MaxInt
	case ProbeCycle:
		errs, timeout = 1, time.Nanosecond
	}
	b := eapache.New(errs, Probes, timeout)
	return &Breaker{
		Caller: func(fn Protected) Call {
			return func() bool { return !is(b.Run(fn.Err), eapache.ErrBreakerOpen) }
		},
		Closed: func() bool { return b.GetState() == eapache.Closed },
	}, nil
}

// rubyist/circuitbreaker: Breaker.Call with no call timeout (0, so the
// function runs on the caller's goroutine).
//
// Config: NewBreakerWithOptions with WindowTime 10 s, WindowBuckets 10,
// ShouldTrip RateTripFunc(0.5 (HalfFailing: 0.6), 100), BackOff a constant
// 60 s (the default is exponential). Not matched: a half-open breaker lets
// one probe through and closes on its first success. ProbeCycle: a manual
// clock (Options.Clock) that each cycle moves past the open time.
func buildRubyist(s Scenario) (*Breaker, error) {
	opts := &rubyist.Options{
		BackOff:       backoff.NewConstantBackOff(OpenTime),
		ShouldTrip:    rubyist.RateTripFunc(tripRate(s), MinimumCalls),
		WindowTime:    Window,
		WindowBuckets: WindowBuckets,
	}
	br := &Breaker{}
	if s == ProbeCycle {
		clk := &rubyistClock{Clock: fbclock.New(), base: time.Now(), c: new(manualClock)}
		opts.Clock = clk
		br.Advance = clk.c.advance
	}
	b := rubyist.NewBreakerWithOptions(opts)
	br.Caller = func(fn Protected) Call {
		return func() bool { return !is(b.Call(fn.Err, 0), rubyist.ErrBreakerOpen) }
	}
	br.Closed = func() bool { return !b.Tripped() }
	return br, nil
}

// rubyistClock is the real clock of facebookgo/clock except for Now, which
// reads a manualClock.
type rubyistClock struct {
	fbclock.Clock
	base time.Time
	c    *manualClock
}

// Now returns the manual clock's reading, as a time after base.
func (r *rubyistClock) Now() time.Time { return r.base.Add(time.Duration(r.c.now.Load())) }

// tripRate is the failure rate that trips the breakers in scenario s.
func tripRate(s Scenario) float64 {
	if s == HalfFailing {
		return HalfFailingTripRate
	}
	return TripRate
}
