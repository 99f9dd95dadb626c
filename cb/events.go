package cb

import "fmt"

// Transition describes one change of a breaker's state or of its forced
// flag, or a switch of shadow mode (From == To), as OnStateChange
// receives it.
//
// Each transition is made by one CAS and reported by the goroutine that
// won it, after the fact. Transitions made in quick succession by
// different goroutines can therefore reach the listener in another order
// than they happened: Generation orders them. A listener that mirrors the
// state keeps the event with the highest Generation it has seen and drops
// older ones.
type Transition struct {
	Name     string // the breaker's name
	From, To State
	// Generation is the generation the change began; it grows by at
	// least one with every transition (modulo 2^39). A shadow switch
	// begins none: it carries the current generation.
	Generation uint64
	Reason     Reason
}

// Reason says why a breaker changed state (or its forced flag).
type Reason uint8

// The reasons a Transition carries. The zero Reason is not used.
const (
	ReasonConsecutiveFailures Reason = iota + 1 // ConsecutiveFailures failures in a row
	ReasonFailureRate                           // the window's failure rate reached its threshold
	ReasonSlowCallRate                          // the window's slow-call rate reached its threshold
	ReasonOpenTimeout                           // the open time is over: probes may run
	ReasonProbeFailed                           // a half-open probe failed
	ReasonProbeSlow                             // a half-open probe succeeded, but slowly
	ReasonHalfOpenTimeout                       // a probe was still running HalfOpenTimeout into its episode
	ReasonProbesSucceeded                       // SuccessThreshold probes succeeded
	ReasonForcedOpen                            // ForceOpen
	ReasonForcedClosed                          // ForceClosed
	ReasonForcedHalfOpen                        // ForceHalfOpen
	ReasonReset                                 // Reset
	ReasonTripRule                              // Config.TripRule returned true
	ReasonShadowOn                              // Reconfigure turned shadow mode on: the state is unchanged
	ReasonShadowOff                             // Reconfigure turned shadow mode off: the state is unchanged
	ReasonFleetFailureRate                      // the failure rate of the window with the fleet's reached its threshold
	ReasonFleetSlowCallRate                     // the slow-call rate of the window with the fleet's reached its threshold
	ReasonFleetOpened                           // the fleet opened: adopted from another replica (see FleetLink)
	ReasonFleetClosed                           // the fleet closed: adopted from another replica (see FleetLink)
	numReasons
)

var reasonNames = [...]string{
	ReasonConsecutiveFailures: "consecutive failures",
	ReasonFailureRate:         "failure rate",
	ReasonSlowCallRate:        "slow-call rate",
	ReasonOpenTimeout:         "open timeout elapsed",
	ReasonProbeFailed:         "probe failed",
	ReasonProbeSlow:           "probe slow",
	ReasonHalfOpenTimeout:     "half-open timeout",
	ReasonProbesSucceeded:     "probes succeeded",
	ReasonForcedOpen:          "forced open",
	ReasonForcedClosed:        "forced closed",
	ReasonForcedHalfOpen:      "forced half-open",
	ReasonReset:               "reset",
	ReasonTripRule:            "trip rule",
	ReasonShadowOn:            "shadow on",
	ReasonShadowOff:           "shadow off",
	ReasonFleetFailureRate:    "fleet failure rate",
	ReasonFleetSlowCallRate:   "fleet slow-call rate",
	ReasonFleetOpened:         "fleet opened",
	ReasonFleetClosed:         "fleet closed",
}

// reasonTo is the state each reason leads to.
var reasonTo = [...]State{
	ReasonConsecutiveFailures: Open,
	ReasonFailureRate:         Open,
	ReasonSlowCallRate:        Open,
	ReasonOpenTimeout:         HalfOpen,
	ReasonProbeFailed:         Open,
	ReasonProbeSlow:           Open,
	ReasonHalfOpenTimeout:     Open,
	ReasonProbesSucceeded:     Closed,
	ReasonForcedOpen:          Open,
	ReasonForcedClosed:        Closed,
	ReasonForcedHalfOpen:      HalfOpen,
	ReasonReset:               Closed,
	ReasonTripRule:            Open,
	ReasonFleetFailureRate:    Open,
	ReasonFleetSlowCallRate:   Open,
	ReasonFleetOpened:         Open,
	ReasonFleetClosed:         Closed,
}

// Reasons lists every Reason, in order.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := Reason(1); r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// To is the state a transition for this reason leads to. It is Closed
// for a reason that changes no state (see ChangesState), whose
// transitions keep whatever state the breaker is in.
func (r Reason) To() State {
	if !r.ChangesState() {
		return Closed
	}
	return reasonTo[r]
}

// ChangesState reports whether a transition for this reason changes the
// breaker's state or forced flag: true for every reason but the shadow
// switches (ReasonShadowOn, ReasonShadowOff), and false for the zero or
// an unknown Reason, which no transition carries.
func (r Reason) ChangesState() bool {
	return r != 0 && r < numReasons && r != ReasonShadowOn && r != ReasonShadowOff
}

// String returns the reason in words, such as "failure rate".
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// MarshalText encodes the reason as its String, so JSON shows
// "failure rate".
func (r Reason) MarshalText() ([]byte, error) {
	if int(r) >= len(reasonNames) || reasonNames[r] == "" {
		return nil, fmt.Errorf("tripswitch: unknown reason %d", uint8(r))
	}
	return []byte(reasonNames[r]), nil
}

// UnmarshalText decodes a String of a reason.
func (r *Reason) UnmarshalText(text []byte) error {
	for i, n := range reasonNames {
		if n != "" && n == string(text) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("tripswitch: unknown reason %q", text)
}
