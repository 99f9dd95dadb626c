// Package cbtest helps test code that uses tripswitch breakers.
//
// Clock is a fake cb.Clock that moves only when told, so every timeout,
// bucket rotation and slow call in a test happens at an exact, chosen
// instant, with no sleeps:
//
//	clk := cbtest.NewClock()
//	b := cb.MustNew[string]("api", cb.Config{Clock: clk, OpenTimeout: time.Second})
//	// ... trip it ...
//	clk.Advance(time.Second) // b.State() is now cb.HalfOpen
//
// A Clock is safe for concurrent use: stress tests may advance it from a
// driver goroutine while others call the breaker.
package cbtest
