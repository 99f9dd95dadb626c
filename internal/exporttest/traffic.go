package exporttest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// ReasonLabels is, written out, the label value of every reason a
// transitions series carries: the documented names, restated here so
// that a change in cb's words shows up as a failing test rather than as
// renamed series. The shadow switches are not transitions.
var ReasonLabels = map[cb.Reason]string{
	cb.ReasonConsecutiveFailures: "consecutive_failures",
	cb.ReasonFailureRate:         "failure_rate",
	cb.ReasonSlowCallRate:        "slow_call_rate",
	cb.ReasonOpenTimeout:         "open_timeout_elapsed",
	cb.ReasonProbeFailed:         "probe_failed",
	cb.ReasonProbeSlow:           "probe_slow",
	cb.ReasonHalfOpenTimeout:     "half_open_timeout",
	cb.ReasonProbesSucceeded:     "probes_succeeded",
	cb.ReasonForcedOpen:          "forced_open",
	cb.ReasonForcedClosed:        "forced_closed",
	cb.ReasonForcedHalfOpen:      "forced_half_open",
	cb.ReasonReset:               "reset",
	cb.ReasonTripRule:            "trip_rule",
	cb.ReasonFleetFailureRate:    "fleet_failure_rate",
	cb.ReasonFleetSlowCallRate:   "fleet_slow_call_rate",
	cb.ReasonFleetOpened:         "fleet_opened",
	cb.ReasonFleetClosed:         "fleet_closed",
}

// StateLabels is the label value of each state.
var StateLabels = map[cb.State]string{cb.Closed: "closed", cb.Open: "open", cb.HalfOpen: "half_open"}

// Stable reports whether a breaker named name lives through Traffic; the
// others come and go, so their counters start over.
func Stable(name string) bool { return strings.HasPrefix(name, "dep-") }

// Traffic starts calls through six stable breakers of reg, on three
// goroutines that move clock on as they go so the breakers trip, wait and
// probe, and a fourth that makes and removes other breakers. Each caller
// makes at least calls calls and goes on, up to 20 times as many, until
// enough reports true, so that traffic and the readers overlap however
// fast either runs. The returned channel is closed when all of it is
// done; time then stands still, so a last reading can be compared
// exactly.
func Traffic(reg *registry.Registry, clock *cbtest.Clock, calls int, enough func() bool) <-chan struct{} {
	cfg := cb.Config{ConsecutiveFailures: 3, OpenTimeout: 5 * time.Millisecond, WindowCalls: 20, SuccessThreshold: 1, Clock: clock}
	stable := make([]*cb.Breaker[int], 6)
	for i := range stable {
		stable[i] = must(registry.Get[int](reg, fmt.Sprintf("dep-%d", i), cfg))
	}
	var traffic sync.WaitGroup
	for w := range 3 {
		traffic.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; i < 20*calls && (i < calls || !enough()); i++ {
				if i%50 == 0 {
					clock.Advance(time.Millisecond)
				}
				fail := rng.IntN(3) == 0
				stable[rng.IntN(len(stable))].Execute(func() (int, error) {
					if fail {
						return 0, errDown
					}
					return 1, nil
				})
			}
		})
	}
	traffic.Go(func() {
		for i := range calls / 10 {
			name := fmt.Sprintf("churn-%d", i%5)
			if b, err := registry.Get[int](reg, name, cfg); err == nil {
				b.Execute(func() (int, error) { return 1, nil })
			}
			reg.Remove(name)
		}
	})
	done := make(chan struct{})
	go func() { traffic.Wait(); close(done) }()
	return done
}
