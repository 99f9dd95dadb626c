package headless

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Console picks the page's messages out of the browser's own log, at
// whatever level the browser logged them.
func TestConsole(t *testing.T) {
	r := Result{Log: `[1:2:1201/221601.193669:ERROR:dbus/bus.cc:405] Failed to connect to the bus
[1:1:1201/221602.505299:INFO:CONSOLE:2] "hello", source: http://127.0.0.1:1/?part=script (2)
[1:1:1201/221602.505299:INFO:CONSOLE:1] "Uncaught TypeError: x is not a function", source: http://127.0.0.1:1/ (1)
[1:1:1201/221609.881457:WARNING:media/gpu/vaapi/vaapi_wrapper.cc:1655] drmGetDevices2() has not found any devices
`}
	assert.Equal(t, []string{
		`[1:1:1201/221602.505299:INFO:CONSOLE:2] "hello", source: http://127.0.0.1:1/?part=script (2)`,
		`[1:1:1201/221602.505299:INFO:CONSOLE:1] "Uncaught TypeError: x is not a function", source: http://127.0.0.1:1/ (1)`,
	}, r.Console())
	assert.Empty(t, Result{}.Console())
}

// $CHROMIUM names the browser; one that is not there is an error, not a
// fallback to another.
func TestFindHonoursTheEnvironment(t *testing.T) {
	t.Setenv("CHROMIUM", "/nonexistent/chromium-for-a-test")
	_, err := Find()
	require.Error(t, err)
	t.Setenv("CHROMIUM", "")
	t.Setenv("PATH", t.TempDir())
	_, err = Find()
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorContains(t, err, "apt-get install -y chromium")
}
