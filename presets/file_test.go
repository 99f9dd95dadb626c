package presets_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/cb"
	"github.com/tripswitch/tripswitch/presets"
)

func TestByName(t *testing.T) {
	for name, want := range map[string]cb.Config{
		"api": presets.API(), "database": presets.Database(), "network": presets.Network(), "": {},
	} {
		got, err := presets.ByName(name)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
	}
	_, err := presets.ByName("API")
	assert.EqualError(t, err, `tripswitch: presets: no preset named "API" (there are "api", "database" and "network")`)
}

func TestFromJSON(t *testing.T) {
	cfg, err := presets.FromJSON([]byte(`{"preset": "network", "open_timeout": "45s", "consecutive_failures": "off"}`))
	require.NoError(t, err)
	want := presets.Network()
	want.OpenTimeout, want.ConsecutiveFailures = 45*time.Second, cb.Off
	assert.Equal(t, want, cfg)

	cfg, err = presets.FromJSON([]byte(`{"window_calls": 10}`))
	require.NoError(t, err)
	assert.Equal(t, cb.Config{WindowCalls: 10}, cfg, "no preset: cb's defaults")

	for doc, msg := range map[string]string{
		`[]`:                           "a config must be a JSON object",
		`{"preset": 3}`:                `"preset" must be a string`,
		`{"preset": "cache"}`:          `no preset named "cache"`,
		`{"preset": "api", "oops": 1}`: "oops = 1: is not a field",
	} {
		_, err := presets.FromJSON([]byte(doc))
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), msg, doc)
	}
}

// A config file names a preset and changes what it needs.
func ExampleFromJSON() {
	cfg, err := presets.FromJSON([]byte(`{"preset": "database", "open_timeout": "5s", "shadow": true}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.ConsecutiveFailures, cfg.OpenTimeout, cfg.Shadow)
	// Output:
	// 2 5s true
}
