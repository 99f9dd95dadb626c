package benchmarks

import (
	"strings"
	"sync"
	"testing"
)

// Each library runs each scenario it supports for a few operations, on one
// goroutine and on several, and must behave as the scenario requires: the
// same checks the benchmarks make, without timing.
func TestScenarios(t *testing.T) {
	const (
		serialOps     = 200
		goroutines    = 4
		opsPerRoutine = 50
	)
	for _, l := range Libs {
		for _, s := range Scenarios {
			if !l.Supports(s) {
				continue
			}
			t.Run(s.String()+"/"+l.Name, func(t *testing.T) {
				t.Parallel()
				br := build(t, l, s)
				op := br.Op(s)
				for i := range serialOps {
					if !op() {
						t.Fatalf("serial op %d: %s", i, s.Violation())
					}
				}
				if len(s.Modes()) > 1 {
					var wg sync.WaitGroup
					for range goroutines {
						wg.Go(func() {
							op := br.Op(s)
							for i := range opsPerRoutine {
								if !op() {
									t.Errorf("parallel op %d: %s", i, s.Violation())
									return
								}
							}
						})
					}
					wg.Wait()
				}
				if !br.Check(s) {
					t.Errorf("ended in the wrong state (closed: %v)", br.Closed())
				}
			})
		}
	}
}

// A breaker that should reject must reject: a closed breaker run through
// OpenReject's operation fails it, and an open one fails ClosedSuccess's.
// This is what makes a benchmark fail instead of reporting a wrong number.
func TestOpsDetectWrongState(t *testing.T) {
	for _, l := range Libs {
		if l.Kind == Floor {
			continue
		}
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			closed := build(t, l, ClosedSuccess)
			if closed.Op(OpenReject)() {
				t.Error("OpenReject's op passed on a closed breaker")
			}
			open := build(t, l, OpenReject)
			if open.Op(ClosedSuccess)() {
				t.Error("ClosedSuccess's op passed on an open breaker")
			}
			if open.Check(ClosedSuccess) {
				t.Error("Check(ClosedSuccess) passed on an open breaker")
			}
		})
	}
}

func TestLibsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, l := range Libs {
		if seen[l.Name] || strings.ContainsAny(l.Name, "/= ") {
			t.Errorf("library name %q is a duplicate or unfit for a benchmark name", l.Name)
		}
		seen[l.Name] = true
		if LibByName(l.Name) != l {
			t.Errorf("LibByName(%q) does not find it", l.Name)
		}
		if (l.Kind == Floor) != (l.Module == "") {
			t.Errorf("%s: a floor has no module, a library has one", l.Name)
		}
		for s, why := range l.Unsupported {
			if why == "" {
				t.Errorf("%s: no reason given for not running %s", l.Name, s)
			}
			if _, err := l.Build(s); err != ErrUnsupported { //nolint:errorlint // Build returns the sentinel itself
				t.Errorf("%s: Build(%s) = %v, want ErrUnsupported", l.Name, s, err)
			}
		}
	}
	if LibByName("no-such-lib") != nil {
		t.Error("LibByName found a library that does not exist")
	}
}

func TestNames(t *testing.T) {
	for _, s := range Scenarios {
		if strings.Contains(s.String(), "?") {
			t.Errorf("scenario %d has no name", s)
		}
	}
	if Scenario(99).String() != "Scenario(?)" || Mode(99).String() != "mode(?)" {
		t.Error("out-of-range names")
	}
	if Serial.Parallelism() != 0 || Par1.Parallelism() != 1 || Par8.Parallelism() != 8 {
		t.Error("parallelism")
	}
	if len(ProbeCycle.Modes()) != 1 || len(ClosedSuccess.Modes()) != 3 {
		t.Error("modes")
	}
}
