package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// errMisbehaved is what a run whose fleet did not behave returns: the
// summary has said how.
var errMisbehaved = errors.New("the fleet did not open, probe or close together")

func main() {
	if isReplica() {
		os.Exit(replicaProcess())
	}
	// Interrupting ends the run early, with its summary and no verdict;
	// every process the demo started is stopped first.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := mainErr(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// isReplica reports whether this process is one the demo started as a
// replica.
func isReplica() bool { return os.Getenv(replicaEnv) != "" }

// replicaProcess runs this process as a replica and returns its status.
func replicaProcess() int {
	if err := replicaMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleet replica:", err)
		return 1
	}
	return 0
}

// exitCode is the process status for mainErr's error. Asking for the
// usage with -h is a success: the flag package has printed it already.
func exitCode(err error, errOut io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(errOut, "fleet:", err)
		return 1
	}
}

// mainErr runs the demo with the command line args, printing the timeline
// and the summary to out, and the usage, flag errors and the replicas'
// own errors to errOut.
func mainErr(ctx context.Context, args []string, out, errOut io.Writer) error {
	o, err := parseFlags(args, errOut)
	if err != nil {
		return err
	}
	res, err := run(ctx, o, out, errOut)
	switch {
	case res.interrupted:
		printSummary(out, o, res)
		return errors.New("interrupted before the end of the schedule: no verdict")
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("interrupted while the demo started: %w", err)
	case err != nil:
		return err
	}
	printSummary(out, o, res)
	if len(res.problems) > 0 {
		return fmt.Errorf("%w: %s", errMisbehaved, strings.Join(res.problems, "; "))
	}
	return nil
}

func parseFlags(args []string, errOut io.Writer) (options, error) {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var o options
	fs.IntVar(&o.replicas, "replicas", 4, "replica processes (at least 2: it takes two to make a fleet's quorum)")
	phases := fs.String("phases", "healthy=4s,down=6s,healthy=6s", "the dependency's phases, name=duration (healthy or down), in order")
	fs.DurationVar(&o.tick, "tick", 250*time.Millisecond, "time between timeline lines")
	fs.DurationVar(&o.pace, "pace", 200*time.Millisecond, "each replica's time between two calls")
	fs.DurationVar(&o.openTimeout, "open", 2*time.Second, "the breaker's OpenTimeout")
	fs.DurationVar(&o.bound, "bound", time.Second, "how far apart the replicas may open, or close, and still count as together")
	fs.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server binary (Debian's package installs /usr/bin/redis-server)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	plan, err := parseSchedule(*phases)
	if err != nil {
		return o, err
	}
	o.plan = plan
	return o, o.validate()
}

func (o options) validate() error {
	switch {
	case o.replicas < 2 || o.replicas > 64:
		return fmt.Errorf("-replicas %d: must be between 2 and 64", o.replicas)
	case o.tick <= 0:
		return fmt.Errorf("-tick %v: must be positive", o.tick)
	case o.pace < 10*time.Millisecond || o.pace > window/8:
		// Faster, the replicas would load the machine more than the demo
		// needs; slower, a window would hold too few calls to judge.
		return fmt.Errorf("-pace %v: must be between 10ms and %v", o.pace, window/8)
	case o.openTimeout <= 0:
		return fmt.Errorf("-open %v: must be positive", o.openTimeout)
	case o.bound <= 0:
		return fmt.Errorf("-bound %v: must be positive", o.bound)
	}
	return nil
}
