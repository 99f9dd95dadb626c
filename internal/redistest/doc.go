// Package redistest runs real redis-server processes for the tests of this
// repository's modules that talk to Redis (cbredis, benchmarks, examples):
// a fake would agree with the code under test about exactly the things a
// test should check, such as how a command behaves when the server hangs
// or comes back empty.
//
// Start runs one server on a free loopback port, in a temporary directory
// and with persistence off, and stops it when the test ends; Kill, Pause,
// Resume and Restart give a test the failures a client must survive.
// StartCluster runs a Redis Cluster of masters only. Server.Do is a small
// RESP client for a test's own assertions (DBSIZE, INFO, MEMORY USAGE), so
// that this package needs nothing but the standard library and the root
// module's go.mod does not grow a Redis client.
//
// A missing redis-server fails the test instead of skipping it: a check
// that could not run must not pass for one that did. On Debian,
// `apt-get install -y redis-server` installs redis-server and redis-cli.
package redistest
