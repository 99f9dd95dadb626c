package main

import (
	"fmt"

	"github.com/tripswitch/tripswitch/examples/internal/phases"
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

// schedule is the dependency's phases, in order.
type schedule = phases.Schedule[behaviour]

// parseSchedule reads "healthy=4s,down=6s,...": each phase a known
// behaviour and a positive duration.
func parseSchedule(s string) (schedule, error) { return phases.Parse(s, behaviourNames) }
