package cb_test

// Examples of the package documentation, each with its output checked.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// The examples run on a fake clock so that their output is exact; in
// production leave Config.Clock nil (or share a CoarseClock).

type exampleUser struct {
	ID   int
	Name string
}

// Execute returns fn's value with its own type, and what the breaker made
// of the call.
func ExampleBreaker_Execute() {
	b := cb.MustNew[*exampleUser]("users-db", cb.Config{ConsecutiveFailures: 2, Clock: cbtest.NewClock()})

	u, res := b.Execute(func() (*exampleUser, error) { return &exampleUser{ID: 7, Name: "Ada"}, nil })
	fmt.Println(u.Name, res.Outcome, res.State)

	errDown := errors.New("db down")
	for range 2 {
		_, res = b.Execute(func() (*exampleUser, error) { return nil, errDown })
		fmt.Println(res.Outcome, res.Err)
	}

	u, res = b.Execute(func() (*exampleUser, error) { return &exampleUser{ID: 8}, nil })
	fmt.Println(u == nil, res.Outcome, errors.Is(res.Err, cb.ErrOpen), res.RetryAfter)
	// Output:
	// Ada success closed
	// failure db down
	// failure db down
	// true rejected true 1m0s
}

// Call returns what fn returns; rejected, an error matching ErrOpen.
func ExampleBreaker_Call() {
	clk := cbtest.NewClock()
	prices := cb.MustNew[float64]("prices", cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, Clock: clk})

	price, err := prices.Call(func() (float64, error) { return 9.99, nil })
	fmt.Println(price, err)

	_, err = prices.Call(func() (float64, error) { return 0, errors.New("prices: timeout") })
	fmt.Println(err)

	_, err = prices.Call(func() (float64, error) { return 1, nil })
	fmt.Println(errors.Is(err, cb.ErrOpen), err)
	// Output:
	// 9.99 <nil>
	// prices: timeout
	// true tripswitch: circuit "prices" is open
}

// ExecuteContext passes ctx to fn. A context already done is refused
// before admission, and a call the caller cancelled is not held against
// the dependency; a deadline exceeded is.
func ExampleBreaker_ExecuteContext() {
	b := cb.MustNew[string]("search", cb.Config{Clock: cbtest.NewClock()})
	search := func(ctx context.Context) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return "3 results", nil
	}

	v, res := b.ExecuteContext(context.Background(), search)
	fmt.Println(v, res.Outcome)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, res = b.ExecuteContext(ctx, search)
	fmt.Println(res.Outcome, res.Err)

	_, res = b.ExecuteContext(context.Background(), func(context.Context) (string, error) {
		return "", context.DeadlineExceeded
	})
	fmt.Println(res.Outcome, res.Err)

	m := b.Metrics()
	fmt.Println(m.TotalCalls, m.TotalFailures, m.TotalIgnored)
	// Output:
	// 3 results success
	// ignored context canceled
	// failure context deadline exceeded
	// 2 1 1
}

// Allow and Done guard calls that cannot be wrapped in a function, such as
// a response handled by a callback.
func ExampleBreaker_Allow() {
	b := cb.MustNew[int]("payments", cb.Config{ConsecutiveFailures: 1, Clock: cbtest.NewClock()})

	p, err := b.Allow()
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	status := 503 // the call's result, some time later
	var callErr error
	if status >= 500 {
		callErr = errors.New("status " + strconv.Itoa(status))
	}
	p.Done(status, callErr)

	_, err = b.Allow()
	fmt.Println(err)
	var oe *cb.OpenError
	if errors.As(err, &oe) {
		fmt.Println(oe.Name, oe.State)
	}
	// Output:
	// tripswitch: circuit "payments" is open
	// payments open
}

// A test drives the breaker's time with a cbtest.Clock: trip it, let the
// open time pass, probe, close.
func Example_fakeClock() {
	clk := cbtest.NewClock()
	b := cb.MustNew[int]("inventory", cb.Config{
		Clock:               clk,
		ConsecutiveFailures: 3,
		OpenTimeout:         30 * time.Second,
		SuccessThreshold:    2,
		OnStateChange: func(t cb.Transition) {
			fmt.Printf("  %s: %s -> %s (%s)\n", t.Name, t.From, t.To, t.Reason)
		},
	})
	fail := func() (int, error) { return 0, errors.New("timeout") }
	ok := func() (int, error) { return 1, nil }

	fmt.Println("three failures:")
	for range 3 {
		b.Execute(fail)
	}

	clk.Advance(10 * time.Second)
	_, res := b.Execute(ok)
	fmt.Println("after 10s:", res.Outcome, "retry after", res.RetryAfter)

	clk.Advance(20 * time.Second)
	fmt.Println("after 30s:")
	fmt.Println(b.State())

	b.Execute(ok)
	fmt.Println("one probe succeeded:", b.State())
	fmt.Println("second probe:")
	b.Execute(ok)
	m := b.Metrics()
	fmt.Println(m.State, m.Calls, m.TotalCalls, m.TotalRejected)
	// Output:
	// three failures:
	//   inventory: closed -> open (consecutive failures)
	// after 10s: rejected retry after 20s
	// after 30s:
	//   inventory: open -> half-open (open timeout elapsed)
	// half-open
	// one probe succeeded: half-open
	// second probe:
	//   inventory: half-open -> closed (probes succeeded)
	// closed 0 5 1
}

// New reports every fault of a Config, naming the field and the value.
func ExampleNew() {
	_, err := cb.New[int]("api", cb.Config{FailureRateThreshold: 1.5, HalfOpenMaxCalls: 1, SuccessThreshold: 2})
	fmt.Println(errors.Is(err, cb.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// tripswitch: invalid config: FailureRateThreshold = 1.5: must be in (0,1] or Off
	// tripswitch: invalid config: HalfOpenMaxCalls = 1: must be at least SuccessThreshold (2), or a half-open breaker could never close
}

// A CoarseClock makes clock readings a single atomic load on hot paths.
// Share one among the breakers of a process and Stop it when done.
func ExampleCoarseClock() {
	clk, err := cb.NewCoarseClock(time.Millisecond)
	if err != nil {
		panic(err)
	}
	defer clk.Stop()

	b := cb.MustNew[string]("hot", cb.Config{Clock: clk, SlowCallDuration: cb.Off})
	v, res := b.Execute(func() (string, error) { return "pong", nil })
	fmt.Println(v, res.Outcome, clk.Resolution())

	_, err = cb.NewCoarseClock(0)
	fmt.Println(errors.Is(err, cb.ErrInvalidConfig))
	// Output:
	// pong success 1ms
	// true
}
