package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/tripswitch/tripswitch/registry"
)

func main() {
	// Interrupting ends the run early, with its summary.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode is the process status for mainErr's error. Asking for the
// usage with -h is a success: the flag package has printed it already.
func exitCode(err error, errOut io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(errOut, "flaky:", err)
		return 1
	}
}

// mainErr runs the demo with the command line args, printing the timeline
// to out and the usage and flag errors to errOut.
func mainErr(ctx context.Context, args []string, out, errOut io.Writer) (err error) {
	fs := flag.NewFlagSet("flaky", flag.ContinueOnError)
	fs.SetOutput(errOut)
	phases := fs.String("phases", "healthy=4s,failing=5s,slow=4s,recovering=7s", "the dependency's phases, name=duration, in order")
	o := options{}
	fs.DurationVar(&o.tick, "tick", 500*time.Millisecond, "time between timeline lines")
	fs.DurationVar(&o.openTimeout, "open", 2*time.Second, "breaker OpenTimeout (the preset's is 30s)")
	fs.DurationVar(&o.slowThreshold, "slow-threshold", 100*time.Millisecond, "breaker SlowCallDuration (the preset's is 10s)")
	fs.DurationVar(&o.latency, "latency", 150*time.Millisecond, "the dependency's answer time in the slow phase")
	fs.IntVar(&o.workers, "workers", 4, "client goroutines")
	fs.DurationVar(&o.pace, "pace", 10*time.Millisecond, "each worker's pause between calls")
	svgPath := fs.String("svg", "", "also write the timeline as an SVG chart to this file")
	serve := fs.String("serve", "127.0.0.1:0", "serve the dashboard, JSON report and Prometheus metrics at this address while the demo runs (port 0: a free one; empty: do not serve)")
	linger := fs.Duration("linger", 0, "with -serve: keep serving this long after the run (interrupt to stop early)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	plan, err := parseSchedule(*phases)
	if err != nil {
		return err
	}
	o.plan = plan
	if err := o.validate(); err != nil {
		return err
	}
	if *linger < 0 {
		return fmt.Errorf("-linger %v: must not be negative", *linger)
	}

	reg := registry.New()
	var mon *monitor
	if *serve != "" {
		// The page polls once a tick, as often as the timeline moves.
		mon, err = startMonitor(*serve, reg, max(o.tick, registry.MinDashboardRefresh))
		if err != nil {
			return err
		}
		defer func() {
			if cerr := mon.close(ctx); err == nil {
				err = cerr
			}
		}()
		mon.printURLs(out)
	}

	sum, samples, events, err := run(ctx, o, reg, out)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	printSummary(out, sum)
	if *svgPath != "" {
		f, err := os.Create(*svgPath)
		if err != nil {
			return err
		}
		writeSVG(f, o.plan, samples, events, sum.elapsed)
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(out, "timeline chart written to %s\n", *svgPath)
	}
	if mon != nil && *linger > 0 && ctx.Err() == nil {
		mon.linger(ctx, *linger, out)
	}
	return nil
}

func (o options) validate() error {
	switch {
	case o.tick <= 0:
		return fmt.Errorf("-tick %v: must be positive", o.tick)
	case o.openTimeout <= 0:
		return fmt.Errorf("-open %v: must be positive", o.openTimeout)
	case o.slowThreshold <= 0:
		return fmt.Errorf("-slow-threshold %v: must be positive", o.slowThreshold)
	case o.latency < 0:
		return fmt.Errorf("-latency %v: must not be negative", o.latency)
	case o.workers < 1:
		return fmt.Errorf("-workers %d: must be at least 1", o.workers)
	case o.pace < 0:
		return fmt.Errorf("-pace %v: must not be negative", o.pace)
	}
	return nil
}

func printSummary(out io.Writer, s summary) {
	calls := s.admitted + s.rejected
	fmt.Fprintf(out, "\nsummary after %s:\n", fmtSeconds(s.elapsed))
	fmt.Fprintf(out, "  calls made          %d\n", calls)
	fmt.Fprintf(out, "  reached dependency  %d\n", s.admitted)
	fmt.Fprintf(out, "  judged by breaker   %d (%d failed, %d slow); %d ended after a state change (stale)\n",
		s.judged, s.failures, s.slow, s.admitted-s.judged)
	fmt.Fprintf(out, "  spared by breaker   %d (rejected at once while open)\n", s.rejected)
	fmt.Fprintf(out, "  time spent open     %s\n", fmtSeconds(s.openTime))
	fmt.Fprintf(out, "  half-open probes    %d, recoveries %d\n", s.probes, s.recoveries)
	fmt.Fprintf(out, "  registry health     %d breaker(s): %d closed, %d open, %d half-open (%.0f%% healthy)\n",
		s.health.Total, s.health.Closed, s.health.Open, s.health.HalfOpen, s.health.HealthyPercent)
}
