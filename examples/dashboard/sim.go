package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/registry"
)

var errDown = errors.New("dependency failed")

// cycle is the length of every dependency's schedule.
const cycle = time.Minute

// dependency is a simulated dependency: at each moment of its cycle, the
// chance that a call fails and how long a call takes.
type dependency struct {
	name    string
	workers int
	pause   time.Duration
	at      func(t time.Duration) (failure float64, latency time.Duration)
	forced  bool
}

func steady(failure float64, latency time.Duration) func(time.Duration) (float64, time.Duration) {
	return func(time.Duration) (float64, time.Duration) { return failure, latency }
}

var dependencies = []dependency{
	{name: "payments-api", workers: 3, pause: 15 * time.Millisecond, at: steady(0.02, 3*time.Millisecond)},
	{name: "users-db", workers: 4, pause: 8 * time.Millisecond, at: steady(0, time.Millisecond)},
	{name: "inventory-db", workers: 2, pause: 20 * time.Millisecond, at: func(t time.Duration) (float64, time.Duration) {
		if t > 12*time.Second { // down, and staying down
			return 1, 2 * time.Millisecond
		}
		return 0.01, 2 * time.Millisecond
	}},
	{name: "search", workers: 2, pause: 25 * time.Millisecond, at: func(t time.Duration) (float64, time.Duration) {
		if t > 20*time.Second && t < 34*time.Second { // slow for a while
			return 0, 80 * time.Millisecond
		}
		return 0, 5 * time.Millisecond
	}},
	{name: "recommendations", workers: 2, pause: 30 * time.Millisecond, at: steady(0.35, 4*time.Millisecond)},
	{name: "shipping-rates", workers: 1, pause: 50 * time.Millisecond, at: steady(0, 2*time.Millisecond), forced: true},
	{name: "email-sender", workers: 1, pause: 120 * time.Millisecond, at: steady(0, 2*time.Millisecond)},
}

// config is the policy every simulated breaker shares: small numbers, so
// that trips and recoveries happen within seconds.
func config() cb.Config {
	return cb.Config{
		Window:           5 * time.Second,
		MinimumCalls:     20,
		SlowCallDuration: 50 * time.Millisecond,
		OpenTimeout:      3 * time.Second,
		MaxOpenTimeout:   12 * time.Second,
		SuccessThreshold: 2,
		HalfOpenTimeout:  time.Second,
	}
}

// simulate makes the breakers and starts their callers, which stop when
// ctx ends; wg counts them.
func simulate(ctx context.Context, reg *registry.Registry, wg *sync.WaitGroup) error {
	start := time.Now()
	for _, dep := range dependencies {
		b, err := registry.Get[int](reg, dep.name, config())
		if err != nil {
			return err
		}
		if dep.forced {
			b.ForceOpen()
		}
		for range dep.workers {
			wg.Go(func() { call(ctx, b, dep, start) })
		}
	}
	return nil
}

// call calls the dependency through its breaker until ctx ends.
func call(ctx context.Context, b *cb.Breaker[int], dep dependency, start time.Time) {
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
		failure, latency := dep.at(time.Since(start) % cycle)
		b.Execute(func() (int, error) {
			time.Sleep(latency)
			if rand.Float64() < failure {
				return 0, errDown
			}
			return 1, nil
		})
		pause.Reset(dep.pause)
	}
}
