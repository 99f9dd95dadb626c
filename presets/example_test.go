package presets_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/presets"
)

// A preset is a plain cb.Config: change what your service needs (here a
// fake clock, so that the output is exact) and make the breaker.
func ExampleAPI() {
	clk := cbtest.NewClock()
	cfg := presets.API()
	cfg.Clock = clk
	weather := cb.MustNew[string]("weather-api", cfg)

	for range 5 {
		weather.Execute(func() (string, error) { return "", errors.New("502 bad gateway") })
	}
	_, res := weather.Execute(func() (string, error) { return "sunny", nil })
	fmt.Println(res.Outcome, res.RetryAfter)

	clk.Advance(time.Minute)
	for range 3 {
		weather.Execute(func() (string, error) { return "sunny", nil })
	}
	fmt.Println(weather.State())
	// Output:
	// rejected 1m0s
	// closed
}

// NewDatabase makes a breaker with the Database preset as it is: two
// failed queries in a row open it.
func ExampleNewDatabase() {
	type user struct{ name string }
	users := presets.NewDatabase[*user]("users-db")

	errConn := errors.New("connection refused")
	for range 2 {
		_, res := users.Execute(func() (*user, error) { return nil, errConn })
		fmt.Println(res.Outcome, users.State())
	}
	u, res := users.Execute(func() (*user, error) { return &user{"Ada"}, nil })
	fmt.Println(u == nil, errors.Is(res.Err, cb.ErrOpen))
	// Output:
	// failure closed
	// failure open
	// true true
}

// With the Database preset, errors the caller caused should not count
// against the database: give it an IsFailure.
func ExampleDatabase() {
	errNoRows := errors.New("no rows in result set")
	cfg := presets.Database()
	cfg.IsFailure = func(err error) bool { return err != nil && !errors.Is(err, errNoRows) }
	cfg.Clock = cbtest.NewClock()
	orders := cb.MustNew[int]("orders-db", cfg)

	for range 3 {
		_, res := orders.Execute(func() (int, error) { return 0, errNoRows })
		fmt.Println(res.Outcome, res.Err)
	}
	fmt.Println(orders.State())
	// Output:
	// success no rows in result set
	// success no rows in result set
	// success no rows in result set
	// closed
}

// The Network preset rides out transient loss: two timeouts in a row are
// not enough to open it, a third is.
func ExampleNetwork() {
	cfg := presets.Network()
	cfg.Clock = cbtest.NewClock()
	broker := cb.MustNew[struct{}]("broker", cfg)

	errTimeout := errors.New("i/o timeout")
	for i := range 3 {
		broker.Execute(func() (struct{}, error) { return struct{}{}, errTimeout })
		fmt.Println(i+1, broker.State())
	}
	// Output:
	// 1 closed
	// 2 closed
	// 3 open
}

// NewNetwork passes options through, such as a classifier for results that
// carry their own failure.
func ExampleNewNetwork() {
	type reply struct{ ok bool }
	nack := cb.WithClassifier(func(r reply, err error) cb.Outcome {
		if err != nil || !r.ok {
			return cb.Failure
		}
		return cb.Success
	})
	peer := presets.NewNetwork("peer", nack)
	for range 3 {
		peer.Execute(func() (reply, error) { return reply{ok: false}, nil })
	}
	fmt.Println(peer.State())
	// Output:
	// open
}

// NewAPI makes a breaker with the API preset as it is.
func ExampleNewAPI() {
	quotes := presets.NewAPI[float64]("quotes-api")
	v, res := quotes.Execute(func() (float64, error) { return 101.25, nil })
	fmt.Println(v, res.Outcome, quotes.Name())
	// Output:
	// 101.25 success quotes-api
}
