package presets_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/presets"
)

var errDown = errors.New("down")

// preset is one preset with the values it promises: the Presets table of
// README.md, which a change of preset must change too.
type preset struct {
	name   string
	config func() cb.Config
	newInt func(name string, opts ...cb.Option[int]) *cb.Breaker[int]
	want   cb.Config
}

var all = []preset{
	{"API", presets.API, presets.NewAPI[int], cb.Config{
		ConsecutiveFailures: 5, SuccessThreshold: 3, OpenTimeout: 60 * time.Second,
		WindowCalls: 100, MinimumCalls: 10, FailureRateThreshold: 0.5, SlowCallDuration: 5 * time.Second,
	}},
	{"Database", presets.Database, presets.NewDatabase[int], cb.Config{
		ConsecutiveFailures: 2, SuccessThreshold: 1, OpenTimeout: 20 * time.Second,
		WindowCalls: 30, MinimumCalls: 3, FailureRateThreshold: 0.7, SlowCallDuration: 2 * time.Second,
	}},
	{"Network", presets.Network, presets.NewNetwork[int], cb.Config{
		ConsecutiveFailures: 3, SuccessThreshold: 2, OpenTimeout: 30 * time.Second,
		WindowCalls: 50, MinimumCalls: 5, FailureRateThreshold: 0.6, SlowCallDuration: 10 * time.Second,
	}},
}

func TestPresetValues(t *testing.T) {
	for _, p := range all {
		t.Run(p.name, func(t *testing.T) {
			// Config has func fields, so compare with reflect, which
			// treats nil funcs as equal and any other as different: the
			// presets must set no function and no clock.
			got := p.config()
			assert.True(t, reflect.DeepEqual(p.want, got), "want %+v\n got %+v", p.want, got)
		})
	}
}

// The table's fields are all set explicitly, even where they equal cb's
// defaults, so a change of default never changes a preset.
func TestPresetsSetEveryTableField(t *testing.T) {
	for _, p := range all {
		c := p.config()
		assert.NotZero(t, c.ConsecutiveFailures, p.name)
		assert.NotZero(t, c.SuccessThreshold, p.name)
		assert.NotZero(t, c.OpenTimeout, p.name)
		assert.NotZero(t, c.WindowCalls, p.name)
		assert.NotZero(t, c.MinimumCalls, p.name)
		assert.NotZero(t, c.FailureRateThreshold, p.name)
		assert.NotZero(t, c.SlowCallDuration, p.name)
	}
}

func TestPresetsAreValid(t *testing.T) {
	for _, p := range all {
		t.Run(p.name, func(t *testing.T) {
			b, err := cb.New[string](p.name, p.config())
			require.NoError(t, err)
			assert.Equal(t, cb.Closed, b.State())
			assert.NotPanics(t, func() { p.newInt(p.name) })
		})
	}
}

// The constructors make breakers with the preset: each trips on exactly
// its ConsecutiveFailures-th failure in a row (with fewer calls than
// MinimumCalls, the rate rule cannot have done it).
func TestNewTripsAtThePresetsStreak(t *testing.T) {
	for _, p := range all {
		t.Run(p.name, func(t *testing.T) {
			b := p.newInt("dep-" + p.name)
			assert.Equal(t, "dep-"+p.name, b.Name())
			n := p.want.ConsecutiveFailures
			for i := range n - 1 {
				b.Execute(func() (int, error) { return 0, errDown })
				require.Equal(t, cb.Closed, b.State(), "opened after %d failures", i+1)
			}
			b.Execute(func() (int, error) { return 0, errDown })
			assert.Equal(t, cb.Open, b.State())
			m := b.Metrics()
			assert.EqualValues(t, n, m.TotalFailures)
			// RetryAfter runs on the real clock: within a second of the
			// preset's open time.
			assert.LessOrEqual(t, m.RetryAfter, p.want.OpenTimeout)
			assert.Greater(t, m.RetryAfter, p.want.OpenTimeout-time.Second)
		})
	}
}

func TestNewPassesOptions(t *testing.T) {
	negativeFails := cb.WithClassifier(func(v int, err error) cb.Outcome {
		if err != nil || v < 0 {
			return cb.Failure
		}
		return cb.Success
	})
	for _, p := range all {
		t.Run(p.name, func(t *testing.T) {
			b := p.newInt("balance", negativeFails)
			_, res := b.Execute(func() (int, error) { return -1, nil })
			assert.Equal(t, cb.Failure, res.Outcome)
		})
	}
}

// fakeClocked returns the preset p on a fake clock, with the reasons of
// its transitions recorded.
func fakeClocked(p preset) (cfg cb.Config, clk *cbtest.Clock, reasons *[]string) {
	clk = cbtest.NewClock()
	reasons = new([]string)
	cfg = p.config()
	cfg.Clock = clk
	cfg.OnStateChange = func(tr cb.Transition) { *reasons = append(*reasons, tr.Reason.String()) }
	return cfg, clk, reasons
}

// run executes one call per letter of pattern (F fails, S succeeds) and
// returns the 1-based call after which the breaker was first open, 0 if
// never.
func run(b *cb.Breaker[int], pattern string) int {
	for i, c := range pattern {
		err := errDown
		if c == 'S' {
			err = nil
		}
		b.Execute(func() (int, error) { return 0, err })
		if b.State() == cb.Open {
			return i + 1
		}
	}
	return 0
}

// The rate rule over the preset's count window: each pattern keeps
// failures from building a streak, so only the rate can trip it, and
// only once MinimumCalls are in.
func TestPresetsFailureRate(t *testing.T) {
	tests := []struct {
		preset    preset
		streakOff bool // set ConsecutiveFailures Off
		pattern   string
		tripAt    int
	}{
		// 5 of 9 is over half, but 9 calls are fewer than MinimumCalls;
		// the next failure makes 6 of 11.
		{all[0], false, "FSFSFSFSFSFSF", 11},
		// 4 of 5 once MinimumCalls are in; 3 of 4 before is too early.
		{all[2], false, "FFSFFSS", 5},
		// Database: a rate of 70% cannot build up without two failures in
		// a row, which trip it first: its rate rule needs the streak rule
		// Off.
		{all[1], false, "FSFSFSFSFSFSFSFSFSFSFSFSFSFSFS", 0},
		{all[1], true, "FSFFS", 4},
	}
	for _, tt := range tests {
		t.Run(tt.preset.name, func(t *testing.T) {
			cfg, _, reasons := fakeClocked(tt.preset)
			if tt.streakOff {
				cfg.ConsecutiveFailures = cb.Off
			}
			b, err := cb.New[int](tt.preset.name, cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.tripAt, run(b, tt.pattern))
			if tt.tripAt == 0 {
				assert.Empty(t, *reasons)
				return
			}
			assert.Equal(t, []string{"failure rate"}, *reasons)
		})
	}
}

// The slow-call limit, the open time and the probes of each preset.
func TestPresetsTimings(t *testing.T) {
	for _, p := range all {
		t.Run(p.name, func(t *testing.T) {
			cfg, clk, reasons := fakeClocked(p)
			b, err := cb.New[int](p.name, cfg)
			require.NoError(t, err)

			// A call lasting exactly SlowCallDuration is not slow; one
			// nanosecond more is.
			_, res := b.Execute(func() (int, error) { clk.Advance(p.want.SlowCallDuration); return 1, nil })
			assert.False(t, res.Slow)
			_, res = b.Execute(func() (int, error) { clk.Advance(p.want.SlowCallDuration + 1); return 1, nil })
			assert.True(t, res.Slow)

			// Open for exactly OpenTimeout after its streak.
			require.Equal(t, p.want.ConsecutiveFailures, run(b, "FFFFFFFFFF"))
			clk.Advance(p.want.OpenTimeout - 1)
			assert.Equal(t, cb.Open, b.State())
			clk.Advance(1)
			assert.Equal(t, cb.HalfOpen, b.State())

			// SuccessThreshold probes close it.
			for i := range p.want.SuccessThreshold {
				require.Equal(t, cb.HalfOpen, b.State(), "closed after %d probes", i)
				_, res := b.Execute(func() (int, error) { return 1, nil })
				require.Equal(t, cb.Success, res.Outcome)
			}
			assert.Equal(t, cb.Closed, b.State())
			assert.Equal(t, []string{"consecutive failures", "open timeout elapsed", "probes succeeded"}, *reasons)
		})
	}
}
