package cb

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strconv"
	"time"
)

// Off disables ConsecutiveFailures, FailureRateThreshold or SlowCallDuration
// (and, with the last, slow-call tracking and the slow-call rate).
const Off = -1

// Defaults of the zero fields of a Config.
const (
	DefaultWindow                = 10 * time.Second
	DefaultBuckets               = 10
	DefaultMinimumCalls          = 10
	DefaultFailureRateThreshold  = 0.5
	DefaultConsecutiveFailures   = 5
	DefaultSlowCallDuration      = 5 * time.Second
	DefaultSlowCallRateThreshold = 0.5
	DefaultOpenTimeout           = 60 * time.Second
	DefaultSuccessThreshold      = 3
)

// Limits past which New rejects a Config.
const (
	// MinBucketWidth is the narrowest bucket of a time window.
	MinBucketWidth = time.Millisecond
	// MaxBuckets bounds the snapshots a time window keeps.
	MaxBuckets = 4096
	// MaxWindowCalls bounds a count window: each failure scans it.
	MaxWindowCalls = 1 << 16
	// MaxHalfOpenCalls is the most probe permits an episode can have: the
	// permits share the breaker's one atomic state word.
	MaxHalfOpenCalls = 255
	// MaxConsecutiveFailures is the largest ConsecutiveFailures: the
	// streak shares one atomic word with its generation, and
	// Metrics.ConsecutiveFailures stops counting there.
	MaxConsecutiveFailures = maxStreak
)

// Config is a breaker's policy. The zero value is valid and means every
// documented default; New validates the whole of it.
type Config struct {
	// Window is the span of the sliding time window (default 10s), cut
	// into Buckets buckets (default 10) of Window/Buckets each, at least
	// 1ms. An outcome counts while its bucket is one of the newest
	// Buckets, so the window spans between Window-width and Window.
	Window  time.Duration
	Buckets int
	// WindowCalls > 0 counts the last WindowCalls outcomes instead of a
	// time window (then Window and Buckets must be zero).
	WindowCalls int
	// MinimumCalls is how many outcomes the window must hold before either
	// rate can trip the breaker (default 10, or WindowCalls when that is
	// smaller).
	MinimumCalls int
	// FailureRateThreshold in (0,1] trips when failures/calls reaches it
	// (default 0.5); Off disables it.
	FailureRateThreshold float64
	// ConsecutiveFailures trips on that many failures in a row (default
	// 5); Off disables it.
	ConsecutiveFailures int
	// SlowCallDuration: a call running longer is slow (default 5s); Off
	// disables slow-call tracking.
	SlowCallDuration time.Duration
	// SlowCallRateThreshold in (0,1] trips when slow calls/calls reaches it
	// (default 0.5); Off keeps slow calls tracked (CallResult.Slow,
	// Metrics, slow probes) without letting their rate trip the breaker.
	SlowCallRateThreshold float64
	// OpenTimeout is how long the breaker stays open before probing
	// (default 60s).
	OpenTimeout time.Duration
	// MaxOpenTimeout > 0 doubles the open time after each failed
	// half-open episode, up to this cap; 0 keeps OpenTimeout.
	MaxOpenTimeout time.Duration
	// SuccessThreshold is how many probe successes close the breaker
	// (default 3).
	SuccessThreshold int
	// HalfOpenMaxCalls is how many probe permits one half-open episode
	// hands out (default SuccessThreshold; at most 255).
	HalfOpenMaxCalls int
	// HalfOpenTimeout bounds how long a half-open episode waits for its
	// probes (default OpenTimeout). Its clock starts when a probe is
	// admitted while no other is out; if a probe is still out when it
	// runs down, the episode fails as a failed probe does (the breaker
	// reopens, with the backoff step) and the probes still running come
	// back stale. An episode with no probe out waits for traffic.
	HalfOpenTimeout time.Duration
	// Shadow runs the breaker in shadow mode: it never rejects a call, but
	// judges, counts and transitions exactly as it would otherwise, so
	// Metrics, listeners and reports show what it would have done. A call
	// it would have rejected runs all the same: it is counted as rejected
	// (in TotalRejected only: enforcing, it would not have run) and its
	// CallResult.WouldReject is set. Reconfigure turns it on and off at
	// run time, which listeners hear (ReasonShadowOn, ReasonShadowOff).
	Shadow bool
	// IsFailure says whether a non-nil, non-ignored error is a failure
	// (default: every one is). Errors it rejects count as successes; a nil
	// error is a success without asking.
	IsFailure func(error) bool
	// IsIgnored says whether a non-nil error is not counted at all
	// (default: errors.Is(err, context.Canceled)). It is asked before
	// IsFailure, and never about a nil error.
	IsIgnored func(error) bool
	// TripRule is a trip rule of your own. It is asked where the built-in
	// rules are, in the closed state after a failure or a slow call is
	// counted, when none of them has tripped, and trips the breaker
	// (ReasonTripRule) when it returns true. MinimumCalls does not gate
	// it: TripCounts.Calls says how full the window is, and the rule may
	// want fewer (two slow failures, say). It runs on the caller's
	// goroutine, so it must be fast and safe for concurrent use; a panic
	// in it is recovered and counts as false (the built-in rules still
	// guard the dependency, and a bug in a rule must neither fail the
	// caller's call nor open the breaker).
	TripRule func(TripCounts) bool
	// OnStateChange is called once per state change, synchronously, by the
	// goroutine that made it, never under a lock. Keep it short; a panic
	// in it is recovered. It is the breaker's first listener (see
	// Subscribe), and Reconfigure replaces it there.
	OnStateChange func(Transition)
	// Clock supplies readings; nil means the real monotonic clock (a nil
	// pointer in a non-nil interface is refused). Use cbtest.Clock in
	// tests and a CoarseClock on hot paths. A breaker keeps its clock for
	// life: Reconfigure takes a nil Clock, or the breaker's own.
	Clock Clock
}

// TripCounts is what a Config.TripRule decides on: the window's counts,
// the call being judged included, and the failure streak.
type TripCounts struct {
	// Calls is the number of counted outcomes in the window, of which
	// Failures failed and SlowCalls were slow; SlowFailures were both.
	Calls, Failures, SlowCalls, SlowFailures uint64
	// ConsecutiveFailures is the failure streak the call left: 0 after a
	// (slow) success.
	ConsecutiveFailures uint64
}

// settings is a Config with its defaults applied, in the forms the hot path
// uses.
type settings struct {
	// First what every call's end reads.
	slowDur            time.Duration
	slowOn             bool
	defaultClassifiers bool
	shadow             bool
	shadowMark         State // shadowRun when shadow, for refused calls' tickets
	isFailure          func(error) bool
	isIgnored          func(error) bool

	width, window    time.Duration
	buckets          int
	windowCalls      int
	minCalls         uint64
	failRate         float64 // < 0: off
	streakLimit      uint64  // ConsecutiveFailures; 0: off
	slowRate         float64 // < 0: the slow-call rate never trips
	tripRule         func(TripCounts) bool
	openTimeout      time.Duration
	maxOpenTimeout   time.Duration
	successThreshold uint64
	halfOpenMaxCalls uint64
	halfOpenTimeout  time.Duration
	onStateChange    func(Transition)
}

// sameShape reports whether windows made under s and t would count the
// same calls: a time window of the same bucket width and count, or a
// count window of the same size.
func (s *settings) sameShape(t *settings) bool {
	return s.width == t.width && s.buckets == t.buckets && s.windowCalls == t.windowCalls
}

func defaultIsFailure(err error) bool { return err != nil }

func defaultIsIgnored(err error) bool {
	if err == context.Canceled { //nolint:errorlint // the common case, before the general errors.Is below
		return true
	}
	// errors.Is costs more than the rest of a failing call; only errors
	// that can wrap or match another need it. (Like errors.Is, the switch
	// allocates once per new error type it meets, for its type cache.)
	switch err.(type) { //nolint:errorlint // a filter in front of errors.Is, which handles wrapping
	case interface{ Unwrap() error }, interface{ Unwrap() []error }, interface{ Is(error) bool }:
		return errors.Is(err, context.Canceled)
	}
	return false
}

// resolve validates c and applies its defaults. Every fault is reported,
// each as a *ConfigError.
func (c Config) resolve() (settings, error) {
	var errs []error
	bad := func(field string, value any, reason string) {
		errs = append(errs, &ConfigError{Field: field, Value: value, Reason: reason})
	}
	negative := func(field string, v any, isNegative bool) {
		if isNegative {
			bad(field, v, "must not be negative")
		}
	}
	rate := func(field string, v float64, offOK bool) {
		if v == 0 || (offOK && v == Off) {
			return
		}
		if math.IsNaN(v) || v < 0 || v > 1 {
			reason := "must be in (0,1]"
			if offOK {
				reason += " or Off"
			}
			bad(field, v, reason)
		}
	}
	negative("Window", c.Window, c.Window < 0)
	negative("Buckets", c.Buckets, c.Buckets < 0)
	negative("WindowCalls", c.WindowCalls, c.WindowCalls < 0)
	negative("MinimumCalls", c.MinimumCalls, c.MinimumCalls < 0)
	rate("FailureRateThreshold", c.FailureRateThreshold, true)
	if c.ConsecutiveFailures != Off {
		negative("ConsecutiveFailures", c.ConsecutiveFailures, c.ConsecutiveFailures < 0)
	}
	if c.SlowCallDuration != Off {
		negative("SlowCallDuration", c.SlowCallDuration, c.SlowCallDuration < 0)
	}
	rate("SlowCallRateThreshold", c.SlowCallRateThreshold, true)
	if c.ConsecutiveFailures > MaxConsecutiveFailures {
		bad("ConsecutiveFailures", c.ConsecutiveFailures, "must be at most "+itoa(MaxConsecutiveFailures)+" or Off")
	}
	if c.Clock != nil {
		if v := reflect.ValueOf(c.Clock); v.Kind() == reflect.Pointer && v.IsNil() {
			bad("Clock", c.Clock, "is a nil "+v.Type().String()+" (leave Clock nil for the real clock)")
		}
	}
	negative("OpenTimeout", c.OpenTimeout, c.OpenTimeout < 0)
	negative("MaxOpenTimeout", c.MaxOpenTimeout, c.MaxOpenTimeout < 0)
	negative("SuccessThreshold", c.SuccessThreshold, c.SuccessThreshold < 0)
	negative("HalfOpenMaxCalls", c.HalfOpenMaxCalls, c.HalfOpenMaxCalls < 0)
	negative("HalfOpenTimeout", c.HalfOpenTimeout, c.HalfOpenTimeout < 0)

	s := settings{
		window:           orDefault(c.Window, DefaultWindow),
		buckets:          orDefault(c.Buckets, DefaultBuckets),
		windowCalls:      c.WindowCalls,
		minCalls:         uint64(orDefault(c.MinimumCalls, DefaultMinimumCalls)),
		failRate:         orDefault(c.FailureRateThreshold, DefaultFailureRateThreshold),
		slowDur:          orDefault(c.SlowCallDuration, DefaultSlowCallDuration),
		slowRate:         orDefault(c.SlowCallRateThreshold, DefaultSlowCallRateThreshold),
		openTimeout:      orDefault(c.OpenTimeout, DefaultOpenTimeout),
		maxOpenTimeout:   c.MaxOpenTimeout,
		successThreshold: uint64(orDefault(c.SuccessThreshold, DefaultSuccessThreshold)),
		isFailure:        c.IsFailure,
		isIgnored:        c.IsIgnored,
		shadow:           c.Shadow,
		tripRule:         c.TripRule,
		onStateChange:    c.OnStateChange,
	}
	if c.ConsecutiveFailures != Off {
		s.streakLimit = uint64(orDefault(c.ConsecutiveFailures, DefaultConsecutiveFailures))
	}
	s.slowOn = c.SlowCallDuration != Off
	if s.shadow {
		s.shadowMark = shadowRun
	}
	s.halfOpenMaxCalls = uint64(orDefault(c.HalfOpenMaxCalls, int(s.successThreshold)))
	s.halfOpenTimeout = orDefault(c.HalfOpenTimeout, s.openTimeout)
	if s.isFailure == nil {
		s.isFailure = defaultIsFailure
	}
	if s.isIgnored == nil {
		s.isIgnored = defaultIsIgnored
	}
	s.defaultClassifiers = c.IsFailure == nil && c.IsIgnored == nil

	if c.WindowCalls > 0 {
		if c.Window != 0 {
			bad("Window", c.Window, "must be zero when WindowCalls is set (a window counts time or calls, not both)")
		}
		if c.Buckets != 0 {
			bad("Buckets", c.Buckets, "must be zero when WindowCalls is set (a count window has no buckets)")
		}
		if c.WindowCalls > MaxWindowCalls {
			bad("WindowCalls", c.WindowCalls, "must be at most "+itoa(MaxWindowCalls)+" (each failure scans the window)")
		}
		if c.MinimumCalls == 0 {
			s.minCalls = min(s.minCalls, uint64(c.WindowCalls))
		}
		if c.MinimumCalls >= 0 && uint64(c.WindowCalls) < s.minCalls {
			bad("WindowCalls", c.WindowCalls, "must be at least MinimumCalls ("+itoa(s.minCalls)+"), or the rates could never trip")
		}
		s.window, s.buckets = 0, 0
	} else if c.Window >= 0 && c.Buckets >= 0 {
		if s.buckets > MaxBuckets {
			bad("Buckets", s.buckets, "must be at most "+itoa(MaxBuckets))
		} else if s.width = s.window / time.Duration(s.buckets); s.width < MinBucketWidth {
			bad("Window", s.window, "gives buckets of "+s.width.String()+" with "+itoa(uint64(s.buckets))+" buckets; a bucket must be at least "+MinBucketWidth.String())
		}
	}
	if c.HalfOpenMaxCalls >= 0 && c.SuccessThreshold >= 0 {
		if s.halfOpenMaxCalls < s.successThreshold {
			bad("HalfOpenMaxCalls", s.halfOpenMaxCalls, "must be at least SuccessThreshold ("+itoa(s.successThreshold)+"), or a half-open breaker could never close")
		} else if s.halfOpenMaxCalls > MaxHalfOpenCalls {
			bad("HalfOpenMaxCalls", s.halfOpenMaxCalls, "must be at most "+itoa(MaxHalfOpenCalls))
		}
	}
	if c.MaxOpenTimeout > 0 && c.OpenTimeout >= 0 && s.maxOpenTimeout < s.openTimeout {
		bad("MaxOpenTimeout", s.maxOpenTimeout, "must be at least OpenTimeout ("+s.openTimeout.String()+")")
	}
	if len(errs) > 0 {
		return settings{}, errors.Join(errs...)
	}
	return s, nil
}

func orDefault[N int | float64 | time.Duration](v, def N) N {
	if v == 0 {
		return def
	}
	return v
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
