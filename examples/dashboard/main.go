package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/tripswitch/tripswitch/internal/headless"
	"github.com/tripswitch/tripswitch/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, context.Canceled):
	default:
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

// The page's settings: a short refresh and history, so that a warm-up of
// under a minute fills the sparklines.
const (
	refresh = 500 * time.Millisecond
	history = 40 * time.Second
)

func mainErr(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(errOut)
	addr := fs.String("addr", "127.0.0.1:8080", "where to serve the dashboard")
	shot := fs.String("screenshot", "", "write a PNG of the page to this file and exit")
	warmup := fs.Duration("warmup", 40*time.Second, "with -screenshot: how long the simulation runs first")
	width := fs.Int("width", 1400, "with -screenshot: the window's width")
	height := fs.Int("height", 640, "with -screenshot: the window's height")
	if err := fs.Parse(args); err != nil {
		return err
	}

	reg := registry.New()
	dash := reg.Dashboard(registry.WithDashboardRefresh(refresh), registry.WithDashboardHistory(history),
		registry.WithDashboardTitle("Circuit breakers · shop"))
	defer dash.Close()
	mux := http.NewServeMux()
	mux.Handle("/debug/breakers/ui/", dash)
	mux.Handle("/debug/breakers", reg.Handler())

	simCtx, stopSim := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if err := simulate(simCtx, reg, &wg); err != nil {
		stopSim()
		return err
	}
	defer func() { stopSim(); wg.Wait() }()

	if *shot != "" {
		return screenshot(ctx, mux, dash, *shot, *warmup, *width, *height, out)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "dashboard: http://%s/debug/breakers/ui/ (JSON: /debug/breakers); interrupt to stop\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown) // the process is ending; there is no one to tell
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return ctx.Err()
}

// screenshot runs the simulation for warmup while polling the dashboard
// as an open page would (its history is taken by polls), then
// photographs the page, polling on meanwhile so that the sparklines have
// no gap where the browser started.
func screenshot(ctx context.Context, mux, dash http.Handler, file string, warmup time.Duration, w, h int, out io.Writer) error {
	browser, err := headless.Find()
	if err != nil {
		return err
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	fmt.Fprintf(out, "warming up for %v at %s/debug/breakers/ui/\n", warmup, srv.URL)
	pollCtx, stopPolling := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		tick := time.NewTicker(refresh)
		defer tick.Stop()
		for {
			select {
			case <-pollCtx.Done():
				return
			case <-tick.C:
				req := httptest.NewRequestWithContext(pollCtx, http.MethodGet, "/?part=data", http.NoBody)
				dash.ServeHTTP(httptest.NewRecorder(), req)
			}
		}
	}()
	defer func() { stopPolling(); <-polled }()

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(warmup):
	}
	res, err := headless.Screenshot(ctx, browser, srv.URL+"/debug/breakers/ui/", file,
		headless.Options{Budget: 1500 * time.Millisecond, Width: w, Height: h})
	if err != nil {
		return err
	}
	if lines := res.Console(); len(lines) > 0 {
		return fmt.Errorf("the page wrote to the console: %q", lines)
	}
	fmt.Fprintf(out, "screenshot written to %s (%dx%d)\n", file, w, h)
	return nil
}
