// Package benchmarks measures tripswitch against the circuit breakers Go
// services use today, side by side in one run, so that anyone can repeat
// the comparison.
//
// It is a module of its own (with a replace directive to the repository
// root), so the peers never enter the library's go.mod.
//
// # Libraries
//
// Libs lists every library in the comparison, each adapted to one shape,
// Breaker, and configured as close as it allows to one common policy:
// a rolling window of about 10 s, at least 100 calls in it, trip at a 50%
// failure rate, 60 s open, 3 probes when half-open. Each library's config
// is written next to its adapter (libs.go), with a comment saying what
// could not be matched. Two floors frame the numbers: a plain call of the
// protected function, and one atomic add on a counter every goroutine
// shares.
//
// # Scenarios
//
// Every Scenario runs with b.ReportAllocs in each of its Modes: one
// goroutine (b.Loop), and b.RunParallel at parallelism 1 and 8, which
// make run with -cpu 1,2. The benchmarks are named
//
//	Benchmark<Scenario>/lib=<library>/mode=<mode>[-GOMAXPROCS]
//
// so benchstat can group them by any of the three keys. A benchmark that
// sees its breaker reject a call when it should be closed, or admit one
// when it should be open, fails instead of reporting a number.
//
// # Fleet breakers
//
// Breakers whose state every instance of a service shares through Redis
// are measured apart from the scenarios (fleet_bench_test.go), against a
// real redis-server that each benchmark starts. RedisStore is the Redis
// store of gobreaker's DistributedCircuitBreaker there.
//
// cmd/chart turns the output of `make bench` into the SVG chart, the
// tables and the goal table of README.md.
package benchmarks
