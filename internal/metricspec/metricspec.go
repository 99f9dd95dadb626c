package metricspec

import (
	"slices"
	"strings"

	"github.com/tripswitch/tripswitch/cb"
)

// Namespace is the first part of every family name: "tripswitch_" in
// Prometheus, "tripswitch." in OpenTelemetry.
const Namespace = "tripswitch"

// ID identifies a family; it indexes Families.
type ID uint8

// The families, in the order Each reports a breaker's samples.
const (
	State ID = iota
	Forced
	StateAge
	Calls
	SlowCalls
	Transitions
	WindowCalls
	WindowFailureRatio
	WindowSlowCallRatio
	ProbesInFlight
	RetryAfter
	NumFamilies
)

// Kind is how a family's value behaves over time.
type Kind uint8

// The kinds. Prometheus has gauges and counters; OpenTelemetry tells a
// value that goes up and down (a gauge: a ratio, a flag) from a count
// that goes up and down and adds across breakers (an up-down counter).
const (
	Gauge         Kind = iota // a reading: Prometheus gauge, OTel observable gauge
	UpDownCounter             // an additive count: Prometheus gauge, OTel observable up-down counter
	Counter                   // a monotonic count: Prometheus counter, OTel observable counter
)

// Family describes one metric family.
type Family struct {
	// Name is the Prometheus name after the namespace and its underscore,
	// with its unit and _total suffixes: "calls_total".
	Name string
	// OTelName is the OpenTelemetry instrument name, namespace included,
	// without unit or _total: the translation adds those from Unit and
	// Kind ("tripswitch.calls" with "{call}", a counter: calls_total).
	OTelName string
	// Unit is the OpenTelemetry unit (UCUM): "s" becomes the _seconds
	// suffix, "1" on a gauge the _ratio suffix, and an annotation in
	// braces adds nothing to the name.
	Unit string
	Kind Kind
	// Float says the value can have a fraction; the others are whole
	// numbers, which OpenTelemetry records as int64.
	Float bool
	Help  string
	// Labels are the label names after "name", which every family has
	// first: at most two, as Each passes them.
	Labels []string
}

// NameLabel is the label that names the breaker, first in every family.
const NameLabel = "name"

// Families describes every family, indexed by ID.
var Families = [NumFamilies]Family{
	State: {
		Name: "circuit_state", OTelName: "tripswitch.circuit.state", Kind: Gauge,
		Help:   "1 for the state the breaker is in, 0 for the two others.",
		Labels: []string{"state"},
	},
	Forced: {
		Name: "circuit_forced", OTelName: "tripswitch.circuit.forced", Kind: Gauge,
		Help: "1 while the breaker is held open by ForceOpen, else 0.",
	},
	StateAge: {
		Name: "circuit_state_age_seconds", OTelName: "tripswitch.circuit.state_age", Unit: "s", Kind: Gauge, Float: true,
		Help: "Time since the breaker's last transition, by its own clock.",
	},
	Calls: {
		Name: "calls_total", OTelName: "tripswitch.calls", Unit: "{call}", Kind: Counter,
		Help:   "Calls through the breaker by outcome: success and failure are counted, ignored ones count for nothing, rejected ones did not run, stale ones ended after the breaker moved on.",
		Labels: []string{"outcome"},
	},
	SlowCalls: {
		Name: "slow_calls_total", OTelName: "tripswitch.slow_calls", Unit: "{call}", Kind: Counter,
		Help: "Counted calls (successes and failures, probes included) that ran longer than SlowCallDuration.",
	},
	Transitions: {
		Name: "transitions_total", OTelName: "tripswitch.transitions", Unit: "{transition}", Kind: Counter,
		Help:   "Changes of state or of the forced flag, by the state entered and the reason.",
		Labels: []string{"to", "reason"},
	},
	WindowCalls: {
		Name: "window_calls", OTelName: "tripswitch.window.calls", Unit: "{call}", Kind: UpDownCounter,
		Help: "Counted calls in the breaker's sliding window.",
	},
	WindowFailureRatio: {
		Name: "window_failure_ratio", OTelName: "tripswitch.window.failure_ratio", Unit: "1", Kind: Gauge, Float: true,
		Help: "Share of the window's calls that failed, 0 to 1; absent while the window is empty.",
	},
	WindowSlowCallRatio: {
		Name: "window_slow_call_ratio", OTelName: "tripswitch.window.slow_call_ratio", Unit: "1", Kind: Gauge, Float: true,
		Help: "Share of the window's calls that ran slow, 0 to 1; absent while the window is empty.",
	},
	ProbesInFlight: {
		Name: "half_open_probes_in_flight", OTelName: "tripswitch.half_open.probes_in_flight", Unit: "{probe}", Kind: UpDownCounter,
		Help: "Probes admitted and not yet finished in the current half-open episode.",
	},
	RetryAfter: {
		Name: "retry_after_seconds", OTelName: "tripswitch.retry_after", Unit: "s", Kind: Gauge, Float: true,
		Help: "While open and not forced, the time until a probe may be admitted; else 0.",
	},
}

// Stale is the outcome label of calls counted in Metrics.TotalStale: cb
// has no Outcome for them, since a stale call ends as a success or a
// failure that no longer counts.
const Stale = "stale"

// States lists the states in the order Each reports them.
var States = [...]cb.State{cb.Closed, cb.Open, cb.HalfOpen}

// Outcomes lists the outcome label values in the order Each reports them.
var Outcomes = [...]string{cb.Success.String(), cb.Failure.String(), cb.Ignored.String(), cb.Rejected.String(), Stale}

// reasons and the label values below are computed once: cb.Reasons
// allocates, and a collection reads them for every breaker. The
// transitions family counts changes of state or of the forced flag;
// switching shadow mode on or off is neither (Metrics.Shadow says which
// mode is in force), so its reasons are left out.
var (
	reasons      = slices.DeleteFunc(cb.Reasons(), func(r cb.Reason) bool { return !r.ChangesState() })
	reasonLabels = labelsOf(reasons, cb.Reason.String)
	stateLabels  = labelsOf(States[:], cb.State.String)
)

// Label turns cb's words for a state or a reason ("half-open", "failure
// rate") into a label value in the snake_case of metric names
// ("half_open", "failure_rate"), which PromQL matchers and dashboard
// legends take without quoting or escaping.
func Label(words string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, words)
}

func labelsOf[T any](xs []T, words func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = Label(words(x))
	}
	return out
}

// StateLabel returns the label value of s: "closed", "open", "half_open".
func StateLabel(s cb.State) string {
	if int(s) < len(stateLabels) {
		return stateLabels[s]
	}
	return Label(s.String())
}

// Reasons returns every cb.Reason with its label value, in cb's order.
func Reasons() (rs []cb.Reason, labels []string) { return reasons, reasonLabels }

// Each calls f once for every sample of the snapshot m: the family, the
// value, and the values of the family's Labels (unused ones empty); the
// breaker's name is m.Name. Every family has a fixed set of samples per
// breaker, zero or not, so that rate() works from the first scrape,
// except the two window ratios, which have none while the window is
// empty (0/0 is no ratio; see the exporters' docs).
func Each(m *cb.Metrics, f func(id ID, value float64, l1, l2 string)) {
	for _, s := range States {
		f(State, flag(m.State == s), stateLabels[s], "")
	}
	f(Forced, flag(m.Forced), "", "")
	f(StateAge, m.StateSince.Seconds(), "", "")

	successes := uint64(0)
	if m.TotalCalls > m.TotalFailures {
		successes = m.TotalCalls - m.TotalFailures
	}
	counts := [len(Outcomes)]uint64{successes, m.TotalFailures, m.TotalIgnored, m.TotalRejected, m.TotalStale}
	for i, n := range counts {
		f(Calls, float64(n), Outcomes[i], "")
	}
	f(SlowCalls, float64(m.TotalSlowCalls), "", "")
	for i, r := range reasons {
		f(Transitions, float64(m.Transitions.By(r)), stateLabels[r.To()], reasonLabels[i])
	}

	f(WindowCalls, float64(m.Calls), "", "")
	if m.Calls > 0 {
		f(WindowFailureRatio, m.FailureRate, "", "")
		f(WindowSlowCallRatio, m.SlowCallRate, "", "")
	}
	f(ProbesInFlight, float64(m.HalfOpenInFlight), "", "")
	f(RetryAfter, m.RetryAfter.Seconds(), "", "")
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
