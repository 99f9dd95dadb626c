package cb_test

// Config: the zero Config is valid and means the documented defaults,
// which behave as documented through every entry point; New rejects a bad
// Config (or an empty name) with an error matching ErrInvalidConfig that
// names each faulty field and its value, and MustNew panics with it.

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
)

// configErrors returns the *ConfigErrors an error of New carries.
func configErrors(t *testing.T, err error) []*cb.ConfigError {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*cb.ConfigError, 0, len(errs))
	for _, e := range errs {
		var ce *cb.ConfigError
		require.ErrorAs(t, e, &ce)
		out = append(out, ce)
	}
	return out
}

func TestZeroConfigIsValid(t *testing.T) {
	b, err := cb.New[int]("zero", cb.Config{})
	require.NoError(t, err)
	require.NotNil(t, b)
	assert.Equal(t, "zero", b.Name())
	assert.Equal(t, cb.Closed, b.State())
	assert.NotPanics(t, func() { cb.MustNew[string]("zero", cb.Config{}) })
}

// The defaults behave as documented: 5 consecutive failures trip, 60s
// open, 3 probes of which 3 successes close, a half-open episode restarts
// after 60s, a window of 10s in 10 buckets.
func TestZeroConfigDefaults(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{})
		for i := range 4 {
			f.fail()
			require.Equal(t, cb.Closed, f.b.State(), "after %d failures", i+1)
		}
		f.fail()
		require.Equal(t, cb.Open, f.b.State())
		assert.Equal(t, cb.ReasonConsecutiveFailures, f.events[0].Reason)
		assert.Equal(t, 60*time.Second, f.m().RetryAfter)

		f.at(60*time.Second - 1)
		assert.Equal(t, cb.Open, f.b.State())
		f.at(60 * time.Second)
		assert.Equal(t, cb.HalfOpen, f.b.State())
		p1, p2, p3 := f.allow(), f.allow(), f.allow()
		f.rejected(cb.HalfOpen)
		f.at(120*time.Second - 1)
		assert.Equal(t, uint64(2), f.m().Generation)
		f.at(120 * time.Second) // the probes are still out: the episode fails
		assert.Equal(t, uint64(3), f.m().Generation)
		assert.Equal(t, cb.Open, f.b.State())
		assert.Equal(t, 60*time.Second, f.m().RetryAfter, "no MaxOpenTimeout: no backoff")
		p1.Done(1, nil)
		p2.Done(1, nil)
		p3.Done(1, nil)
		assert.Equal(t, uint64(3), f.m().TotalStale)
		f.at(180 * time.Second)
		f.ok()
		f.ok()
		assert.Equal(t, cb.HalfOpen, f.b.State())
		f.ok()
		assert.Equal(t, cb.Closed, f.b.State())
	})
}

// Default MinimumCalls 10 and FailureRateThreshold 0.5.
func TestDefaultFailureRate(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{ConsecutiveFailures: cb.Off})
		for range 5 {
			f.ok()
		}
		for range 4 {
			f.fail()
		}
		assert.Equal(t, cb.Closed, f.b.State())
		f.fail() // 5 of 10
		assert.Equal(t, cb.Open, f.b.State())
		assert.Equal(t, cb.ReasonFailureRate, f.events[0].Reason)
	})
}

// Default SlowCallDuration 5s, SlowCallRateThreshold 0.5, MinimumCalls 10.
func TestDefaultSlowCallRate(t *testing.T) {
	f := newRuleFixture(t, throughExecute, cb.Config{})
	for range 5 {
		f.ok()
	}
	var ps []*cb.Permit[int]
	for range 5 {
		ps = append(ps, f.allow())
	}
	f.clk.Advance(5*time.Second + 1)
	for _, p := range ps[:4] {
		p.Done(1, nil)
	}
	assert.Equal(t, cb.Closed, f.b.State(), "9 calls < MinimumCalls")
	assert.Equal(t, uint64(4), f.m().SlowCalls)
	ps[4].Done(1, nil)
	assert.Equal(t, cb.Open, f.b.State())
	assert.Equal(t, cb.ReasonSlowCallRate, f.events[0].Reason)
}

// Default window: 10s in buckets of 1s.
func TestDefaultWindow(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{})
		f.at(500 * ms)
		f.ok()
		f.at(10*time.Second - 1)
		assert.Equal(t, uint64(1), f.m().Calls)
		f.at(10 * time.Second)
		assert.Equal(t, uint64(0), f.m().Calls)
	})
}

func TestValidConfigs(t *testing.T) {
	tests := map[string]cb.Config{
		"zero":                                {},
		"ConsecutiveFailures Off":             {ConsecutiveFailures: cb.Off},
		"FailureRateThreshold Off":            {FailureRateThreshold: cb.Off},
		"SlowCallDuration Off":                {SlowCallDuration: cb.Off},
		"all three Off":                       {ConsecutiveFailures: cb.Off, FailureRateThreshold: cb.Off, SlowCallDuration: cb.Off},
		"rates of 1":                          {FailureRateThreshold: 1, SlowCallRateThreshold: 1},
		"tiny rates":                          {FailureRateThreshold: 1e-9, SlowCallRateThreshold: math.SmallestNonzeroFloat64},
		"buckets of exactly 1ms":              {Window: 10 * time.Millisecond, Buckets: 10},
		"one bucket":                          {Window: time.Millisecond, Buckets: 1},
		"default buckets of a 10ms window":    {Window: 10 * time.Millisecond},
		"WindowCalls equal to MinimumCalls":   {WindowCalls: 7, MinimumCalls: 7},
		"WindowCalls equal to the default":    {WindowCalls: 10},
		"HalfOpenMaxCalls = SuccessThreshold": {SuccessThreshold: 4, HalfOpenMaxCalls: 4},
		"HalfOpenMaxCalls > SuccessThreshold": {HalfOpenMaxCalls: 9},
		"SuccessThreshold over the default":   {SuccessThreshold: 9},
		"MaxOpenTimeout = OpenTimeout":        {OpenTimeout: time.Second, MaxOpenTimeout: time.Second},
		"MaxOpenTimeout = default":            {MaxOpenTimeout: 60 * time.Second},
		"MaxOpenTimeout > OpenTimeout":        {OpenTimeout: time.Second, MaxOpenTimeout: time.Hour},
		"limits":                              {Window: 4096 * time.Millisecond, Buckets: 4096, HalfOpenMaxCalls: 255},
		"WindowCalls limit":                   {WindowCalls: 65536},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := cb.New[int]("ok", cfg)
			require.NoError(t, err)
			require.NotNil(t, b)
		})
	}
}

// Every invalid config is an error matching ErrInvalidConfig that names the
// field and its value.
func TestInvalidConfigs(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		cfg   cb.Config
		field string
		value string // the value as the message names it (fmt %v of the field)
	}{
		// negative counts
		{"Buckets", cb.Config{Buckets: -1}, "Buckets", "-1"},
		{"WindowCalls", cb.Config{WindowCalls: -1}, "WindowCalls", "-1"},
		{"MinimumCalls", cb.Config{MinimumCalls: -1}, "MinimumCalls", "-1"},
		{"ConsecutiveFailures -2", cb.Config{ConsecutiveFailures: -2}, "ConsecutiveFailures", "-2"},
		{"SuccessThreshold", cb.Config{SuccessThreshold: -1}, "SuccessThreshold", "-1"},
		{"HalfOpenMaxCalls", cb.Config{HalfOpenMaxCalls: -3}, "HalfOpenMaxCalls", "-3"},
		{"Buckets Off", cb.Config{Buckets: cb.Off}, "Buckets", "-1"},
		{"MinimumCalls Off", cb.Config{MinimumCalls: cb.Off}, "MinimumCalls", "-1"},
		{"SuccessThreshold Off", cb.Config{SuccessThreshold: cb.Off}, "SuccessThreshold", "-1"},
		// negative durations
		{"Window", cb.Config{Window: -time.Second}, "Window", "-1s"},
		{"Window Off", cb.Config{Window: cb.Off}, "Window", "-1ns"},
		{"SlowCallDuration -2s", cb.Config{SlowCallDuration: -2 * time.Second}, "SlowCallDuration", "-2s"},
		{"OpenTimeout", cb.Config{OpenTimeout: -time.Second}, "OpenTimeout", "-1s"},
		{"OpenTimeout Off", cb.Config{OpenTimeout: cb.Off}, "OpenTimeout", "-1ns"},
		{"MaxOpenTimeout", cb.Config{MaxOpenTimeout: -time.Minute}, "MaxOpenTimeout", "-1m0s"},
		{"HalfOpenTimeout", cb.Config{HalfOpenTimeout: -time.Second}, "HalfOpenTimeout", "-1s"},
		// rates outside (0,1] other than Off
		{"FailureRateThreshold above 1", cb.Config{FailureRateThreshold: 1.5}, "FailureRateThreshold", "1.5"},
		{"FailureRateThreshold just above 1", cb.Config{FailureRateThreshold: 1.0000001}, "FailureRateThreshold", "1.0000001"},
		{"FailureRateThreshold negative", cb.Config{FailureRateThreshold: -0.5}, "FailureRateThreshold", "-0.5"},
		{"FailureRateThreshold -2", cb.Config{FailureRateThreshold: -2}, "FailureRateThreshold", "-2"},
		{"FailureRateThreshold NaN", cb.Config{FailureRateThreshold: nan}, "FailureRateThreshold", "NaN"},
		{"FailureRateThreshold +Inf", cb.Config{FailureRateThreshold: math.Inf(1)}, "FailureRateThreshold", "+Inf"},
		{"SlowCallRateThreshold below Off", cb.Config{SlowCallRateThreshold: -2}, "SlowCallRateThreshold", "-2"},
		{"SlowCallRateThreshold above 1", cb.Config{SlowCallRateThreshold: 2}, "SlowCallRateThreshold", "2"},
		{"SlowCallRateThreshold negative", cb.Config{SlowCallRateThreshold: -0.1}, "SlowCallRateThreshold", "-0.1"},
		{"SlowCallRateThreshold NaN", cb.Config{SlowCallRateThreshold: nan}, "SlowCallRateThreshold", "NaN"},
		// both windows
		{"Window and WindowCalls", cb.Config{Window: 10 * time.Second, WindowCalls: 20}, "Window", "10s"},
		{"Buckets and WindowCalls", cb.Config{Buckets: 10, WindowCalls: 20}, "Buckets", "10"},
		// buckets narrower than 1ms
		{"9ms in the default 10 buckets", cb.Config{Window: 9 * time.Millisecond}, "Window", "9ms"},
		{"100ms in 101 buckets", cb.Config{Window: 100 * time.Millisecond, Buckets: 101}, "Window", "100ms"},
		{"1ns in 1 bucket", cb.Config{Window: 1, Buckets: 1}, "Window", "1ns"},
		// WindowCalls < MinimumCalls
		{"ConsecutiveFailures past its limit", cb.Config{ConsecutiveFailures: cb.MaxConsecutiveFailures + 1}, "ConsecutiveFailures", "33554432"},
		{"WindowCalls below MinimumCalls", cb.Config{WindowCalls: 3, MinimumCalls: 4}, "WindowCalls", "3"},
		// HalfOpenMaxCalls < SuccessThreshold after defaults
		{"HalfOpenMaxCalls below the default SuccessThreshold", cb.Config{HalfOpenMaxCalls: 2}, "HalfOpenMaxCalls", "2"},
		{"HalfOpenMaxCalls below SuccessThreshold", cb.Config{HalfOpenMaxCalls: 4, SuccessThreshold: 5}, "HalfOpenMaxCalls", "4"},
		// MaxOpenTimeout set and < OpenTimeout
		{"MaxOpenTimeout below the default OpenTimeout", cb.Config{MaxOpenTimeout: 30 * time.Second}, "MaxOpenTimeout", "30s"},
		{"MaxOpenTimeout below OpenTimeout", cb.Config{OpenTimeout: 2 * time.Second, MaxOpenTimeout: time.Second}, "MaxOpenTimeout", "1s"},
		// the documented limits
		{"too many buckets", cb.Config{Buckets: 5000}, "Buckets", "5000"},
		{"too many WindowCalls", cb.Config{WindowCalls: 70000}, "WindowCalls", "70000"},
		{"too many probes", cb.Config{HalfOpenMaxCalls: 256}, "HalfOpenMaxCalls", "256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := cb.New[int]("bad", tc.cfg)
			require.Error(t, err)
			assert.Nil(t, b)
			assert.ErrorIs(t, err, cb.ErrInvalidConfig)
			var ce *cb.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.Equal(t, tc.value, fmt.Sprint(ce.Value), "ConfigError.Value")
			assert.NotEmpty(t, ce.Reason)
			assert.Contains(t, err.Error(), tc.field+" = "+tc.value, "the message names the field and the value")
			require.Len(t, configErrors(t, err), 1, "one fault, one error: %v", err)

			require.PanicsWithError(t, err.Error(), func() { cb.MustNew[int]("bad", tc.cfg) })
		})
	}
}

// Several faults at once are all reported.
func TestInvalidConfigReportsEveryFault(t *testing.T) {
	tests := []struct {
		name   string
		cfg    cb.Config
		fields []string
	}{
		{"six faults", cb.Config{
			Buckets:               -3,
			MinimumCalls:          -1,
			FailureRateThreshold:  2,
			SlowCallRateThreshold: 1.5,
			OpenTimeout:           -time.Second,
			SuccessThreshold:      2,
			HalfOpenMaxCalls:      1,
		}, []string{"Buckets", "MinimumCalls", "FailureRateThreshold", "SlowCallRateThreshold", "OpenTimeout", "HalfOpenMaxCalls"}},
		{"both windows, and too small", cb.Config{Window: 10 * time.Second, WindowCalls: 5, MinimumCalls: 6}, []string{"Window", "WindowCalls"}},
		{"narrow buckets and a low cap", cb.Config{Window: time.Millisecond, Buckets: 2, OpenTimeout: time.Minute, MaxOpenTimeout: time.Second}, []string{"Window", "MaxOpenTimeout"}},
		{"every negative field", cb.Config{
			Window: -1, Buckets: -1, WindowCalls: -1, MinimumCalls: -1, ConsecutiveFailures: -5,
			SlowCallDuration: -5, OpenTimeout: -1, MaxOpenTimeout: -1, SuccessThreshold: -1,
			HalfOpenMaxCalls: -1, HalfOpenTimeout: -1,
		}, []string{
			"Window", "Buckets", "WindowCalls", "MinimumCalls", "ConsecutiveFailures", "SlowCallDuration",
			"OpenTimeout", "MaxOpenTimeout", "SuccessThreshold", "HalfOpenMaxCalls", "HalfOpenTimeout",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cb.New[int]("bad", tc.cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, cb.ErrInvalidConfig)
			var ce *cb.ConfigError
			assert.ErrorAs(t, err, &ce)
			var fields []string
			for _, e := range configErrors(t, err) {
				fields = append(fields, e.Field)
				assert.ErrorIs(t, e, cb.ErrInvalidConfig)
				assert.Contains(t, err.Error(), e.Error())
			}
			assert.ElementsMatch(t, tc.fields, fields)
			for _, f := range tc.fields {
				assert.Contains(t, err.Error(), f+" = ")
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), len(tc.fields), "one line per fault")
		})
	}
}

func TestConfigErrorMessage(t *testing.T) {
	_, err := cb.New[int]("bad", cb.Config{FailureRateThreshold: 1.5})
	require.Error(t, err)
	assert.Equal(t, "tripswitch: invalid config: FailureRateThreshold = 1.5: must be in (0,1] or Off", err.Error())
	var ce *cb.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, cb.ConfigError{Field: "FailureRateThreshold", Value: 1.5, Reason: "must be in (0,1] or Off"}, *ce)
	assert.NotErrorIs(t, err, cb.ErrOpen)
}

func TestMustNewPanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		r := recover()
		require.NotNil(t, r, "MustNew must panic")
		err, ok := r.(error)
		require.True(t, ok, "MustNew panics with New's error, got %T", r)
		assert.ErrorIs(t, err, cb.ErrInvalidConfig)
		var ce *cb.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "MinimumCalls", ce.Field)
	}()
	cb.MustNew[int]("bad", cb.Config{MinimumCalls: -1})
}

func TestMustNewValid(t *testing.T) {
	clk := cbtest.NewClock()
	b := cb.MustNew[string]("good", cb.Config{Clock: clk, ConsecutiveFailures: 1})
	v, r := b.Execute(func() (string, error) { return "x", nil })
	assert.Equal(t, "x", v)
	assert.Equal(t, cb.Success, r.Outcome)
	assert.Equal(t, "good", b.Name())
}

// New refuses an empty name, as the registry does: the name is what errors,
// events and reports show.
func TestNewRefusesAnEmptyName(t *testing.T) {
	_, err := cb.New[int]("", cb.Config{})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	var ce *cb.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "name", ce.Field)

	_, err = cb.New[int]("", cb.Config{Buckets: -1})
	assert.ErrorContains(t, err, "name")
	assert.ErrorContains(t, err, "Buckets", "every fault is still reported")
}

// A nil *cbtest.Clock in Config.Clock (a non-nil interface holding a nil
// pointer) is refused with the field named, instead of panicking later.
func TestNewRefusesATypedNilClock(t *testing.T) {
	var clk *cbtest.Clock
	_, err := cb.New[int]("typed-nil", cb.Config{Clock: clk})
	require.ErrorIs(t, err, cb.ErrInvalidConfig)
	var ce *cb.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Clock", ce.Field)
	assert.Contains(t, ce.Reason, "*cbtest.Clock")
}

// A count window alone, smaller than the default MinimumCalls, is valid:
// MinimumCalls left zero becomes the window's size.
func TestSmallCountWindowLowersTheDefaultMinimum(t *testing.T) {
	throughEach(t, entryPoints, func(t *testing.T, via entryPoint) {
		f := newRuleFixture(t, via, cb.Config{WindowCalls: 5, ConsecutiveFailures: cb.Off})
		for range 4 {
			f.fail()
		}
		assert.Equal(t, cb.Closed, f.b.State(), "4 calls: below the minimum of 5")
		f.fail()
		assert.Equal(t, cb.Open, f.b.State())
		assert.Equal(t, cb.ReasonFailureRate, f.events[0].Reason)
	})

	_, err := cb.New[int]("explicit", cb.Config{WindowCalls: 5, MinimumCalls: 6})
	assert.ErrorIs(t, err, cb.ErrInvalidConfig, "an explicit minimum above the window is still refused")
}
