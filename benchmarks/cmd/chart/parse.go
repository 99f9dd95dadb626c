package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/tripswitch/tripswitch/benchmarks"
)

// series is one way of running a scenario: its mode and GOMAXPROCS.
type series struct {
	Mode  string
	Procs int
}

func (s series) String() string { return s.Mode + "/" + strconv.Itoa(s.Procs) }

// key names one benchmark: Benchmark<Scenario>/lib=<Lib>/mode=<Mode>[-Procs].
type key struct {
	Scenario string
	Lib      string
	series
}

// cell is what the runs of one benchmark measured.
type cell struct {
	NsOp     []float64
	AllocsOp []float64
}

// MedianNs is the median ns/op of the runs.
func (c *cell) MedianNs() float64 { return median(c.NsOp) }

// MaxAllocs is the largest allocs/op of the runs (-1 if not reported).
func (c *cell) MaxAllocs() float64 {
	if len(c.AllocsOp) == 0 {
		return -1
	}
	return slices.Max(c.AllocsOp)
}

// results is a parsed `go test -bench` output.
type results struct {
	Header map[string]string // goos, goarch, pkg, cpu
	Cells  map[key]*cell
}

// cell returns the measurements of a benchmark, or nil.
func (r *results) cell(scenario, lib string, s series) *cell {
	return r.Cells[key{scenario, lib, s}]
}

// samples returns the fewest and the most runs of any benchmark.
func (r *results) samples() (low, high int) {
	for _, c := range r.Cells {
		n := len(c.NsOp)
		if low == 0 || n < low {
			low = n
		}
		high = max(high, n)
	}
	return low, high
}

// parse reads benchmark output in the Go benchmark format. Lines that are
// not benchmark results or header keys are skipped, and so are the results
// of benchmarks outside the comparison (see inComparison); a benchmark
// line of this comparison that cannot be read is an error, and so is a
// failed benchmark, of the comparison or not.
func parse(in io.Reader) (*results, error) {
	r := &results{Header: map[string]string{}, Cells: map[key]*cell{}}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.Contains(k, " ") && !strings.HasPrefix(k, "Benchmark") {
			if _, seen := r.Header[k]; !seen {
				r.Header[k] = strings.TrimSpace(v)
			}
			continue
		}
		if strings.Contains(line, "--- FAIL") {
			return nil, fmt.Errorf("line %d: a benchmark failed: %s", n, strings.TrimSpace(line))
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || len(fields)%2 != 0 {
			continue // e.g. a benchmark's name printed alone before its log output
		}
		if !inComparison(fields[0]) {
			continue
		}
		k, err := parseName(fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		c := r.Cells[k]
		if c == nil {
			c = &cell{}
			r.Cells[k] = c
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: value %q: %w", n, fields[i], err)
			}
			switch fields[i+1] {
			case "ns/op":
				c.NsOp = append(c.NsOp, v)
			case "allocs/op":
				c.AllocsOp = append(c.AllocsOp, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(r.Cells) == 0 {
		return nil, fmt.Errorf("no benchmark results")
	}
	return r, nil
}

// inComparison reports whether the benchmark called name is one of the
// comparison's, Benchmark<Scenario>... for a scenario of
// benchmarks.Scenarios. The module's other benchmarks (the fleet
// breakers', over Redis) run in the same `make bench` and are left to
// benchstat: their calls cost microseconds, and no table here has their
// columns.
func inComparison(name string) bool {
	top := strings.TrimPrefix(name, "Benchmark")
	if i := strings.IndexByte(top, '/'); i >= 0 {
		top = top[:i]
	} else if i := strings.LastIndexByte(top, '-'); i > 0 {
		if _, err := strconv.Atoi(top[i+1:]); err == nil {
			top = top[:i]
		}
	}
	for _, s := range benchmarks.Scenarios {
		if s.String() == top {
			return true
		}
	}
	return false
}

// parseName splits a benchmark name of this comparison into its key.
func parseName(name string) (key, error) {
	var k key
	k.Procs = 1
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if p, err := strconv.Atoi(name[i+1:]); err == nil && p > 0 {
			name, k.Procs = name[:i], p
		}
	}
	parts := strings.Split(strings.TrimPrefix(name, "Benchmark"), "/")
	if len(parts) != 3 {
		return k, fmt.Errorf("benchmark %q: want Benchmark<Scenario>/lib=<lib>/mode=<mode>", name)
	}
	k.Scenario = parts[0]
	lib, okLib := strings.CutPrefix(parts[1], "lib=")
	mode, okMode := strings.CutPrefix(parts[2], "mode=")
	if !okLib || !okMode || k.Scenario == "" || lib == "" || mode == "" {
		return k, fmt.Errorf("benchmark %q: want Benchmark<Scenario>/lib=<lib>/mode=<mode>", name)
	}
	k.Lib, k.Mode = lib, mode
	return k, nil
}

// median returns the median of xs (NaN-free), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
