package main

import (
	"fmt"
	"strings"
	"time"
)

// behaviour is what the dependency does during a phase.
type behaviour int

const (
	healthy behaviour = iota // answers 200 at once
	down                     // answers 503 at once
)

var behaviourNames = map[string]behaviour{"healthy": healthy, "down": down}

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

// parseSchedule reads "healthy=4s,down=6s,healthy=6s": each phase a known
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
			return nil, fmt.Errorf("phase %q: unknown behaviour %q (healthy, down)", item, name)
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

// index returns the number of the phase at elapsed time t: the first
// before the start, the last past the end.
func (s schedule) index(t time.Duration) int {
	for i, p := range s {
		if t < p.dur {
			return i
		}
		t -= p.dur
	}
	return len(s) - 1
}

// at returns the behaviour at elapsed time t.
func (s schedule) at(t time.Duration) behaviour { return s[s.index(t)].kind }

// bounds returns when phase i starts and ends.
func (s schedule) bounds(i int) (start, end time.Duration) {
	for _, p := range s[:i] {
		start += p.dur
	}
	return start, start + s[i].dur
}
