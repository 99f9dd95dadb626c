package cbredis_test

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cbredis"
)

// A shared breaker decides every call locally: with Redis unreachable
// (nothing listens on port 1), calls run and are judged as a local
// breaker's would be, and the fleet is joined when Redis answers.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, ContextTimeoutEnabled: true})
	defer client.Close()
	fleet, err := cbredis.New(client, cbredis.WithWarmStart(0))
	if err != nil {
		panic(err)
	}
	defer fleet.Close()

	payments := cb.MustNew[string]("payments", cb.Config{ConsecutiveFailures: 2})
	if err := fleet.Share(payments); err != nil {
		panic(err)
	}
	receipt, err := payments.Call(func() (string, error) { return "paid", nil })
	fmt.Println(receipt, err, payments.State())
	for range 2 {
		_, _ = payments.Call(func() (string, error) { return "", fmt.Errorf("declined") })
	}
	fmt.Println(payments.State())
	// Output:
	// paid <nil> closed
	// open
}

// Options are checked together, each bad one named in an error that
// matches ErrInvalidOption.
func ExampleNew_badOptions() {
	_, err := cbredis.New(nil, cbredis.WithQuorum(0))
	fmt.Println(err)
	// Output:
	// cbredis: invalid option: client: must not be nil
	// cbredis: invalid option: quorum 0: must be at least 1
}
