package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// The lock's settings in NewRedisStore.
const (
	// LockTTL is how long a lock key lives if its holder never unlocks
	// (it crashed): the expiry gobreaker's own store gives its locks.
	LockTTL = 5 * time.Second
	// LockWait bounds how long Lock tries for a taken lock before it
	// fails; gobreaker then waits and calls Lock again, until its own
	// bound of the same 5 s.
	LockWait = 5 * time.Second
	// LockRetry is how long Lock waits between two tries for a taken
	// lock: see RedisStore for why it is this short.
	LockRetry = time.Millisecond
)

// ErrLockNotHeld is Unlock's error when this store does not hold the lock:
// it never took it, or the key expired and someone else took it since.
var ErrLockNotHeld = errors.New("benchmarks: redis lock not held")

// unlockScript deletes the lock key only while it still holds the caller's
// token. A GET and a DEL sent apart could delete a lock that expired in
// between and was taken by another caller; the script runs as one command.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// RedisStore is a gobreaker.SharedDataStore over one Redis server, through
// go-redis, for gobreaker's DistributedCircuitBreaker.
//
// gobreaker keeps its own Redis store in a module of its own
// (github.com/sony/gobreaker/v2/redis), which the Go module proxy does not
// serve to the machines this comparison runs on, so this store stands in
// for it with the same protocol: Lock sets the lock key only if it is
// absent, with an expiry (SET key token NX PX ttl), and tries again until
// it gets it or LockWait passes; Unlock deletes the key only if it still
// holds the token this store set (a compare-and-delete Lua script, sent as
// EVALSHA); GetData is a GET and SetData a SET with no expiry.
//
// What differs is the wait for a taken lock. gobreaker's store locks with
// redsync, whose default wait between two tries is tens to hundreds of
// milliseconds, which would make every contended call cost that much;
// this store tries again after LockRetry, 1 ms, which favours gobreaker:
// of the waits tried on a local Redis (100 µs to 2 ms), it gave 8
// goroutines sharing a breaker their fastest calls, where shorter waits
// flood the server with tries that slow the holder's own commands.
//
// The SharedDataStore interface gives Unlock only the lock's name, so the
// store remembers the token of its latest Lock of each name: goroutines
// sharing the store hold its locks as one owner, as they do with
// gobreaker's store.
type RedisStore struct {
	client *redis.Client
	ttl    time.Duration
	wait   time.Duration
	retry  time.Duration

	// prefix and seq make the tokens: unique across stores and processes
	// without reading random bytes for every lock.
	prefix string
	seq    atomic.Uint64

	mu     sync.Mutex
	tokens map[string]string // lock name -> token of the latest Lock
}

// NewRedisStore returns a store over the Redis server at addr (host:port).
func NewRedisStore(addr string) *RedisStore {
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails on the platforms Go supports
	return &RedisStore{
		client: redis.NewClient(&redis.Options{Addr: addr}),
		ttl:    LockTTL,
		wait:   LockWait,
		retry:  LockRetry,
		prefix: hex.EncodeToString(id[:]) + ":",
		tokens: map[string]string{},
	}
}

// Close closes the store's connections.
func (s *RedisStore) Close() error { return s.client.Close() }

// Lock takes the lock called name, trying again every LockRetry while
// another holder has it, for up to LockWait.
func (s *RedisStore) Lock(name string) error {
	ctx := context.Background()
	token := s.prefix + strconv.FormatUint(s.seq.Add(1), 10)
	deadline := time.Now().Add(s.wait)
	for {
		err := s.client.Do(ctx, "SET", name, token, "NX", "PX", s.ttl.Milliseconds()).Err()
		if err == nil {
			s.mu.Lock()
			s.tokens[name] = token
			s.mu.Unlock()
			return nil
		}
		if !errors.Is(err, redis.Nil) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("benchmarks: redis lock %q still taken after %v", name, s.wait)
		}
		time.Sleep(s.retry)
	}
}

// Unlock releases the lock called name if this store still holds it, and
// returns ErrLockNotHeld if not.
func (s *RedisStore) Unlock(name string) error {
	// The token is taken out before the key is deleted: once it is, another
	// goroutine's Lock may succeed and record its own.
	s.mu.Lock()
	token, ok := s.tokens[name]
	delete(s.tokens, name)
	s.mu.Unlock()
	if !ok {
		return ErrLockNotHeld
	}
	n, err := unlockScript.Run(context.Background(), s.client, []string{name}, token).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLockNotHeld
	}
	return nil
}

// GetData returns the value of the key name; nil if there is none, which
// gobreaker takes for "no shared state yet".
func (s *RedisStore) GetData(name string) ([]byte, error) {
	b, err := s.client.Get(context.Background(), name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

// SetData sets the key name to data, with no expiry.
func (s *RedisStore) SetData(name string, data []byte) error {
	return s.client.Set(context.Background(), name, data, 0).Err()
}

var _ gobreaker.SharedDataStore = (*RedisStore)(nil)
