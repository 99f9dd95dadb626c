package metricspec_test

import (
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/cb/cbtest"
	"github.com/tripswitch/tripswitch/internal/metricspec"
)

var promName = regexp.MustCompile(`^[a-z][a-z0-9_]*[a-z0-9]$`)

func TestFamiliesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for id, f := range metricspec.Families {
		assert.Regexp(t, promName, f.Name, "family %d", id)
		assert.False(t, seen[f.Name], "%s named twice", f.Name)
		seen[f.Name] = true
		assert.NotEmpty(t, f.Help, f.Name)
		assert.LessOrEqual(t, len(f.Labels), 2, "%s: Each passes two label values at most", f.Name)
		assert.Equal(t, f.Kind == metricspec.Counter, regexp.MustCompile(`_total$`).MatchString(f.Name),
			"%s: counters, and only they, end in _total", f.Name)
	}
}

func TestLabelIsSnakeCase(t *testing.T) {
	assert.Equal(t, "half_open", metricspec.StateLabel(cb.HalfOpen))
	assert.Equal(t, "closed", metricspec.StateLabel(cb.Closed))
	rs, labels := metricspec.Reasons()
	require.Len(t, labels, len(rs))
	for i, r := range rs {
		assert.Regexp(t, promName, labels[i], r.String())
	}
	assert.Equal(t, "slow_call_rate", metricspec.Label(cb.ReasonSlowCallRate.String()))
}

// Each gives every breaker the same samples, whatever its figures, but
// for the window ratios, which wait for a call in the window.
func TestEachSamples(t *testing.T) {
	clock := cbtest.NewClock()
	b := cb.MustNew[int]("x", cb.Config{ConsecutiveFailures: 1, OpenTimeout: time.Minute, Clock: clock})

	count := func() map[metricspec.ID]int {
		n := map[metricspec.ID]int{}
		m := b.Metrics()
		metricspec.Each(&m, func(id metricspec.ID, _ float64, l1, l2 string) {
			n[id]++
			assert.Equal(t, len(metricspec.Families[id].Labels) >= 1, l1 != "", "%v", id)
			assert.Equal(t, len(metricspec.Families[id].Labels) == 2, l2 != "", "%v", id)
		})
		return n
	}
	rs, _ := metricspec.Reasons()
	empty := count()
	assert.Equal(t, 3, empty[metricspec.State])
	assert.Equal(t, len(metricspec.Outcomes), empty[metricspec.Calls])
	assert.Equal(t, len(rs), empty[metricspec.Transitions])
	assert.Zero(t, empty[metricspec.WindowFailureRatio])
	assert.Zero(t, empty[metricspec.WindowSlowCallRatio])

	b.Execute(func() (int, error) { return 0, errors.New("down") })
	full := count()
	assert.Equal(t, 1, full[metricspec.WindowFailureRatio])
	assert.Equal(t, 1, full[metricspec.WindowSlowCallRatio])
	for id := range metricspec.NumFamilies {
		assert.Positive(t, full[id], "family %s has samples", metricspec.Families[id].Name)
	}
}
