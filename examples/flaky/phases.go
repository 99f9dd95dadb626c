package main

import (
	"fmt"
	"strings"
	"time"
)

// behaviour is what the dependency does during a phase.
type behaviour int

const (
	healthy    behaviour = iota // answers 200 at once
	failing                     // answers 500 at once
	slow                        // answers 200 after the configured latency
	recovering                  // answers 200 at once, like healthy
)

var behaviourNames = map[string]behaviour{
	"healthy": healthy, "failing": failing, "slow": slow, "recovering": recovering,
}

func (b behaviour) String() string {
	for name, v := range behaviourNames {
		if v == b {
			return name
		}
	}
	return fmt.Sprintf("behaviour(%d)", int(b))
}

// phase is one stretch of the schedule.
type phase struct {
	kind behaviour
	dur  time.Duration
}

// schedule is the dependency's phases, in order.
type schedule []phase

// parseSchedule reads "healthy=4s,failing=5s,...": each phase a known
// behaviour and a positive duration.
func parseSchedule(s string) (schedule, error) {
	var out schedule
	for item := range strings.SplitSeq(s, ",") {
		name, dur, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("phase %q: want name=duration", item)
		}
		kind, known := behaviourNames[name]
		if !known {
			return nil, fmt.Errorf("phase %q: unknown behaviour %q (healthy, failing, slow, recovering)", item, name)
		}
		d, err := time.ParseDuration(dur)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("phase %q: want a positive duration", item)
		}
		out = append(out, phase{kind, d})
	}
	return out, nil
}

// total is the length of the whole schedule.
func (s schedule) total() time.Duration {
	var t time.Duration
	for _, p := range s {
		t += p.dur
	}
	return t
}

// at returns the behaviour at elapsed time t (the last phase's past the
// end).
func (s schedule) at(t time.Duration) behaviour {
	for _, p := range s {
		if t < p.dur {
			return p.kind
		}
		t -= p.dur
	}
	return s[len(s)-1].kind
}
