package phases_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/examples/internal/phases"
)

var names = map[string]int{"up": 1, "down": 2}

func TestParseAndRead(t *testing.T) {
	s, err := phases.Parse("up=1s, down=2s,up=500ms", names)
	require.NoError(t, err)
	assert.Equal(t, 3500*time.Millisecond, s.Total())
	assert.Equal(t, 1, s.At(0))
	assert.Equal(t, 2, s.At(time.Second))
	assert.Equal(t, 1, s.At(time.Hour), "the last phase lasts")
	assert.Equal(t, 0, s.Index(-time.Second), "the first phase before the start")
	from, to := s.Bounds(1)
	assert.Equal(t, [2]time.Duration{time.Second, 3 * time.Second}, [2]time.Duration{from, to})
}

func TestParseRefusesBadPhases(t *testing.T) {
	for in, want := range map[string]string{
		"up":          "want name=duration",
		"sideways=1s": "unknown behaviour \"sideways\" (down, up)",
		"up=0s":       "want a positive duration",
		"up=soon":     "want a positive duration",
	} {
		_, err := phases.Parse(in, names)
		assert.ErrorContains(t, err, want, in)
	}
}
