package main

import (
	"bufio"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tripswitch/tripswitch/internal/leakcheck"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// The command serves the dashboard and the JSON report of the simulated
// breakers, and stops with every goroutine when interrupted.
func TestServes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- mainErr(ctx, []string{"-addr", "127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	url := strings.Fields(line)[1]
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), line)

	get := func(target string) (status int, body []byte) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	status, page := get(url)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(page), "Circuit breakers · shop")
	assert.Contains(t, string(page), `data-name="shipping-rates"`)
	_, data := get(url + "?part=data")
	var d struct {
		Breakers []struct {
			Name   string `json:"name"`
			Forced bool   `json:"forced"`
		} `json:"breakers"`
	}
	require.NoError(t, json.Unmarshal(data, &d))
	assert.Len(t, d.Breakers, len(dependencies))
	assert.Equal(t, "shipping-rates", d.Breakers[0].Name, "the forced-open breaker is first")
	assert.True(t, d.Breakers[0].Forced)

	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		require.Fail(t, "the command did not stop when interrupted")
	}
	http.DefaultClient.CloseIdleConnections()
}

// -screenshot writes a PNG of the requested size (the make target that
// regenerates docs/dashboard.png runs this with the default warm-up).
// Like the registry's browser tests, it needs Chromium and fails without.
func TestScreenshot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shot.png")
	var out strings.Builder
	err := mainErr(t.Context(), []string{"-screenshot", file, "-warmup", "1s", "-width", "800", "-height", "500"}, &out, io.Discard)
	require.NoError(t, err, "needs Chromium (apt-get install -y chromium):\n%s", out.String())
	assert.Contains(t, out.String(), "screenshot written to "+file)
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	assert.Equal(t, 800, cfg.Width)
	assert.Equal(t, 500, cfg.Height)
}
