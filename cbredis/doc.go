// Package cbredis shares circuit breakers across the replicas of a
// service through Redis: the fleet opens together, probes the dependency
// once per half-open episode, and closes together. Every call is still
// decided by the local breaker, lock-free and without I/O; Redis is a
// shared, eventually consistent view that a background syncer keeps the
// breaker in step with.
//
//	client := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	fleet, err := cbredis.New(client)          // one per process
//	...
//	defer fleet.Close()
//	b := cb.MustNew[*Reply]("payments", cfg)
//	err = fleet.Share(b)                        // the same name on every replica
//
// The client may be any redis.UniversalClient: a single server, a
// Sentinel failover client or a Cluster client, with ContextTimeoutEnabled
// set, so that each round trip ends at the sync's deadline (New refuses a
// go-redis client without it).
//
// # What is shared
//
// Counts. Every interval (default 200ms, never shorter than a bucket of the
// breaker's window) each replica writes the outcomes its breaker counted
// since its last sync into the bucket of the fleet's window that the
// Redis server's clock is in, and reads back the whole fleet's window
// less its own part. The breaker's rate rules judge its local window and
// the fleet's together (cb.FleetLink), when failures or slow calls came
// from at least Quorum distinct replicas (WithQuorum, default 2): one
// sick replica cannot open the breaker for all, though its own rules
// still open its own. Such a trip carries cb.ReasonFleetFailureRate or
// cb.ReasonFleetSlowCallRate. The rules judge after each local failure or
// slow call, as always, and once more as each sync hands them a fresh
// fleet window, so a replica that sees no failure of its own still opens
// within one interval of the fleet's window crossing its threshold.
//
// A count window (Config.WindowCalls) shares no counts: the last N calls
// of one replica and the last N of another cover no common span. Its
// transitions and the probe lease are shared all the same.
//
// Transitions. A trip is written to the breaker's state record in Redis
// with a generation compare-and-set, and published; every replica adopts
// it (cb.ReasonFleetOpened) with the open time the record has left, as
// measured by the Redis server's clock, never with another host's wall
// clock deadline. The trips the fleet shares: consecutive failures, a
// fleet-rate trip, a TripRule trip, and the outcome of a fleet episode's
// probes (reopened, with the backoff step, or closed: cb.ReasonFleetClosed
// on the others). A trip on one replica's window alone, without the
// quorum, and the Force methods and Reset act on that replica only.
//
// Probes. When a fleet-wide open time is over, the replicas ask for the
// episode's probe lease; one gets it and probes, with HalfOpenMaxCalls
// permits as usual, so the fleet sends HalfOpenMaxCalls probes per
// episode, not that many per replica. The others stay open, rejecting
// with RetryAfter the lease's time left, until the probing replica
// announces the outcome. The lease lasts HalfOpenTimeout and is renewed
// while a probe is out; a replica that took it and died frees it when it
// lapses. Between the end of the open time and the answer to the lease
// request (one round trip) calls are rejected with RetryAfter 0.
//
// # Staleness
//
// A replica's view of the fleet's counts is at most one interval old,
// plus the round trip. An announced transition reaches the others at
// once through pub/sub; a lost message is made up by the next periodic
// read, so a trip reaches every replica within one interval plus a round
// trip. A replica that starts, or restarts, while the fleet is open reads
// the record before Share returns (bounded by WithWarmStart, default 1s)
// and starts open.
//
// # Clocks
//
// Bucket numbers and deadlines come from the Redis server's clock (TIME)
// inside the scripts, and every replica adopts durations, so skew between
// the replicas' clocks does not matter at all. All keys of one breaker
// live on one server (one Cluster slot), so one clock orders them. A
// failover to a replica server whose clock differs by d moves the fleet's
// bucket boundaries and open deadlines by d; keep servers' clocks within
// a bucket of each other (NTP does far better).
//
// # When Redis fails
//
// Redis slow, hung, down or unreachable never blocks a call and never
// fails one: the call path does not touch the network. Every round trip
// has a deadline (WithTimeout, default the interval); the syncer backs off
// (doubling from the interval up to WithMaxBackoff, default 2s, but never
// past the end of a breaker's window). Until one
// window has passed without a successful sync, the breaker keeps the last
// fleet window it read and the hold on probing (an open time that ends
// meanwhile waits for the lease it cannot get). After a whole window
// without a sync, the breaker is exactly a local breaker again: no fleet
// window, no hold. When Redis answers again it rejoins by itself: it
// adopts the record, and an episode it ran alone stays its own. A server
// that comes back empty (no persistence) while the fleet is open is given
// the record back by the first replica that syncs while open or probing
// for the fleet, under a generation no replica knew. What a replica sent
// in a sync whose reply was lost may or may not have been counted: it is
// left out of the fleet's window as that replica sees it until it ages
// out, so a replica never counts its own outcomes twice (the fleet
// undercounts instead, by at most what that sync carried). Each breaker
// backs off on its own failures, so a Cluster node that is down slows
// none of the breakers on the others. Health reports the
// last successful sync, the errors, and whether a breaker is degraded.
//
// # Keys, load and scale
//
// A breaker named name keeps its keys under prefix:{name} (WithPrefix,
// default "tripswitch"; the name escaped so that '{', '}', ':', '%',
// spaces and control characters cannot break the hash tag): the record
// (:state, a small hash), the probe lease (:lease, while an episode runs),
// the failure reporters (:rep:G, a sorted set) and the window (:w:G, one
// hash of four counters per bucket: buckets are deleted as they leave the
// window, and the hash expires with its newest bucket, so one read serves
// a whole window), G being the closed generation the counts belong to, so
// a fleet-wide close starts a fresh window. Each
// replica makes one round trip per interval for all the breakers it
// shares (one EVALSHA per breaker, pipelined; per node on a Cluster), so
// a replica sharing B breakers at interval I sends B/I commands a second.
//
// A malformed or foreign value at a key is ignored and counted in
// Health().Malformed: never a panic, never a trip. The next transition a
// replica writes replaces a bad record.
//
// # Closing
//
// Close stops the syncer and its subscription and makes every shared
// breaker local again; it leaves no goroutine behind. It does not close
// the client. Unshare does the same for one breaker.
//
// # Plugging in another store
//
// Everything this package does to a breaker goes through cb.FleetLink:
// read Totals and write the differences, hand back the fleet's window with
// SetWindow, hear transitions with Subscribe and write the shared ones,
// adopt the others' with AdoptOpen and AdoptClosed, and hold probing with
// HoldProbes until GrantProbes. A sharer on NATS or etcd would do the
// same against its own store.
package cbredis
