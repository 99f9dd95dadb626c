package presets

import (
	"time"

	"github.com/tripswitch/tripswitch/cb"
)

// API is for calls to remote HTTP or RPC services, such as a partner's API
// or another team's service: a dependency that fails partially and
// recovers slowly. Five failures in a row, or half of the last 100 calls
// (once 10 are in), trip it: scattered errors from a large service are
// normal and should not. It then stays open a full minute, because a
// remote service in trouble (overloaded, rate-limiting, mid-deploy) is
// helped most by less traffic and rarely recovers in seconds, and it
// closes after 3 successful probes, since one success from a service
// behind a load balancer may have come from its one healthy instance. A
// call is slow past 5s, well beyond a healthy API's latency.
func API() cb.Config {
	return cb.Config{
		ConsecutiveFailures:  5,
		SuccessThreshold:     3,
		OpenTimeout:          60 * time.Second,
		WindowCalls:          100,
		MinimumCalls:         10,
		FailureRateThreshold: 0.5,
		SlowCallDuration:     5 * time.Second,
	}
}

// Database is for a database or another stateful store the service cannot
// work without, reached through a connection pool. Such a dependency
// usually fails whole (down, failing over, out of connections), so two
// failures in a row trip it, sparing the pool calls that would each wait
// out a timeout. It probes after 20s, about the time a failover takes, and
// one successful query closes it: a query that succeeds proves the
// connection and the server. A query is slow past 2s, which for an indexed
// query means locks or overload.
//
// Its rate rule (70% of the last 30 calls, once 3 are in) is a backstop:
// no failure rate that high can build up without two failures in a row,
// which trip the breaker first. It decides only if you raise
// ConsecutiveFailures or set it to cb.Off, for a database whose failures
// come mixed with successes (one bad replica behind a pool, say).
//
// With the default classification every error is a failure; give
// Config.IsFailure a function that passes over errors the caller caused
// (no rows, a constraint violated), or they count against the database.
func Database() cb.Config {
	return cb.Config{
		ConsecutiveFailures:  2,
		SuccessThreshold:     1,
		OpenTimeout:          20 * time.Second,
		WindowCalls:          30,
		MinimumCalls:         3,
		FailureRateThreshold: 0.7,
		SlowCallDuration:     2 * time.Second,
	}
}

// Network is for lower-level network dependencies: raw TCP or UDP
// connections, message brokers, caches, DNS, links to another region.
// Transient loss is normal on them, so it takes three failures in a row,
// or 60% of the last 50 calls (once 5 are in), to trip it. It probes after
// 30s, long enough for routes to converge or a peer to restart, and needs
// two successful probes to close, since a single packet getting through
// proves little on a flapping link. A call is slow only past 10s: a
// connection setup with retransmissions, or a large transfer, can
// legitimately take seconds.
func Network() cb.Config {
	return cb.Config{
		ConsecutiveFailures:  3,
		SuccessThreshold:     2,
		OpenTimeout:          30 * time.Second,
		WindowCalls:          50,
		MinimumCalls:         5,
		FailureRateThreshold: 0.6,
		SlowCallDuration:     10 * time.Second,
	}
}

// NewAPI returns a breaker named name with the API preset. To change the
// preset first, use cb.New with API() instead.
func NewAPI[T any](name string, opts ...cb.Option[T]) *cb.Breaker[T] {
	return cb.MustNew(name, API(), opts...)
}

// NewDatabase returns a breaker named name with the Database preset. To
// change the preset first, use cb.New with Database() instead.
func NewDatabase[T any](name string, opts ...cb.Option[T]) *cb.Breaker[T] {
	return cb.MustNew(name, Database(), opts...)
}

// NewNetwork returns a breaker named name with the Network preset. To
// change the preset first, use cb.New with Network() instead.
func NewNetwork[T any](name string, opts ...cb.Option[T]) *cb.Breaker[T] {
	return cb.MustNew(name, Network(), opts...)
}
