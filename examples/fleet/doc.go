// Command fleet shows the replicas of a service sharing one circuit
// breaker through Redis with cbredis: the fleet opens together, probes
// the dependency once per half-open episode, and closes together.
//
// It starts, all on loopback and all stopped before it returns (Ctrl-C
// included):
//
//   - a redis-server of its own (Debian's package, /usr/bin/redis-server;
//     -redis-server names another) on a free port, in a temporary
//     directory, with no persistence;
//   - a flaky HTTP dependency whose phases are, by default, healthy for
//     4 s, down (503 at once) for 6 s, then healthy again for 6 s;
//   - -replicas replica processes (default 4): the command's own binary
//     run again, each with its own go-redis client and its own breaker
//     named "dependency", shared through a cbredis.Fleet of its own. Each
//     calls the dependency every -pace (200ms) and writes what happens
//     to its standard output, as a JSON line per call and per transition
//     and a status line per tick, which the demo reads.
//
// The breaker is sized so that it takes the fleet to open it: its
// MinimumCalls is half as much again as the calls one replica makes in
// the 2 s window, and its consecutive-failure rule is off, so no replica
// alone can trip; the window it judges with the other replicas' counts
// can. When one replica trips, cbredis tells the others at once, and
// they open too. When the open time is over, one replica takes the
// fleet's probe lease and probes (at most HalfOpenMaxCalls, 2, calls for
// the whole fleet); the others stay open until it reopens or closes the
// fleet.
//
// Every -tick (250ms) it prints a line: the dependency's phase, each
// replica's state, the fleet's calls in the tick that reached the
// dependency and that a breaker rejected, and the probes of the latest
// half-open episode fleet-wide; each transition is called out as it
// comes. At the end it prints a summary, phase by phase: when each
// replica opened and closed (and why), who probed in each episode and
// how many calls, then the calls and the syncs with Redis. Its verdict
// sets the exit status: 0 when the fleet opened together (every replica
// within -bound, 1s, of the first), probed at most HalfOpenMaxCalls
// calls in each episode, and closed together, ending closed; 1
// otherwise. A half-open episode is the replicas' half-open periods that
// overlap or follow each other by less than half an open time: a new one
// can only begin a whole open time after the last.
//
// It is in the examples module, not the library's, because cbredis
// brings in go-redis. From the repository's root:
//
//	make demo-fleet
//	cd examples && go run ./fleet [-replicas 4] [-phases healthy=4s,down=6s,healthy=6s]
//	    [-tick 250ms] [-pace 200ms] [-open 2s] [-bound 1s] [-redis-server redis-server]
//
// -h prints the flags.
package main
