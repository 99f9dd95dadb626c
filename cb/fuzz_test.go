package cb_test

// FuzzBreaker drives a cb.Breaker and the reference model (package
// cb/internal/model) with the same operations on two fake clocks moved in
// step, and requires them to agree on everything observable: every
// CallResult and Allow answer, State and the whole Metrics after each step
// (or, in lazy mode, only where the input asks, so that time-driven
// transitions are also made by Done and Allow rather than always by the
// harness' own reads), each OnStateChange event, and the clocks; and,
// through the fleet seam (fuzz_fleet_test.go), every answer of a
// FleetLink and its Status and Totals after each step.
//
// Input layout (a short input reads as zeros once exhausted):
//
//	12 config bytes   eleven indexes into the tables below, then flags
//	ops               one kind byte each, then the kind's argument bytes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/cb/internal/model"
)

var (
	errFuzzBoom     = errors.New("fuzz: boom")
	errFuzzBenign   = errors.New("fuzz: benign") // a success under the custom IsFailure
	errFuzzSkip     = errors.New("fuzz: skip")   // ignored under the custom IsIgnored
	errFuzzCanceled = fmt.Errorf("fuzz: wrapped: %w", context.Canceled)

	// fuzzDoneCtx is a context already cancelled, for refused calls.
	fuzzDoneCtx = func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
)

// fuzzPanic is the value fn panics with; the harness recovers exactly it.
type fuzzPanic struct{}

// Classification modes: how the breaker is told to classify results.
const (
	classifyDefault    = iota // IsIgnored and IsFailure left nil
	classifyClassifier        // WithClassifier: Outcome(v), the value alone
	classifyCustom            // IsIgnored: errFuzzSkip; IsFailure: not errFuzzBenign
	classifyIsFailure         // IsFailure as classifyCustom, IsIgnored left to its default
	numClassify
)

// fuzzKind is one kind of call result and the outcome the rules give it
// under each classification mode: this table is the harness' statement of
// the classification rules, which the model does not know.
type fuzzKind struct {
	v      int
	err    error
	panics bool
	want   [numClassify]cb.Outcome
}

// fuzzKinds: the plain success, failure and cancellation come first (the
// fuzzer favours small bytes); the panic is last, so Done can skip it.
var fuzzKinds = [...]fuzzKind{
	{v: 0, err: nil, want: [...]cb.Outcome{cb.Success, cb.Success, cb.Success, cb.Success}},
	{v: 1, err: errFuzzBoom, want: [...]cb.Outcome{cb.Failure, cb.Failure, cb.Failure, cb.Failure}},
	{v: 2, err: context.Canceled, want: [...]cb.Outcome{cb.Ignored, cb.Ignored, cb.Failure, cb.Ignored}},
	{v: 0, err: errFuzzCanceled, want: [...]cb.Outcome{cb.Ignored, cb.Success, cb.Failure, cb.Ignored}},
	// A classifier's Rejected counts as a failure.
	{v: 3, err: context.DeadlineExceeded, want: [...]cb.Outcome{cb.Failure, cb.Failure, cb.Failure, cb.Failure}},
	// An unknown Outcome from a classifier counts as a failure.
	{v: 9, err: errFuzzBenign, want: [...]cb.Outcome{cb.Failure, cb.Failure, cb.Success, cb.Success}},
	{v: 0, err: errFuzzSkip, want: [...]cb.Outcome{cb.Failure, cb.Success, cb.Ignored, cb.Failure}},
	{v: 1, err: nil, want: [...]cb.Outcome{cb.Success, cb.Failure, cb.Success, cb.Success}},
	{v: 2, err: nil, want: [...]cb.Outcome{cb.Success, cb.Ignored, cb.Success, cb.Success}},
	{v: 0, panics: true, want: [...]cb.Outcome{cb.Failure, cb.Failure, cb.Failure, cb.Failure}},
}

// Config tables, indexed by the first config bytes (modulo their length).
var (
	fuzzWindows = [...]struct {
		window  time.Duration
		buckets int
		calls   int
	}{
		{}, // the default: 10s in 10 buckets
		{window: time.Second, buckets: 10},
		{window: time.Second, buckets: 1},
		{window: 3 * time.Second, buckets: 3},
		{window: 10 * time.Millisecond, buckets: 10}, // the narrowest buckets
		{window: 7 * time.Millisecond, buckets: 2},   // a width of 3.5ms
		{window: 100 * time.Millisecond, buckets: 4},
		{calls: 1},
		{calls: 2},
		{calls: 3},
		{calls: 5},
		{calls: 10},
		{calls: 20},
	}
	fuzzMinCalls    = [...]int{0, 1, 2, 3, 5}
	fuzzFailRates   = [...]float64{0, cb.Off, 0.25, 1.0 / 3, 0.5, 0.75, 1}
	fuzzConsecutive = [...]int{0, cb.Off, 1, 2, 3}
	fuzzSlowDurs    = [...]time.Duration{0, cb.Off, 1, time.Millisecond, 100 * time.Millisecond, time.Second}
	fuzzSlowRates   = [...]float64{0, 0.2, 0.5, 1, cb.Off}
	fuzzOpens       = [...]time.Duration{0, time.Millisecond, 10 * time.Millisecond, time.Second, 5 * time.Second}
	fuzzSuccesses   = [...]int{0, 1, 2, 3}
	fuzzHalfOpens   = [...]time.Duration{0, time.Millisecond, 7 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second}
)

// Flags of the twelfth config byte.
const (
	flagClassifyMask = 3 // the classification mode
	flagLazy         = 4 // compare State and Metrics only at the ops that read them
	flagPanicky      = 8 // the listeners panic after recording each event
)

// fuzzConfig is a decoded configuration and the resolved figures the clock
// advances are made of.
type fuzzConfig struct {
	cfg      cb.Config
	classify int
	lazy     bool
	panicky  bool
	mute     bool // no OnStateChange

	width, window, slowDur, open, maxOpen, halfOpen time.Duration
}

func decodeFuzzConfig(r *fuzzReader) fuzzConfig {
	var c fuzzConfig
	w := fuzzWindows[pick(r, len(fuzzWindows))]
	c.cfg.Window, c.cfg.Buckets, c.cfg.WindowCalls = w.window, w.buckets, w.calls
	c.cfg.MinimumCalls = fuzzMinCalls[pick(r, len(fuzzMinCalls))]
	if w.calls > 0 && c.cfg.MinimumCalls > w.calls {
		c.cfg.MinimumCalls = w.calls // a count window must be able to reach MinimumCalls (zero: the default adapts)
	}
	c.cfg.FailureRateThreshold = fuzzFailRates[pick(r, len(fuzzFailRates))]
	c.cfg.ConsecutiveFailures = fuzzConsecutive[pick(r, len(fuzzConsecutive))]
	c.cfg.SlowCallDuration = fuzzSlowDurs[pick(r, len(fuzzSlowDurs))]
	c.cfg.SlowCallRateThreshold = fuzzSlowRates[pick(r, len(fuzzSlowRates))]
	c.cfg.OpenTimeout = fuzzOpens[pick(r, len(fuzzOpens))]
	c.open = orDefault(c.cfg.OpenTimeout, cb.DefaultOpenTimeout)
	// Caps at the open time itself, at a power-of-two multiple of it and
	// between two doublings.
	switch pick(r, 5) {
	case 1:
		c.cfg.MaxOpenTimeout = c.open
	case 2:
		c.cfg.MaxOpenTimeout = 2 * c.open
	case 3:
		c.cfg.MaxOpenTimeout = 3*c.open + c.open/3
	case 4:
		c.cfg.MaxOpenTimeout = 10 * c.open
	}
	c.cfg.SuccessThreshold = fuzzSuccesses[pick(r, len(fuzzSuccesses))]
	// HalfOpenMaxCalls: the default (SuccessThreshold), or that plus 0, 1
	// or 3 explicitly.
	if extra := pick(r, 4); extra > 0 {
		c.cfg.HalfOpenMaxCalls = orDefault(c.cfg.SuccessThreshold, cb.DefaultSuccessThreshold) + []int{0, 0, 1, 3}[extra]
	}
	c.cfg.HalfOpenTimeout = fuzzHalfOpens[pick(r, len(fuzzHalfOpens))]
	flags := r.byte()
	c.classify = int(flags & flagClassifyMask)
	c.lazy = flags&flagLazy != 0
	c.panicky = flags&flagPanicky != 0
	c.decodeReconfigFlags(flags)

	c.width, c.window = time.Millisecond, time.Second // a count window has no time scale: any will do
	if w.calls == 0 {
		c.window = orDefault(w.window, cb.DefaultWindow)
		c.width = c.window / time.Duration(orDefault(w.buckets, cb.DefaultBuckets))
	}
	c.slowDur = orDefault(c.cfg.SlowCallDuration, cb.DefaultSlowCallDuration)
	if c.cfg.SlowCallDuration == cb.Off {
		c.slowDur = time.Millisecond
	}
	c.maxOpen = c.cfg.MaxOpenTimeout
	if c.maxOpen == 0 {
		c.maxOpen = 2 * c.open
	}
	c.halfOpen = orDefault(c.cfg.HalfOpenTimeout, c.open)
	return c
}

func orDefault[N int | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

// duration decodes a clock move: within a bucket, to a bucket's edge,
// across the window, to either side of the open and half-open timeouts,
// several half-open timeouts at once, the backoff cap, a slow call, or a
// raw amount.
func (c *fuzzConfig) duration(r *fuzzReader) time.Duration {
	switch r.byte() % 16 {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return c.width / 2
	case 3:
		return c.width - 1
	case 4:
		return c.width
	case 5:
		return c.window
	case 6:
		return 2*c.window + c.width/3
	case 7:
		return c.open - 1
	case 8:
		return c.open
	case 9:
		return c.halfOpen - 1
	case 10:
		return c.halfOpen
	case 11:
		return 3*c.halfOpen + 1
	case 12:
		return c.maxOpen
	case 13:
		return c.slowDur + 1
	case 14:
		return time.Duration(r.byte()) * c.width / 16
	default:
		return (time.Duration(r.byte())<<8 | time.Duration(r.byte())) * time.Millisecond
	}
}

// fuzzReader hands out the input's bytes, then zeros.
type fuzzReader struct {
	data []byte
	pos  int
}

func (r *fuzzReader) byte() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	r.pos++
	return r.data[r.pos-1]
}

func (r *fuzzReader) done() bool { return r.pos >= len(r.data) }

func pick(r *fuzzReader, n int) int { return int(r.byte()) % n }

// The operations.
const (
	opExecute        = iota // Execute: kind, fn's duration, nest (1 mod 4: an op runs inside fn; 2 mod 4: through Call)
	opExecuteContext        // ExecuteContext with a live context: as opExecute
	opRefused               // ExecuteContext with a context already done
	opAllow                 // Allow, keeping the permit
	opDone                  // Done of a kept permit: index (bit 7: call it twice), kind
	opAdvance               // move the clocks: duration
	opForce                 // ForceOpen, ForceClosed, ForceHalfOpen or Reset: which
	opState                 // compare State
	opMetrics               // compare Metrics
	opGap                   // arm the next close's gap: the nested op runs inside it
	opReconfigure           // Reconfigure: twelve config bytes, as the input's first
	opShadow                // Reconfigure with the config in force, Shadow switched
	// The fleet seam (fuzz_fleet_test.go).
	opSetWindow   // FleetLink.SetWindow: four counts, replicas, quorum, generation
	opHold        // FleetLink.HoldProbes: on (bit 0)
	opGrant       // FleetLink.GrantProbes: generation
	opAdoptOpen   // FleetLink.AdoptOpen: a clock move, its sign, level
	opAdoptClosed // FleetLink.AdoptClosed
	opStatus      // compare FleetLink.Status, Totals and OpenFor: level
	numOps
)

var opNames = [...]string{
	"Execute", "ExecuteContext", "Refused", "Allow", "Done", "Advance", "Force", "State", "Metrics", "Gap", "Reconfigure", "Shadow",
	"SetWindow", "Hold", "Grant", "AdoptOpen", "AdoptClosed", "Status",
}

const (
	maxFuzzSteps   = 300 // ops per input, so every input runs fast
	maxFuzzPermits = 64  // kept permits; past it Allow does nothing
	maxFuzzDepth   = 2   // ops nested inside fn inside fn
)

// fuzzOp is one decoded operation.
type fuzzOp struct {
	kind    int
	result  int           // the fuzzKinds index of a call's (or a Done's) result
	arg     int           // the permit index of a Done; the Force variant
	d       time.Duration // fn's run time, or the clock move
	twice   bool          // Done called a second time
	viaCall bool          // an Execute made through Call
	nested  *fuzzOp       // run inside fn before it returns
	cfg     *fuzzConfig   // the config a Reconfigure gives
	fleet   *fleetOp      // the arguments of a fleet op
}

func (o *fuzzOp) String() string {
	s := fmt.Sprintf("%s(result=%d arg=%d d=%v", opNames[o.kind], o.result, o.arg, o.d)
	if o.twice {
		s += " twice"
	}
	if o.viaCall {
		s += " via Call"
	}
	if o.nested != nil {
		s += " nested=" + o.nested.String()
	}
	if o.cfg != nil {
		s += fmt.Sprintf(" config=%+v classify=%d", o.cfg.cfg, o.cfg.classify)
	}
	if o.fleet != nil {
		s += fmt.Sprintf(" fleet=%+v", *o.fleet)
	}
	return s + ")"
}

func (c *fuzzConfig) decodeOp(r *fuzzReader, depth int) *fuzzOp {
	o := &fuzzOp{kind: pick(r, numOps)}
	switch o.kind {
	case opExecute, opExecuteContext:
		o.result = pick(r, len(fuzzKinds))
		o.d = c.duration(r)
		switch nest := r.byte() % 4; {
		case nest == 1 && depth < maxFuzzDepth:
			o.nested = c.decodeOp(r, depth+1)
		case nest == 2 && o.kind == opExecute:
			o.viaCall = true
		}
	case opDone:
		i := r.byte()
		o.arg, o.twice = int(i&0x7f), i&0x80 != 0
		o.result = pick(r, len(fuzzKinds)-1) // Done cannot panic: the last kind is skipped
	case opAdvance:
		o.d = c.duration(r)
	case opForce:
		o.arg = pick(r, 4)
	case opGap:
		if depth < maxFuzzDepth {
			o.nested = c.decodeOp(r, depth+1)
		}
	case opReconfigure:
		c.decodeReconfigure(r, o)
	default:
		c.decodeFleetOp(r, o)
	}
	return o
}

// callVia is the method a call goes through.
type callVia int

const (
	viaExecute callVia = iota
	viaExecuteContext
	viaCall // Call: only fn's value and error (or the rejection) come back
)

// callRecord is what a call became, as comparable data.
type callRecord struct {
	Panicked    bool
	Value       int
	Err         error
	Outcome     cb.Outcome
	State       cb.State
	Duration    time.Duration
	RetryAfter  time.Duration
	Slow        bool
	Stale       bool
	WouldReject bool
}

// openErrRecord is a rejection's *cb.OpenError as comparable data, with
// the RetryAfter it reports right after the rejection.
type openErrRecord struct {
	Name       string
	State      cb.State
	RetryAfter time.Duration
}

// errRecord makes err comparable: a *cb.OpenError becomes its record, with
// retryAfter as the RetryAfter it must report.
func errRecord(err error, retryAfter time.Duration) error {
	var oe *cb.OpenError
	if !errors.As(err, &oe) {
		return err
	}
	return fmtErr{openErrRecord{oe.Name, oe.State, retryAfter}}
}

// fmtErr wraps a record as an error, so it fits the records' Err fields.
type fmtErr struct{ rec openErrRecord }

func (e fmtErr) Error() string { return fmt.Sprintf("%+v", e.rec) }

// allowRecord is Allow's answer.
type allowRecord struct {
	Admitted    bool
	WouldReject bool
	Err         error
}

// subject is one side of the comparison: the breaker or the model.
type subject interface {
	clock() *cbtest.Clock
	// call makes an Execute (ExecuteContext, or Call) whose fn runs body,
	// then panics if panics, and whose outcome the rules say is want,
	// indexed by the classification mode in force when the call ends.
	call(via callVia, body func() (int, error), panics bool, want [numClassify]cb.Outcome) callRecord
	refused() callRecord
	allow() allowRecord
	permits() int
	done(i, v int, err error, want [numClassify]cb.Outcome, twice bool)
	// reconfigure gives the policy of c (nil: the one in force, with
	// Shadow switched).
	reconfigure(c *fuzzConfig)
	force(which int)
	// gap makes f run once, in the closing gap of the next close: inside
	// the breaker between its closing CAS and the close's end, after the
	// close in the model.
	gap(f func())
	// trace is the trace of the op being run.
	trace() *[]any
	state() cb.State
	metrics() cb.Metrics
	events() []cb.Transition
	fleetSubject
}

// run applies o to s, appending what it observed to trace.
func run(s subject, c *fuzzConfig, o *fuzzOp, trace *[]any) {
	switch o.kind {
	case opExecute, opExecuteContext:
		k := fuzzKinds[o.result]
		body := func() (int, error) {
			s.clock().Advance(o.d)
			if o.nested != nil {
				run(s, c, o.nested, trace)
			}
			return k.v, k.err
		}
		via := viaExecute
		switch {
		case o.kind == opExecuteContext:
			via = viaExecuteContext
		case o.viaCall:
			via = viaCall
		}
		*trace = append(*trace, s.call(via, body, k.panics, k.want))
	case opRefused:
		*trace = append(*trace, s.refused())
	case opAllow:
		if s.permits() < maxFuzzPermits {
			*trace = append(*trace, s.allow())
		}
	case opDone:
		if n := s.permits(); n > 0 {
			k := fuzzKinds[o.result]
			s.done(o.arg%n, k.v, k.err, k.want, o.twice)
		}
	case opAdvance:
		s.clock().Advance(o.d)
	case opForce:
		s.force(o.arg)
	case opState:
		*trace = append(*trace, s.state())
	case opMetrics:
		*trace = append(*trace, s.metrics())
	case opGap:
		if o.nested != nil {
			// The op's trace is that of the op the close happens in.
			s.gap(func() { run(s, c, o.nested, s.trace()) })
		}
	case opReconfigure:
		s.reconfigure(o.cfg)
	case opShadow:
		s.reconfigure(nil)
	default:
		runFleet(s, o, trace)
	}
}

// breakerSubject is the breaker under test.
type breakerSubject struct {
	t      *testing.T
	clk    *cbtest.Clock
	b      *cb.Breaker[int]
	ev     []cb.Transition
	ps     []*cb.Permit[int]
	inGap  func()
	gapped bool // a gap op has run: events may come out of generation order
	mode   int  // the classification mode the breaker was made with
	live   *[]any
	fleetMemo
}

func newBreakerSubject(t *testing.T, c *fuzzConfig) *breakerSubject {
	s := &breakerSubject{t: t, clk: cbtest.NewClock(), mode: c.classify}
	cfg := c.cfg
	cfg.Clock = s.clk
	cfg.OnStateChange = fuzzListener(c, &s.ev)
	var opts []cb.Option[int]
	if c.classify == classifyClassifier {
		opts = append(opts, cb.WithClassifier(func(v int, _ error) cb.Outcome { return cb.Outcome(v) }))
	}
	setClassifiers(&cfg, c.classify)
	b, err := cb.New[int]("fuzz", cfg, opts...)
	require.NoError(t, err)
	s.b = b
	cb.SetClosingHook(b, func() {
		if f := s.inGap; f != nil {
			s.inGap, s.gapped = nil, true
			f()
		}
	})
	return s
}

func (s *breakerSubject) gap(f func())  { s.inGap = f }
func (s *breakerSubject) trace() *[]any { return s.live }

func (s *breakerSubject) clock() *cbtest.Clock { return s.clk }
func (s *breakerSubject) permits() int         { return len(s.ps) }
func (s *breakerSubject) state() cb.State      { return s.b.State() }
func (s *breakerSubject) metrics() cb.Metrics  { return s.b.Metrics() }

// events are the breaker's events in Generation order: the order
// listeners may rely on. (Events of a close and of a call in its gap reach
// the listener in the order their goroutines finished, the gap's first.)
func (s *breakerSubject) events() []cb.Transition { return inGenerationOrder(s.ev) }

func (s *breakerSubject) call(via callVia, body func() (int, error), panics bool, _ [numClassify]cb.Outcome) (rec callRecord) {
	ran := false
	fn := func() (int, error) {
		ran = true
		v, err := body()
		if panics {
			panic(fuzzPanic{})
		}
		return v, err
	}
	defer func() {
		if ran && panics {
			require.Equal(s.t, fuzzPanic{}, recover(), "fn's panic must go on unchanged")
			rec = callRecord{Panicked: true}
		}
	}()
	if via == viaCall {
		v, err := s.b.Call(fn)
		if !ran {
			require.Zero(s.t, v, "a rejected Call's value")
			require.ErrorIs(s.t, err, cb.ErrOpen)
		}
		return callRecord{Value: v, Err: s.openErr(err)}
	}
	var v int
	var r cb.CallResult[int]
	if via == viaExecuteContext {
		v, r = s.b.ExecuteContext(context.Background(), func(context.Context) (int, error) { return fn() })
	} else {
		v, r = s.b.Execute(fn)
	}
	require.Equal(s.t, r.Value, v, "Execute's value and CallResult.Value")
	return s.record(r)
}

// openErr records a rejection's error with what its RetryAfter says now.
func (s *breakerSubject) openErr(err error) error {
	var oe *cb.OpenError
	if !errors.As(err, &oe) {
		return err
	}
	return errRecord(err, oe.RetryAfter())
}

func (s *breakerSubject) record(r cb.CallResult[int]) callRecord {
	if r.Outcome == cb.Rejected {
		var oe *cb.OpenError
		require.ErrorIs(s.t, r.Err, cb.ErrOpen)
		require.ErrorAs(s.t, r.Err, &oe)
		require.Equal(s.t, r.State, oe.State, "OpenError.State")
		require.Equal(s.t, r.RetryAfter, oe.RetryAfter(), "OpenError.RetryAfter right after the rejection")
	}
	return callRecord{
		Value: r.Value, Err: s.openErr(r.Err), Outcome: r.Outcome, State: r.State, Duration: r.Duration,
		RetryAfter: r.RetryAfter, Slow: r.Slow, Stale: r.Stale, WouldReject: r.WouldReject,
	}
}

func (s *breakerSubject) refused() callRecord {
	calls := 0
	v, r := s.b.ExecuteContext(fuzzDoneCtx, func(context.Context) (int, error) { calls++; return 1, nil })
	require.Zero(s.t, calls, "fn ran under a done context")
	require.Zero(s.t, v)
	return s.record(r)
}

func (s *breakerSubject) allow() allowRecord {
	p, err := s.b.Allow()
	if err != nil {
		require.ErrorIs(s.t, err, cb.ErrOpen)
		p.Done(0, nil) // the zero Permit's Done does nothing
		return allowRecord{Err: s.openErr(err)}
	}
	s.ps = append(s.ps, &p)
	return allowRecord{Admitted: true, WouldReject: p.WouldReject()}
}

func (s *breakerSubject) done(i, v int, err error, _ [numClassify]cb.Outcome, twice bool) {
	p := s.ps[i]
	s.ps = append(s.ps[:i], s.ps[i+1:]...)
	p.Done(v, err)
	if twice {
		p.Done(v, err) // does nothing
	}
}

func (s *breakerSubject) force(which int) {
	[...]func(){s.b.ForceOpen, s.b.ForceClosed, s.b.ForceHalfOpen, s.b.Reset}[which]()
}

// modelSubject is the reference model.
type modelSubject struct {
	t     *testing.T
	clk   *cbtest.Clock
	m     *model.Model
	ev    []cb.Transition
	ps    []*model.Ticket
	inGap func()
	live  *[]any
	made  int       // the classification mode the model was made with
	mode  int       // the classification mode in force
	cfg   cb.Config // the config in force
	fleetMemo
}

func newModelSubject(t *testing.T, c *fuzzConfig) *modelSubject {
	s := &modelSubject{t: t, clk: cbtest.NewClock(), made: c.classify, mode: c.classify}
	cfg := c.cfg
	cfg.OnStateChange = fuzzListener(c, &s.ev)
	s.cfg = cfg
	m, err := model.New("fuzz", cfg, s.clk.Now)
	require.NoError(t, err)
	s.m = m
	m.SetCloseHook(func() {
		if f := s.inGap; f != nil {
			s.inGap = nil
			f()
		}
	})
	return s
}

func (s *modelSubject) gap(f func())  { s.inGap = f }
func (s *modelSubject) trace() *[]any { return s.live }

func (s *modelSubject) clock() *cbtest.Clock    { return s.clk }
func (s *modelSubject) permits() int            { return len(s.ps) }
func (s *modelSubject) state() cb.State         { return s.m.State() }
func (s *modelSubject) metrics() cb.Metrics     { return s.m.Metrics() }
func (s *modelSubject) events() []cb.Transition { return inGenerationOrder(s.ev) }

func (s *modelSubject) call(via callVia, body func() (int, error), panics bool, want [numClassify]cb.Outcome) callRecord {
	t, r := s.m.Begin()
	if t == nil {
		if via == viaCall {
			return callRecord{Err: errRecord(r.Err, r.RetryAfter)}
		}
		return record(0, r)
	}
	v, err := body()
	if panics {
		s.m.End(t, cb.Failure, nil)
		return callRecord{Panicked: true}
	}
	r = s.m.End(t, want[s.mode], err)
	if via == viaCall {
		return callRecord{Value: v, Err: err}
	}
	return record(v, r)
}

func record(v int, r model.Result) callRecord {
	return callRecord{
		Value: v, Err: errRecord(r.Err, r.RetryAfter), Outcome: r.Outcome, State: r.State, Duration: r.Duration,
		RetryAfter: r.RetryAfter, Slow: r.Slow, Stale: r.Stale, WouldReject: r.WouldReject,
	}
}

func (s *modelSubject) refused() callRecord { return record(0, s.m.Refuse(context.Canceled)) }

func (s *modelSubject) allow() allowRecord {
	t, r := s.m.Begin()
	if t == nil {
		return allowRecord{Err: errRecord(r.Err, r.RetryAfter)}
	}
	s.ps = append(s.ps, t)
	return allowRecord{Admitted: true, WouldReject: t.WouldReject()}
}

func (s *modelSubject) done(i, _ int, err error, want [numClassify]cb.Outcome, twice bool) {
	t := s.ps[i]
	s.ps = append(s.ps[:i], s.ps[i+1:]...)
	s.m.End(t, want[s.mode], err)
	if twice {
		s.m.End(t, want[s.mode], err)
	}
}

func (s *modelSubject) force(which int) {
	[...]func(){s.m.ForceOpen, s.m.ForceClosed, s.m.ForceHalfOpen, s.m.Reset}[which]()
}

// FuzzBreaker is the differential fuzz target: a byte string decodes to a
// config and a sequence of operations, applied to the breaker and to the
// reference model, which must agree after every step.
func FuzzBreaker(f *testing.F) {
	for _, s := range slices.Concat(fuzzSeeds(), reconfigureSeeds()) { // and the corpus, fleetSeeds among it
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{data: data}
		c := decodeFuzzConfig(r)
		br, mo := newBreakerSubject(t, &c), newModelSubject(t, &c)
		var history []*fuzzOp
		var at []time.Duration // the clock before each op
		check := func(what string, want, got any) {
			if !assert.ObjectsAreEqual(want, got) {
				steps := make([]string, len(history))
				for i, o := range history {
					steps[i] = fmt.Sprintf("%3d @%v %v", i, at[i], o)
				}
				require.Equal(t, want, got, "%s differs (model: expected, breaker: actual)\nconfig %+v classify=%d lazy=%v\n%s",
					what, c.cfg, c.classify, c.lazy, strings.Join(steps, "\n"))
			}
		}
		for step := 0; step < maxFuzzSteps && !r.done(); step++ {
			o := c.decodeOp(r, 0)
			history, at = append(history, o), append(at, br.clk.Now())
			var bt, mt []any
			br.live, mo.live = &bt, &mt
			run(br, &c, o, &bt)
			run(mo, &c, o, &mt)
			if !c.lazy {
				bt = append(bt, br.state(), br.metrics(), br.status(), br.totals())
				mt = append(mt, mo.state(), mo.metrics(), mo.status(), mo.totals())
			}
			check("trace", mt, bt)
			check("events", mo.events(), br.events())
			check("clock", mo.clk.Now(), br.clk.Now())
		}
		check("final metrics", mo.metrics(), br.metrics())
		check("final events", mo.events(), br.events())
	})
}

// Seed building: names for the bytes of the input layout.

// seedConfig holds the twelve config bytes, each an index into its table.
type seedConfig struct {
	window, minCalls, failRate, consecutive, slowDur, slowRate byte
	open, maxOpen, success, probes, halfOpen, flags            byte
}

func (c seedConfig) bytes() []byte {
	return []byte{
		c.window, c.minCalls, c.failRate, c.consecutive, c.slowDur, c.slowRate,
		c.open, c.maxOpen, c.success, c.probes, c.halfOpen, c.flags,
	}
}

// Table indexes used by the seeds.
const (
	winDefault, win1s10, win1s1, win3s3, win10ms10 byte = 0, 1, 2, 3, 4
	winCalls3, winCalls10                          byte = 9, 11
	min1, min2, min3, min5                         byte = 1, 2, 3, 4
	rateOff, rateHalf, rateThreeQuarters           byte = 1, 4, 5
	consecOff, consec1, consec2                    byte = 1, 2, 3
	slowOff, slow1ns, slow1ms                      byte = 1, 2, 3
	slowRate20, slowRate100, slowRateOff           byte = 1, 3, 4
	open1ms, open10ms, open1s                      byte = 1, 2, 3
	capSame, capThird, capTen                      byte = 1, 3, 4
	succ1, succ2                                   byte = 1, 2
	probesPlus1, probesPlus3                       byte = 2, 3
	half1ms, half7ms, half10s                      byte = 1, 2, 5
)

// Call result kinds (fuzzKinds indexes) and Force variants.
const (
	kOK, kFail, kCancel, kWrappedCancel, kDeadline, kBenign, kSkip, kNilFail, kNilIgnore, kPanic byte = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
	fOpen, fClosed, fHalfOpen, fReset                                                            byte = 0, 1, 2, 3
)

// Clock moves (fuzzConfig.duration codes).
const (
	dZero, dNano, dHalfBucket, dBucketLess, dBucket, dWindow, dPastWindow byte = 0, 1, 2, 3, 4, 5, 6
	dOpenLess, dOpen, dHalfOpenLess, dHalfOpen, dHalfOpens, dMaxOpen      byte = 7, 8, 9, 10, 11, 12
	dSlow, dFine, dRawMs                                                  byte = 13, 14, 15
)

// seed accumulates an input: a config, then ops.
type seed []byte

func newSeed(c seedConfig) seed { return c.bytes() }

func (s seed) exec(kind, d byte) seed    { return append(s, opExecute, kind, d, 0) }
func (s seed) execCtx(kind, d byte) seed { return append(s, opExecuteContext, kind, d, 0) }

// call is an Execute made through Call.
func (s seed) call(kind, d byte) seed { return append(s, opExecute, kind, d, 2) }

// execNested is an Execute whose fn runs the op of inner (bytes of an op)
// after moving the clock by d.
func (s seed) execNested(kind, d byte, inner seed) seed {
	return append(append(s, opExecute, kind, d, 1), inner...)
}

func (s seed) refused() seed               { return append(s, opRefused) }
func (s seed) allow() seed                 { return append(s, opAllow) }
func (s seed) done(i, kind byte) seed      { return append(s, opDone, i, kind) }
func (s seed) doneTwice(i, kind byte) seed { return append(s, opDone, i|0x80, kind) }
func (s seed) advance(d byte, raw ...byte) seed {
	return append(append(s, opAdvance, d), raw...)
}
func (s seed) force(which byte) seed { return append(s, opForce, which) }

// gap arms the next close: the op of inner runs in its closing gap.
func (s seed) gap(inner seed) seed { return append(append(s, opGap), inner...) }
func (s seed) state() seed         { return append(s, opState) }
func (s seed) metrics() seed       { return append(s, opMetrics) }

// times appends n copies of the ops f appends.
func (s seed) times(n int, f func(seed) seed) seed {
	for range n {
		s = f(s)
	}
	return s
}

func ok(s seed) seed    { return s.exec(kOK, dZero) }
func fail(s seed) seed  { return s.exec(kFail, dZero) }
func allow(s seed) seed { return s.allow() }

// fuzzSeeds cover each rule of the package documentation at least once.
func fuzzSeeds() [][]byte {
	base := seedConfig{}
	fast := seedConfig{consecutive: consec1, open: open1ms, success: succ1, halfOpen: half10s}
	lazy := func(c seedConfig) seedConfig { c.flags |= flagLazy; return c }
	return [][]byte{
		// Through Call: failures trip, the open breaker rejects without
		// running fn, a probe is admitted at the deadline, the half-open
		// pool runs dry, a panic is a failure, and success closes.
		newSeed(fast).call(kFail, dZero).call(kOK, dZero).advance(dOpen).call(kOK, dZero).metrics().
			call(kPanic, dZero).advance(dOpen).call(kCancel, dZero).call(kOK, dZero).call(kOK, dZero).metrics(),
		// Consecutive failures trip; Open rejects with RetryAfter down to
		// 1ns; the deadline makes it half-open; SuccessThreshold closes.
		newSeed(base).times(5, fail).exec(kOK, dZero).advance(dOpenLess).
			exec(kOK, dZero).advance(dNano).state().times(3, ok).metrics(),
		// Failure rate in a count window: nothing below MinimumCalls, a
		// fast success reaching it does not trip, the next failure does.
		newSeed(seedConfig{window: winCalls10, minCalls: min5, consecutive: consecOff, failRate: rateHalf}).
			times(4, fail).exec(kOK, dZero).metrics().exec(kFail, dZero).metrics(),
		// The count window slides: old failures leave it.
		newSeed(seedConfig{window: winCalls3, minCalls: min3, consecutive: consecOff, failRate: rateThreeQuarters}).
			exec(kFail, dZero).times(4, ok).exec(kFail, dZero).exec(kFail, dZero).times(2, ok).exec(kFail, dZero).metrics(),
		// Closing and ForceClosed empty a count window.
		newSeed(seedConfig{window: winCalls3, minCalls: min2, consecutive: consecOff, open: open1ms, success: succ1}).
			exec(kOK, dZero).exec(kFail, dZero).metrics().advance(dOpen).exec(kOK, dZero).metrics().
			exec(kFail, dZero).force(fClosed).metrics().exec(kFail, dZero).force(fReset).metrics(),
		// Slow calls: exactly SlowCallDuration is not slow, a nanosecond
		// more is; a slow success trips on the slow-call rate.
		newSeed(seedConfig{window: win10ms10, minCalls: min2, consecutive: consecOff, slowDur: slow1ms, slowRate: slowRate100}).
			exec(kOK, dBucket).exec(kOK, dSlow).exec(kOK, dSlow).metrics(),
		newSeed(seedConfig{window: win1s10, minCalls: min2, consecutive: consecOff, failRate: rateOff, slowDur: slow1ns, slowRate: slowRate20}).
			exec(kOK, dNano).exec(kFail, dSlow).metrics(),
		// Time window: buckets rotate, outcomes age out after the window,
		// an idle gap longer than it empties it.
		newSeed(seedConfig{window: win1s10, minCalls: min3, consecutive: consecOff, failRate: rateThreeQuarters}).
			exec(kFail, dZero).advance(dBucketLess).exec(kFail, dZero).advance(dNano).metrics().
			advance(dHalfBucket).exec(kOK, dZero).advance(dWindow).metrics().exec(kFail, dZero).
			advance(dPastWindow).metrics().exec(kFail, dBucket).exec(kFail, dZero).exec(kFail, dZero).metrics(),
		newSeed(seedConfig{window: win1s1, minCalls: min2, consecutive: consecOff}).
			exec(kFail, dZero).advance(dBucketLess).exec(kOK, dZero).advance(dNano).exec(kFail, dZero).metrics(),
		newSeed(seedConfig{window: win3s3, minCalls: min5}).
			times(3, ok).advance(dFine, 200).times(4, fail).advance(dRawMs, 0, 100).metrics(),
		// Backoff doubles after each failed probe up to a cap between two
		// doublings, and a close returns it to OpenTimeout.
		newSeed(seedConfig{consecutive: consec1, open: open1ms, maxOpen: capThird, success: succ1, halfOpen: half10s}).
			exec(kFail, dZero).advance(dOpen).times(3, func(s seed) seed {
			return s.exec(kFail, dZero).advance(dOpen).exec(kOK, dZero).metrics().advance(dMaxOpen).metrics()
		}).exec(kOK, dZero).exec(kFail, dZero).advance(dOpen).state(),
		newSeed(seedConfig{consecutive: consec1, open: open10ms, maxOpen: capTen, success: succ1}).
			exec(kFail, dZero).times(5, func(s seed) seed { return s.advance(dMaxOpen).exec(kFail, dZero).metrics() }).
			force(fHalfOpen).exec(kFail, dZero).metrics().force(fClosed).exec(kFail, dZero).advance(dOpen).state(),
		newSeed(seedConfig{consecutive: consec1, open: open1ms, maxOpen: capSame, success: succ1}).
			exec(kFail, dZero).advance(dOpen).exec(kFail, dZero).advance(dOpen).state(),
		// HalfOpenMaxCalls > SuccessThreshold: exactly that many permits,
		// RetryAfter 0 beyond; an ignored probe gives its permit back;
		// Done out of order; late probes of a closed episode are stale.
		newSeed(seedConfig{consecutive: consec1, open: open1ms, success: succ2, probes: probesPlus3, halfOpen: half10s}).
			exec(kFail, dZero).advance(dOpen).times(6, allow).exec(kOK, dZero).metrics().
			done(2, kCancel).metrics().allow().done(3, kOK).metrics().done(0, kOK).metrics().
			done(1, kFail).doneTwice(0, kOK).metrics(),
		newSeed(seedConfig{consecutive: consec1, open: open1ms, success: succ2, probes: probesPlus1, halfOpen: half10s}).
			exec(kFail, dZero).advance(dOpen).allow().exec(kOK, dSlow).exec(kFail, dZero).done(0, kOK).metrics(),
		// HalfOpenTimeout: an episode whose probe is out that long fails
		// (reopens with the backoff step) and its probes are stale, the
		// failure noticed by a probe's Done (lazy) or by a read; an episode
		// with no probe out waits however long, and a probe taken while
		// none is out starts the clock again.
		newSeed(lazy(seedConfig{consecutive: consec1, open: open1ms, success: succ2, halfOpen: half1ms})).
			exec(kFail, dZero).advance(dOpen).allow().allow().advance(dHalfOpen).done(0, kOK).
			allow().advance(dHalfOpens).state().metrics().done(0, kOK).done(0, kFail).metrics(),
		newSeed(seedConfig{consecutive: consec1, open: open1ms, success: succ2, halfOpen: half7ms}).
			exec(kFail, dZero).advance(dOpen).allow().advance(dHalfOpenLess).exec(kOK, dZero).
			advance(dNano).done(0, kOK).advance(dHalfOpens).allow().advance(dHalfOpen).allow().metrics(),
		newSeed(lazy(seedConfig{consecutive: consec1, open: open1s, success: succ2, halfOpen: half7ms})).
			exec(kFail, dZero).advance(dRawMs, 1, 0).metrics().advance(dHalfOpens).exec(kOK, dHalfOpen).metrics(),
		// Forcing: ForceOpen holds past every timeout with RetryAfter 0;
		// ForceHalfOpen starts a fresh episode; ForceClosed and Reset clear.
		newSeed(fast).force(fOpen).advance(dPastWindow).advance(dOpen).exec(kOK, dZero).allow().metrics().
			force(fHalfOpen).allow().allow().force(fOpen).done(0, kOK).metrics().force(fHalfOpen).
			exec(kOK, dZero).force(fClosed).times(3, fail).force(fReset).metrics().
			force(fHalfOpen).force(fHalfOpen).exec(kFail, dZero).force(fClosed).force(fClosed).metrics(),
		// Forcing from an Open whose time is over but that nobody looked
		// at: the Force does not make the time-driven transition first.
		newSeed(lazy(fast)).exec(kFail, dZero).advance(dOpen).force(fOpen).metrics().force(fReset).
			exec(kFail, dZero).advance(dOpen).force(fHalfOpen).metrics(),
		// Streaks: probe successes count in ConsecutiveSuccesses, also once
		// forced open from half-open; a slow success that trips keeps its
		// streak.
		newSeed(seedConfig{consecutive: consec1, open: open1ms, success: succ2, probes: probesPlus1}).
			times(3, ok).exec(kFail, dZero).advance(dOpen).exec(kOK, dZero).metrics().force(fOpen).metrics().
			force(fHalfOpen).metrics(),
		newSeed(seedConfig{window: win1s10, minCalls: min3, consecutive: consecOff, slowDur: slow1ms, slowRate: slowRate100}).
			times(2, func(s seed) seed { return s.exec(kOK, dSlow) }).exec(kOK, dSlow).metrics().advance(dOpen).metrics(),
		// Stale: permits of a closed generation finishing after a trip, a
		// Force or a Reset; an Execute whose fn forces or trips meanwhile.
		newSeed(base).allow().allow().allow().times(5, fail).done(0, kOK).done(0, kFail).force(fReset).
			done(0, kCancel).metrics().
			execNested(kOK, dZero, seed{opForce, fOpen}).
			execNested(kFail, dSlow, seed{opForce, fClosed}).metrics().
			execNested(kOK, dZero, seed{opExecute, kFail, dZero, 1, opForce, fHalfOpen}).metrics(),
		newSeed(seedConfig{consecutive: consec2, open: open1ms, success: succ1}).
			execNested(kFail, dZero, seed{opExecute, kFail, dZero, 0}).metrics().advance(dOpen).
			execNested(kOK, dOpen, seed{opExecute, kFail, dZero, 0}).metrics(),
		// The closing gap: a call (or a trip, or a Force) arriving between
		// the CAS that closes and the end of the close is judged on the new
		// generation's empty window and streak, for each way to close.
		newSeed(seedConfig{consecutive: consec2, minCalls: min2, open: open1ms, success: succ1}).
			times(2, fail).force(fClosed).gap(seed{opExecute, kFail, dZero, 0}).exec(kFail, dZero).force(fClosed).metrics().
			gap(seed{opExecute, kFail, dZero, 1, opExecute, kFail, dZero, 0}).exec(kFail, dZero).force(fReset).metrics().
			advance(dOpen).gap(seed{opForce, fOpen}).exec(kOK, dZero).metrics().force(fReset).
			gap(seed{opForce, fReset}).exec(kFail, dZero).force(fClosed).metrics(),
		newSeed(seedConfig{window: winCalls3, consecutive: consecOff, failRate: rateHalf, open: open1ms, success: succ1}).
			times(3, fail).advance(dOpen).gap(seed{opExecute, kFail, dZero, 0}).exec(kOK, dZero).metrics().
			exec(kFail, dZero).metrics(),
		// Slow probes fail the episode (with the backoff step); with
		// SlowCallRateThreshold Off slow calls are tracked but never trip.
		newSeed(seedConfig{consecutive: consec1, slowDur: slow1ms, open: open10ms, maxOpen: capTen, success: succ2, halfOpen: half10s}).
			exec(kFail, dZero).advance(dOpen).exec(kOK, dZero).exec(kOK, dSlow).metrics().advance(dMaxOpen).
			exec(kOK, dZero).exec(kOK, dZero).metrics(),
		newSeed(seedConfig{window: winCalls3, consecutive: consecOff, failRate: rateOff, slowDur: slow1ms, slowRate: slowRateOff}).
			times(5, func(s seed) seed { return s.exec(kOK, dSlow) }).metrics(),
		// Panics: counted as failures, in closed and half-open, and the
		// panic goes on.
		newSeed(base).times(4, func(s seed) seed { return s.exec(kPanic, dZero) }).exec(kPanic, dSlow).
			advance(dOpen).exec(kPanic, dZero).metrics().advance(dOpen).exec(kOK, dZero).
			execNested(kPanic, dZero, seed{opExecute, kPanic, dZero, 0}).metrics(),
		// Classification under each mode.
		classifySeed(classifyDefault),
		classifySeed(classifyClassifier),
		classifySeed(classifyCustom),
		classifySeed(classifyIsFailure),
		// Contexts: a done context is refused before admission (ignored,
		// no permit, no transition made), a live one admits as Execute.
		newSeed(lazy(fast)).refused().execCtx(kOK, dZero).execCtx(kFail, dZero).refused().execCtx(kOK, dZero).advance(dOpen).
			refused().state().execCtx(kCancel, dZero).execCtx(kOK, dSlow).metrics(),
		// A panicking listener is recovered and breaks nothing.
		newSeed(seedConfig{consecutive: consec1, open: open1ms, success: succ1, flags: flagPanicky}).
			exec(kFail, dZero).advance(dOpen).state().exec(kOK, dZero).force(fOpen).force(fReset).metrics(),
	}
}

// classifySeed makes one call of each kind (the panic aside) in a breaker
// that never trips, then reads the metrics.
func classifySeed(mode byte) []byte {
	s := newSeed(seedConfig{consecutive: consecOff, failRate: rateOff, slowDur: slowOff, flags: mode})
	for k := range kPanic {
		s = s.exec(k, dZero).allow().done(0, k)
	}
	return s.metrics()
}
