package cbredis

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidOption is matched (errors.Is) by every error New and Share
// return for a bad option or a breaker whose config cannot be shared with
// them.
var ErrInvalidOption = errors.New("cbredis: invalid option")

// ErrAlreadyShared is matched by the error Share returns for a breaker
// name the Fleet shares already.
var ErrAlreadyShared = errors.New("cbredis: breaker already shared")

// ErrClosed is matched by the error Share returns after Close.
var ErrClosed = errors.New("cbredis: fleet closed")

// Defaults of the options.
const (
	DefaultPrefix    = "tripswitch"
	DefaultInterval  = 200 * time.Millisecond
	DefaultQuorum    = 2
	DefaultWarmStart = time.Second
	// DefaultMaxBackoff bounds the wait between failed syncs.
	DefaultMaxBackoff = 2 * time.Second
)

// Option configures a Fleet.
type Option func(*options)

type options struct {
	prefix     string
	interval   time.Duration
	setEvery   bool // the interval was set: a breaker with wider buckets is refused
	timeout    time.Duration
	quorum     int
	warmStart  time.Duration
	maxBackoff time.Duration
	replica    string
	errs       []error
}

func (o *options) fail(format string, args ...any) {
	o.errs = append(o.errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
}

// WithPrefix sets the prefix of every key and channel (default
// "tripswitch"). Fleets that share breakers must use the same prefix. It
// must not be empty or hold '{' or '}', which would break the hash tags.
func WithPrefix(p string) Option {
	return func(o *options) {
		if p == "" || strings.ContainsAny(p, "{}") {
			o.fail("prefix %q: must be non-empty, without '{' or '}'", p)
		}
		o.prefix = p
	}
}

// WithInterval sets how often each replica syncs each breaker with Redis.
// By default it is 200ms, or a bucket of the breaker's time window when
// that is wider: the fleet's window counts by the bucket, so syncing
// faster would write the same bucket again and add load without a finer
// view. An interval set here must be at least a bucket of every shared
// breaker's window: Share refuses a breaker with wider buckets.
func WithInterval(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.fail("interval %v: must be positive", d)
		}
		o.interval, o.setEvery = d, true
	}
}

// WithTimeout sets the deadline of each round trip to Redis (default:
// the interval set, or 200ms). A round trip that passes it counts as a
// failed sync. The client applies it (see New: ContextTimeoutEnabled).
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.fail("timeout %v: must be positive", d)
		}
		o.timeout = d
	}
}

// WithQuorum sets how many distinct replicas must have reported failures
// or slow calls in the window before the fleet's counts take part in a
// rate trip (default 2; 1 lets any replica's counts always take part).
func WithQuorum(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.fail("quorum %d: must be at least 1", n)
		}
		o.quorum = n
	}
}

// WithWarmStart bounds how long Share waits for its first sync, which
// opens a new breaker at once when the fleet is open (default 1s). Share
// returns when it passes, and the breaker syncs later.
func WithWarmStart(d time.Duration) Option {
	return func(o *options) {
		if d < 0 {
			o.fail("warm start %v: must not be negative", d)
		}
		o.warmStart = d
	}
}

// WithMaxBackoff bounds the wait between syncs while Redis fails (default
// 2s, or a breaker's interval when longer): the wait doubles from the
// interval with each failure in a row.
func WithMaxBackoff(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.fail("max backoff %v: must be positive", d)
		}
		o.maxBackoff = d
	}
}

// WithReplicaID names this replica in Redis (default: host name, process
// id and a random suffix). It must be unique in the fleet: the quorum
// counts distinct ids.
func WithReplicaID(id string) Option {
	return func(o *options) {
		if id == "" {
			o.fail("replica id: must not be empty")
		}
		o.replica = id
	}
}

func resolve(opts []Option) (options, error) {
	o := options{
		prefix:     DefaultPrefix,
		interval:   DefaultInterval,
		quorum:     DefaultQuorum,
		warmStart:  DefaultWarmStart,
		maxBackoff: DefaultMaxBackoff,
	}
	for _, opt := range opts {
		if opt == nil {
			o.fail("nil Option")
			continue
		}
		opt(&o)
	}
	if o.timeout == 0 {
		o.timeout = o.interval
	}
	if o.replica == "" {
		o.replica = defaultReplicaID()
	}
	return o, errors.Join(o.errs...)
}

func defaultReplicaID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replica"
	}
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(r[:])
}
