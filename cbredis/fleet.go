package cbredis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/atomic"

	"github.com/tripswitch/tripswitch/cb"
)

// Fleet shares breakers with the other replicas of a service through one
// Redis deployment. Make one per process with New, Share each breaker
// that guards a dependency the replicas have in common, and Close it when
// the process stops. Its methods are safe for concurrent use.
type Fleet struct {
	client redis.UniversalClient
	o      options

	mu      sync.Mutex
	members map[string]*member
	closed  bool

	joins  chan *member
	leaves chan *member
	events chan event
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	start  time.Time // the origin of the members' schedules
	ps     *redis.PubSub
	reader sync.WaitGroup

	lastSync  atomic.Int64 // Unix nanoseconds
	syncs     atomic.Uint64
	errs      atomic.Uint64
	malformed atomic.Uint64
	dropped   atomic.Uint64
	degraded  atomic.Int64
}

// event is a transition a shared breaker made, queued for the syncer.
type event struct {
	m  *member
	tr cb.Transition
}

// New starts a Fleet on client, which may be a single server's client, a
// Sentinel failover client or a Cluster client. The client must have
// ContextTimeoutEnabled set: without it go-redis bounds a command by its
// ReadTimeout and WriteTimeout alone (5s by default), not by the sync
// timeout, and a hung server would hold every round that long. Bad options
// give an error matching ErrInvalidOption. New does not talk to Redis:
// Share's warm start does.
func New(client redis.UniversalClient, opts ...Option) (*Fleet, error) {
	o, err := resolve(opts)
	switch {
	case client == nil:
		err = errors.Join(fmt.Errorf("%w: client: must not be nil", ErrInvalidOption), err)
	case ignoresDeadlines(client):
		err = errors.Join(fmt.Errorf("%w: client: ContextTimeoutEnabled must be set, or a hung server holds each sync for the client's read timeout instead of the sync timeout", ErrInvalidOption), err)
	}
	if err != nil {
		return nil, err
	}
	f := &Fleet{
		client:  client,
		o:       o,
		members: make(map[string]*member),
		joins:   make(chan *member),
		leaves:  make(chan *member),
		events:  make(chan event, 1024),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		start:   time.Now(),
	}
	f.ps = client.Subscribe(context.Background())
	msgs := f.ps.Channel()
	f.reader.Add(1)
	go func() {
		defer f.reader.Done()
		for range msgs {
			f.poke()
		}
	}()
	go f.run()
	return f, nil
}

// ignoresDeadlines reports whether client is a go-redis client that does
// not bound its commands by their context's deadline. A client of
// another kind is taken at its word.
func ignoresDeadlines(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return !c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return !c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return !c.Options().ContextTimeoutEnabled
	}
	return false
}

// poke has the syncer run a round now.
func (f *Fleet) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Share makes the breaker c one of the fleet's: the same breaker, by name,
// on every replica that shares it. It then syncs once, waiting up to the
// warm-start bound, so that a replica that starts while the fleet is open
// starts open. An error from Redis is not returned: the breaker works
// alone until the fleet can be reached.
//
// With an interval set (WithInterval), the breaker's time window must
// have buckets no wider than it (ErrInvalidOption otherwise). A count window shares its transitions and
// the probe lease, but not its counts: the last N calls of one replica
// and of another have no common span to add up.
func (f *Fleet) Share(c cb.Circuit) error {
	if c == nil {
		return fmt.Errorf("%w: nil breaker", ErrInvalidOption)
	}
	m, err := f.newMember(c)
	if err != nil {
		return err
	}
	// Subscribed before anyone else can see m, so that its unsubscribe
	// is in place for Unshare and Close.
	m.unsub = c.Subscribe(func(tr cb.Transition) {
		select {
		case f.events <- event{m, tr}:
		default:
			f.dropped.Inc()
		}
	})
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		m.unsub()
		return ErrClosed
	case f.members[m.name] != nil:
		f.mu.Unlock()
		m.unsub()
		return fmt.Errorf("%w: %q", ErrAlreadyShared, m.name)
	}
	f.members[m.name] = m
	f.mu.Unlock()

	select {
	case f.joins <- m:
	case <-f.stop:
		return ErrClosed // Close makes it local: it is in the map
	}
	timer := time.NewTimer(f.o.warmStart)
	defer timer.Stop()
	select {
	case <-m.warm:
	case <-timer.C:
	case <-f.stop:
	}
	return nil
}

// Unshare makes the breaker named name a local breaker again, and reports
// whether the Fleet shared it.
func (f *Fleet) Unshare(name string) bool {
	f.mu.Lock()
	m := f.members[name]
	if m == nil || f.closed {
		f.mu.Unlock()
		return false // Close makes the members it finds local
	}
	delete(f.members, name)
	f.mu.Unlock()
	select {
	case f.leaves <- m:
		<-m.left
	case <-f.stop:
		// Close is under way and no longer finds m: it is this call's.
		<-f.done
		m.goLocal()
	}
	return true
}

// Close stops the syncer and makes every shared breaker a local breaker
// again. It leaves no goroutine behind and does not close the client.
// Closing twice is harmless.
func (f *Fleet) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	close(f.stop)
	<-f.done
	err := f.ps.Close()
	f.reader.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		m.goLocal()
	}
	return err
}

// Health reports how syncing goes.
func (f *Fleet) Health() Health {
	f.mu.Lock()
	n := len(f.members)
	f.mu.Unlock()
	h := Health{
		Syncs:         f.syncs.Load(),
		Errors:        f.errs.Load(),
		Degraded:      f.degraded.Load() > 0,
		Malformed:     f.malformed.Load(),
		DroppedEvents: f.dropped.Load(),
		Shared:        n,
	}
	if ns := f.lastSync.Load(); ns != 0 {
		h.LastSync = time.Unix(0, ns)
	}
	return h
}

// run is the syncer: the one goroutine that talks to Redis and owns every
// member's sync state. Each member syncs on its own interval; a round
// takes every member that is due, and runs early for the members with a
// transition to announce, an open time just over, or, after a pub/sub
// message, for all.
func (f *Fleet) run() {
	defer close(f.done)
	var members []*member
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		all := false
		select {
		case <-f.stop:
			return
		case m := <-f.joins:
			if m.removed {
				close(m.warm) // unshared before it joined
				continue
			}
			members = append(members, m)
			f.subscribe(m)
			f.round([]*member{m})
			m.next = f.after(time.Now(), m.every)
			close(m.warm)
		case m := <-f.leaves:
			members = slices.DeleteFunc(members, func(x *member) bool { return x == m })
			m.removed = true
			f.unsubscribe(m)
			m.goLocal()
			close(m.left)
		case ev := <-f.events:
			f.hear(ev)
			f.drainEvents()
		case <-f.wake:
			all = true
		case <-timer.C:
		}
		now := time.Now()
		var due []*member
		for _, m := range members {
			if all || m.pending != nil || !now.Before(m.next) || m.waitsForLease() {
				due = append(due, m)
			}
		}
		if len(due) > 0 {
			f.round(due)
			for _, m := range due {
				m.next = f.after(now, m.every)
				if m.failures > 0 {
					m.next = now.Add(min(m.every<<min(m.failures, 16), max(f.o.maxBackoff, m.every)))
					// A member degrades in the first failed round that
					// starts a whole window after its last sync: backing
					// off past that moment would keep it waiting on a
					// fleet it cannot reach (an open breaker held from
					// probing) for up to the backoff more.
					if end := m.lastOK.Add(m.shape.window); !m.degraded && end.Before(m.next) {
						m.next = end
					}
				}
			}
		}
		next := time.Hour
		for _, m := range members {
			next = min(next, time.Until(m.next), m.openTimeLeft())
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(next, 0))
	}
}

// after returns the first time after now on the grid of period every
// from the Fleet's start: members with the same interval sync in the
// same rounds, so a round trip carries them all.
func (f *Fleet) after(now time.Time, every time.Duration) time.Time {
	n := now.Sub(f.start) / every
	return f.start.Add((n + 1) * every)
}

// drainEvents hears every queued event without waiting.
func (f *Fleet) drainEvents() {
	for {
		select {
		case ev := <-f.events:
			f.hear(ev)
		default:
			return
		}
	}
}

// unsubscribe stops listening for m's announcements.
func (f *Fleet) unsubscribe(m *member) {
	ctx, cancel := context.WithTimeout(context.Background(), f.o.timeout)
	defer cancel()
	if err := f.ps.Unsubscribe(ctx, eventsChannel(m.base)); err != nil {
		f.errs.Inc()
	}
}

// subscribe listens for the announcements of m's record. A failure is
// retried by the client when it reconnects; the periodic read covers the
// gap meanwhile.
func (f *Fleet) subscribe(m *member) {
	ctx, cancel := context.WithTimeout(context.Background(), f.o.timeout)
	defer cancel()
	if err := f.ps.Subscribe(ctx, eventsChannel(m.base)); err != nil {
		f.errs.Inc()
	}
}
