package phases

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Phase is one stretch of a schedule: behaviour Kind for Dur.
type Phase[B any] struct {
	Kind B
	Dur  time.Duration
}

// Schedule is a dependency's phases, in order.
type Schedule[B any] []Phase[B]

// Parse reads "name=duration,..." into a schedule, each name one of
// names and each duration positive.
func Parse[B any](s string, names map[string]B) (Schedule[B], error) {
	var out Schedule[B]
	for item := range strings.SplitSeq(s, ",") {
		name, dur, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("phase %q: want name=duration", item)
		}
		kind, known := names[name]
		if !known {
			return nil, fmt.Errorf("phase %q: unknown behaviour %q (%s)", item, name,
				strings.Join(slices.Sorted(maps.Keys(names)), ", "))
		}
		d, err := time.ParseDuration(dur)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("phase %q: want a positive duration", item)
		}
		out = append(out, Phase[B]{kind, d})
	}
	return out, nil
}

// Total is the length of the whole schedule.
func (s Schedule[B]) Total() time.Duration {
	var t time.Duration
	for _, p := range s {
		t += p.Dur
	}
	return t
}

// Index returns the number of the phase at elapsed time t: the first
// before the start, the last past the end.
func (s Schedule[B]) Index(t time.Duration) int {
	for i, p := range s {
		if t < p.Dur {
			return i
		}
		t -= p.Dur
	}
	return len(s) - 1
}

// At returns the behaviour at elapsed time t (the last phase's past the
// end).
func (s Schedule[B]) At(t time.Duration) B { return s[s.Index(t)].Kind }

// Bounds returns when phase i starts and ends.
func (s Schedule[B]) Bounds(i int) (start, end time.Duration) {
	for _, p := range s[:i] {
		start += p.Dur
	}
	return start, start + s[i].Dur
}
