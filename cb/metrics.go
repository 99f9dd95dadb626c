package cb

import (
	"encoding/json"
	"math"
	"time"

	"github.com/tripswitch/tripswitch/cb/internal/ring"
)

// Metrics is a snapshot of a breaker. Window figures cover the current
// window; Total figures cover the breaker's life (Reset keeps them).
// Every call is exactly one of: counted (TotalCalls, of which
// TotalFailures failed), rejected, ignored or stale.
type Metrics struct {
	Name       string `json:"name"`
	State      State  `json:"state"`
	Forced     bool   `json:"forced"`
	Generation uint64 `json:"generation"`
	// Shadow reports shadow mode (Config.Shadow): the breaker rejects
	// nothing, and TotalRejected counts the calls it would have rejected.
	Shadow bool `json:"shadow"`

	Calls        uint64  `json:"calls"`
	Successes    uint64  `json:"successes"`
	Failures     uint64  `json:"failures"`
	SlowCalls    uint64  `json:"slow_calls"`
	FailureRate  float64 `json:"failure_rate"`
	SlowCallRate float64 `json:"slow_call_rate"`

	ConsecutiveFailures  uint64 `json:"consecutive_failures"`
	ConsecutiveSuccesses uint64 `json:"consecutive_successes"`

	TotalCalls    uint64 `json:"total_calls"`
	TotalFailures uint64 `json:"total_failures"`
	TotalRejected uint64 `json:"total_rejected"`
	TotalIgnored  uint64 `json:"total_ignored"`
	TotalStale    uint64 `json:"total_stale"`
	// TotalSlowCalls counts the counted calls that were slow, successes
	// and failures, probes included.
	TotalSlowCalls uint64 `json:"total_slow_calls"`
	// Transitions counts the breaker's changes of state or forced flag,
	// by reason, since it was made (Reset keeps them).
	Transitions TransitionCounts `json:"transitions"`

	// HalfOpenInFlight is the number of probes admitted and not yet
	// finished in the current half-open episode.
	HalfOpenInFlight int `json:"half_open_in_flight"`
	// StateSince is the time since the last transition. JSON gives it in
	// seconds, as state_since_seconds.
	StateSince time.Duration `json:"-"`
	// RetryAfter is, when open and not forced, the time until a probe may
	// be admitted. JSON gives it in seconds, as retry_after_seconds.
	RetryAfter time.Duration `json:"-"`
}

// metricsJSON is Metrics as JSON shows it: durations in seconds (a number
// with a fraction), which people and dashboards read without converting,
// in keys that name the unit.
type metricsJSON struct {
	metricsFields
	StateSince float64 `json:"state_since_seconds"`
	RetryAfter float64 `json:"retry_after_seconds"`
}

// metricsFields is Metrics without its methods, so that embedding it does
// not recurse into MarshalJSON.
type metricsFields Metrics

// MarshalJSON encodes the snapshot with snake_case keys, State as its
// text and the durations in seconds.
func (m Metrics) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricsJSON{metricsFields(m), m.StateSince.Seconds(), m.RetryAfter.Seconds()})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var j metricsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*m = Metrics(j.metricsFields)
	m.StateSince = seconds(j.StateSince)
	m.RetryAfter = seconds(j.RetryAfter)
	return nil
}

// seconds converts a number of seconds back to a Duration, to the
// nanosecond it was made from.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// Metrics returns a snapshot as of now, making the transition an elapsed
// open timeout calls for. Its figures are read one after another, so under
// concurrent calls they may be a few calls apart.
func (b *core) Metrics() Metrics {
	now := b.now()
	p := b.pol.Load()
	w := b.catchUp(now, p)
	var c, sums ring.Counts
	p.window(now, &c, &sums)
	probes := b.probeTotals()
	m := Metrics{
		Name:          b.name,
		State:         w.state(),
		Forced:        w.forced(),
		Generation:    w.gen(),
		Shadow:        p.shadow,
		Calls:         c.Calls(),
		Successes:     c.Successes(),
		Failures:      c.Failures(),
		SlowCalls:     c.Slow(),
		TotalCalls:    sums.Calls() + probes.Calls(),
		TotalFailures: sums.Failures() + probes.Failures(),
		TotalRejected: b.counters.Tally(ring.Rejected),
		TotalIgnored:  b.counters.Tally(ring.Ignored),
		TotalStale:    b.counters.Tally(ring.Stale),

		TotalSlowCalls: sums.Slow() + probes.Slow(),

		ConsecutiveFailures: b.streak.Load() & maxStreak,
	}
	if w.state() == HalfOpen {
		// Any probe failure ends the episode: its successes are in a row.
		m.ConsecutiveSuccesses = w.probeSuccesses()
	} else if n, mark := sums.Successes()+probes.Successes(), b.successBase.Load(); n > mark {
		m.ConsecutiveSuccesses = n - mark
	}
	for r := range b.transitions {
		m.Transitions[r] = b.transitions[r].Load()
	}
	if m.Calls > 0 {
		m.FailureRate = float64(m.Failures) / float64(m.Calls)
		m.SlowCallRate = float64(m.SlowCalls) / float64(m.Calls)
	}
	if w.state() == HalfOpen {
		m.HalfOpenInFlight = int(w.permits() - w.probeSuccesses())
	}
	if gen, start, _ := b.dates.read(); gen == w.gen() {
		m.StateSince = max(subSat(now, start), 0)
	}
	if w.state() == Open {
		m.RetryAfter = b.retryAfter(p, w, now)
	}
	return m
}

// TransitionCounts counts transitions by Reason. Each reason that changes
// the state leads to one state (Reason.To), so the counts also say how
// often the breaker entered each state; the shadow switches count apart.
// JSON gives an object keyed by the reasons' words.
type TransitionCounts [numReasons]uint64

// By returns the count of transitions for reason r.
func (c TransitionCounts) By(r Reason) uint64 {
	if int(r) >= len(c) {
		return 0
	}
	return c[r]
}

// To returns the count of transitions into state s (forced-flag changes
// that keep the state included: ForceOpen on an open breaker counts as
// one into Open; shadow switches not).
func (c TransitionCounts) To(s State) uint64 {
	var n uint64
	for _, r := range Reasons() {
		if r.ChangesState() && r.To() == s {
			n += c[r]
		}
	}
	return n
}

// Total returns the count of all transitions, shadow switches included.
func (c TransitionCounts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// MarshalJSON encodes the counts as an object with every reason's words
// as a key.
func (c TransitionCounts) MarshalJSON() ([]byte, error) {
	m := make(map[string]uint64, numReasons-1)
	for _, r := range Reasons() {
		m[r.String()] = c[r]
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes what MarshalJSON encodes; unknown reasons are an
// error.
func (c *TransitionCounts) UnmarshalJSON(data []byte) error {
	var m map[string]uint64
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*c = TransitionCounts{}
	for k, v := range m {
		var r Reason
		if err := r.UnmarshalText([]byte(k)); err != nil {
			return err
		}
		c[r] = v
	}
	return nil
}
