// Package headless runs headless Chromium from its command line, for the
// tests and tools that look at the dashboard in a real browser. It uses
// nothing but the standard library: the library's go.mod must not grow a
// browser driver.
package headless

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Names are the commands Find looks for, in order, when $CHROMIUM is unset.
var Names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// ErrNotFound matches the error of Find when no browser is installed.
var ErrNotFound = errors.New("headless: no Chromium found")

// Find returns the browser to run: $CHROMIUM if set, else the first of
// Names on $PATH.
func Find() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, n := range Names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: looked for $CHROMIUM and %s on $PATH; install it (Debian: apt-get install -y chromium)",
		ErrNotFound, strings.Join(Names, ", "))
}

// Result is what one run of the browser left.
type Result struct {
	// Stdout is what the browser printed: the DOM, for DumpDOM.
	Stdout string
	// Log is its stderr, with the page's console messages (see Console).
	Log string
	// Elapsed is the run's wall-clock time, the browser's start included.
	Elapsed time.Duration
}

// Console returns the lines of the log that the page's console or an
// uncaught exception wrote: with --enable-logging=stderr every console
// message, whatever its level, is logged as CONSOLE, and Content Security
// Policy violations are console messages.
func (r Result) Console() []string {
	var lines []string
	for l := range strings.Lines(r.Log) {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

// Options are a run's settings.
type Options struct {
	// Budget is the virtual time the page's scripts get before the
	// browser dumps or shoots: timers run as fast as the page's network
	// fetches let them, so a page polling every second makes several
	// polls in much less real time.
	Budget time.Duration
	// Width and Height are the window's size in CSS pixels (default
	// 1280x800), at a device scale factor of 1.
	Width, Height int
}

// DumpDOM loads url, lets its scripts run for opts.Budget of virtual time
// and returns the serialised DOM in Result.Stdout.
func DumpDOM(ctx context.Context, browser, url string, opts Options) (Result, error) {
	return run(ctx, browser, opts, "--dump-dom", url)
}

// Screenshot loads url like DumpDOM and writes a PNG of the window to file.
func Screenshot(ctx context.Context, browser, url, file string, opts Options) (Result, error) {
	// The browser runs in its profile's directory, which goes with it.
	abs, err := filepath.Abs(file)
	if err != nil {
		return Result{}, err
	}
	return run(ctx, browser, opts, "--screenshot="+abs, "--hide-scrollbars", url)
}

func run(ctx context.Context, browser string, opts Options, args ...string) (Result, error) {
	profile, err := os.MkdirTemp("", "headless-profile-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(profile)
	w, h := opts.Width, opts.Height
	if w <= 0 || h <= 0 {
		w, h = 1280, 800
	}
	full := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
		"--user-data-dir=" + profile,
		"--enable-logging=stderr", "--v=0",
		"--force-device-scale-factor=1",
		"--window-size=" + strconv.Itoa(w) + "," + strconv.Itoa(h),
	}
	if opts.Budget > 0 {
		full = append(full, "--virtual-time-budget="+strconv.FormatInt(opts.Budget.Milliseconds(), 10))
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, browser, full...) //nolint:gosec // G204: the browser Find chose, with fixed flags; no shell

	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Dir = profile
	ownGroup(cmd)
	start := time.Now()
	err = cmd.Run()
	killGroup(cmd)
	res := Result{Stdout: stdout.String(), Log: stderr.String(), Elapsed: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("headless: %s: %w\n%s", browser, err, tail(res.Log, 4000))
	}
	return res, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
