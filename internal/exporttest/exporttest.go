package exporttest

import (
	"context"
	"errors"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/registry"
)

// The breakers Script leaves in reg, each in a state of its own.
const (
	// Users went through a whole cycle: successes, a slow call, an
	// ignored call, a trip by consecutive failures with a call out that
	// came back stale, rejections while open, a probe after the open
	// timeout that closed it; then a mixed window of four calls.
	Users = "users-db"
	// Search is held open by ForceOpen.
	Search = "search"
	// Payments tripped on one failure and is open, PaymentsRetryAfter to
	// go.
	Payments = "payments"
	// Inventory is half-open with one probe out.
	Inventory = "inventory"
	// Idle has seen no call.
	Idle = "idle"
)

// Names lists the breakers Script makes, sorted.
var Names = []string{Idle, Inventory, Payments, Search, Users}

// Users' figures after Script.
const (
	UsersSuccesses   = 8 // 3, the slow one, the probe, 3 in the last window
	UsersFailures    = 3 // 2 that tripped, 1 in the last window
	UsersIgnored     = 1
	UsersRejected    = 2
	UsersStale       = 1
	UsersSlow        = 2 // one before the trip, one in the last window
	UsersWindowCalls = 4 // closing emptied the window: 3 successes (1 slow) and 1 failure since
)

// PaymentsRetryAfter is Payments' time until a probe after Script: its
// 30 s open timeout less the 6 s the clock moved since it tripped.
const PaymentsRetryAfter = 24 * time.Second

var errDown = errors.New("dependency down")

// Script makes the breakers named above in reg, all on clock, and drives
// them as their docs say. It returns the half-open probe's permit, still
// out: a test that wants Inventory's episode to end calls Done on it.
func Script(reg *registry.Registry, clock *cbtest.Clock) *cb.Permit[int] {
	ok := func() (int, error) { return 1, nil }
	fail := func() (int, error) { return 0, errDown }
	slow := func() (int, error) { clock.Advance(2 * time.Second); return 1, nil }

	users := must(registry.Get[int](reg, Users, cb.Config{
		ConsecutiveFailures: 2, FailureRateThreshold: cb.Off, SlowCallRateThreshold: cb.Off,
		SlowCallDuration: time.Second, OpenTimeout: 10 * time.Second, SuccessThreshold: 1,
		Window: time.Minute, Clock: clock,
	}))
	for range 3 {
		users.Execute(ok)
	}
	users.Execute(slow)
	users.Execute(func() (int, error) { return 0, context.Canceled })
	out, err := users.Allow() // admitted while closed; comes back after the trip
	if err != nil {
		panic(err)
	}
	users.Execute(fail)
	users.Execute(fail) // trips: consecutive failures
	out.Done(1, nil)    // stale
	users.Execute(ok)   // rejected
	users.Execute(ok)   // rejected
	clock.Advance(10 * time.Second)
	users.Execute(ok) // the probe: closes, empties the window
	users.Execute(ok)
	users.Execute(slow)
	users.Execute(fail)
	users.Execute(ok)

	search := must(registry.Get[int](reg, Search, cb.Config{Clock: clock}))
	search.ForceOpen()

	payments := must(registry.Get[int](reg, Payments, cb.Config{ConsecutiveFailures: 1, OpenTimeout: 30 * time.Second, Clock: clock}))
	payments.Execute(fail)
	clock.Advance(5 * time.Second)

	// HalfOpenTimeout is long so that a test may move the clock on without
	// failing the episode.
	inventory := must(registry.Get[int](reg, Inventory, cb.Config{
		ConsecutiveFailures: 1, OpenTimeout: time.Second, HalfOpenTimeout: time.Hour, Clock: clock,
	}))
	inventory.Execute(fail)
	clock.Advance(time.Second)
	probe, err := inventory.Allow()
	if err != nil {
		panic(err)
	}

	must(registry.Get[int](reg, Idle, cb.Config{Clock: clock}))
	return &probe
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
