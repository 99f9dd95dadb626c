package cb

import (
	"fmt"
	"time"
)

// State is the position of a breaker in its cycle.
type State uint8

// The states. The zero State is Closed.
const (
	Closed   State = iota // calls run; outcomes are counted
	Open                  // calls are rejected until the open timeout passes
	HalfOpen              // a limited number of probe calls decide
)

var stateNames = [...]string{"closed", "open", "half-open"}

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText encodes the state as its String, so JSON shows "open".
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("tripswitch: unknown state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText decodes a String of a state.
func (s *State) UnmarshalText(text []byte) error {
	for i, n := range stateNames {
		if n == string(text) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("tripswitch: unknown state %q", text)
}

// Outcome is what became of one call.
type Outcome uint8

// The outcomes. Only Success and Failure are counted in the window.
const (
	Success  Outcome = iota // counted as a success
	Failure                 // counted as a failure (panics included)
	Ignored                 // not counted: e.g. the caller cancelled it
	Rejected                // not run: the breaker refused it
)

var outcomeNames = [...]string{"success", "failure", "ignored", "rejected"}

// String returns "success", "failure", "ignored" or "rejected".
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// MarshalText encodes the outcome as its String.
func (o Outcome) MarshalText() ([]byte, error) {
	if int(o) >= len(outcomeNames) {
		return nil, fmt.Errorf("tripswitch: unknown outcome %d", uint8(o))
	}
	return []byte(outcomeNames[o]), nil
}

// Circuit is what every Breaker[T] offers whatever its T, for code that
// manages breakers of several result types (such as a registry).
type Circuit interface {
	Name() string
	State() State
	Metrics() Metrics
	ForceOpen()
	ForceClosed()
	ForceHalfOpen()
	Reset()
	Subscribe(f func(Transition)) (unsubscribe func())
	Created() time.Time
	Config() Config
	Reconfigure(cfg Config) error
	FleetLink() FleetLink
}

var _ Circuit = (*Breaker[int])(nil)

// State returns the state as of now, making the transition an elapsed open
// timeout calls for (so OnStateChange may run inside State).
func (b *core) State() State {
	w := b.load()
	if w.state() == Closed {
		return Closed
	}
	return b.catchUp(b.now(), b.pol.Load()).public()
}
