package benchmarks

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tripswitch/tripswitch/internal/redistest"
)

// The lock excludes a second store until the first unlocks, only its
// holder can unlock it, and it carries the expiry that frees it if its
// holder dies.
func TestRedisStoreLock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := NewRedisStore(srv.Addr()), NewRedisStore(srv.Addr())
	defer a.Close()
	defer b.Close()
	b.wait = 50 * time.Millisecond

	if err := a.Lock("lock"); err != nil {
		t.Fatal(err)
	}
	ttl, err := srv.Do("PTTL", "lock")
	if n, _ := strconv.Atoi(ttl); err != nil || n <= 0 || n > int(LockTTL/time.Millisecond) {
		t.Errorf("PTTL of the lock = %q, %v; want within (0, %v]", ttl, err, LockTTL)
	}
	if err := b.Lock("lock"); err == nil {
		t.Fatal("a second store took a taken lock")
	}
	if err := b.Unlock("lock"); !errors.Is(err, ErrLockNotHeld) {
		t.Errorf("Unlock by a store that does not hold the lock: %v", err)
	}
	if err := a.Unlock("lock"); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock("lock"); err != nil {
		t.Fatalf("the lock, released, is still taken: %v", err)
	}
	if err := a.Unlock("lock"); !errors.Is(err, ErrLockNotHeld) {
		t.Errorf("a second Unlock: %v", err)
	}
	if err := b.Unlock("lock"); err != nil {
		t.Error(err)
	}
}

// A holder whose lock expired and was taken by another does not release
// the other's lock: the compare-and-delete sees another token.
func TestRedisStoreLateUnlock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a, b := NewRedisStore(srv.Addr()), NewRedisStore(srv.Addr())
	defer a.Close()
	defer b.Close()
	a.ttl = 50 * time.Millisecond

	if err := a.Lock("lock"); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock("lock"); err != nil { // waits out a's expiry
		t.Fatal(err)
	}
	if err := a.Unlock("lock"); !errors.Is(err, ErrLockNotHeld) {
		t.Errorf("late Unlock: %v", err)
	}
	if n, err := srv.Do("EXISTS", "lock"); err != nil || n != "1" {
		t.Errorf("b's lock is gone after a's late Unlock: EXISTS = %q, %v", n, err)
	}
}

func TestRedisStoreData(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := NewRedisStore(srv.Addr())
	defer s.Close()
	if data, err := s.GetData("state"); data != nil || err != nil {
		t.Errorf("GetData of a missing key = %q, %v; want nil, nil", data, err)
	}
	if err := s.SetData("state", []byte(`{"state":0}`)); err != nil {
		t.Fatal(err)
	}
	if data, err := s.GetData("state"); string(data) != `{"state":0}` || err != nil {
		t.Errorf("GetData = %q, %v", data, err)
	}
	if ttl, err := srv.Do("TTL", "state"); ttl != "-1" || err != nil {
		t.Errorf("TTL of the state = %q, %v; want -1 (none)", ttl, err)
	}
}

// gobreaker's DistributedCircuitBreaker over RedisStore, driven as its
// benchmark drives it: one goroutine, then several, every call admitted.
// One goroutine's calls are all counted, each in four round trips: GET of
// the state, SET NX of the lock, SET of the state and the unlock script's
// EVALSHA, whose GET and DEL INFO commandstats counts too.
func TestDistributedGobreaker(t *testing.T) {
	const (
		serialOps     = 200
		goroutines    = 8
		opsPerRoutine = 25
	)
	t.Parallel()
	srv := redistest.Start(t)
	br := distributedGobreaker(t, srv)
	if err := br.call(); err != nil { // loads the unlock script
		t.Fatal(err)
	}

	resetStats(t, srv)
	before, _ := br.counted()
	for i := range serialOps {
		if err := br.call(); err != nil {
			t.Fatalf("serial call %d: %v", i, err)
		}
	}
	if after, ok := br.counted(); !ok || after-before != serialOps {
		t.Errorf("%d serial calls counted %d times (%v)", serialOps, after-before, ok)
	}
	cmds := redisCommands(t, srv)
	t.Logf("commands of %d serial calls: %v", serialOps, cmds)
	for cmd, want := range map[string]int{"get": 2 * serialOps, "set": 2 * serialOps, "evalsha": serialOps, "del": serialOps} {
		if cmds[cmd] != want {
			t.Errorf("%d serial calls ran %s %d times, want %d", serialOps, cmd, cmds[cmd], want)
		}
	}

	resetStats(t, srv)
	before, _ = br.counted()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range opsPerRoutine {
				if err := br.call(); err != nil {
					t.Errorf("parallel call %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	after, _ := br.counted()
	t.Logf("%d calls on %d goroutines: counted %d, commands %v",
		goroutines*opsPerRoutine, goroutines, after-before, redisCommands(t, srv))
}
