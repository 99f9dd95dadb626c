package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/tripswitch/tripswitch/benchmarks
cpu: Test CPU
BenchmarkClosedSuccess/lib=tripswitch/mode=serial         	1000	        100.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedSuccess/lib=tripswitch/mode=serial         	1000	        120.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedSuccess/lib=tripswitch/mode=serial         	1000	        110.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedSuccess/lib=gobreaker/mode=serial          	1000	        250.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedSuccess/lib=tripswitch-hot/mode=par8-2     	1000	          5.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedSuccess/lib=floor-atomic/mode=par8-2       	1000	         16.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkClosedSuccess/lib=eapache/mode=par8-2            	1000	         20.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkOpenReject/lib=tripswitch-hot/mode=serial        	1000	          4.0 ns/op	       0 B/op	       1 allocs/op
BenchmarkOpenReject/lib=eapache/mode=serial               	1000	          6.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkDistributedGobreaker/goroutines=8-2              	1000	     250000 ns/op	         0.1200 counted/op	         7.300 redis-cmds/op	    7000 B/op	     100 allocs/op
PASS
ok  	github.com/tripswitch/tripswitch/benchmarks	1.0s
`

func TestParse(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header["cpu"] != "Test CPU" || r.Header["goos"] != "linux" {
		t.Errorf("header %v", r.Header)
	}
	c := r.cell("ClosedSuccess", "tripswitch", series{"serial", 1})
	if c == nil || c.MedianNs() != 110 || c.MaxAllocs() != 0 {
		t.Fatalf("tripswitch serial cell %+v", c)
	}
	if c := r.cell("ClosedSuccess", "tripswitch-hot", series{"par8", 2}); c == nil || c.MedianNs() != 5 {
		t.Errorf("par8-2 cell %+v", c)
	}
	for k := range r.Cells {
		if k.Scenario == "DistributedGobreaker" {
			t.Errorf("a benchmark outside the comparison was read: %+v", k)
		}
	}
	if low, high := r.samples(); low != 1 || high != 3 {
		t.Errorf("samples %d %d", low, high)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"BenchmarkClosedSuccess 100 1 ns/op\n",
		"BenchmarkClosedSuccess-2 100 1 ns/op\n",
		"BenchmarkOpenReject/lib=x/mode=serial 100 abc ns/op\n",
		"BenchmarkA/lib=x/mode=par1-2 \t--- FAIL: BenchmarkA/lib=x/mode=par1-2\n",
		"BenchmarkDistributedGobreaker 100 1 ns/op\n", // nothing of the comparison
	} {
		if _, err := parse(strings.NewReader(in)); err == nil {
			t.Errorf("parse(%q) succeeded", in)
		}
	}
}

func TestParseName(t *testing.T) {
	for name, want := range map[string]key{
		"BenchmarkHalfFailing/lib=tripswitch-hot-count/mode=par1-2": {"HalfFailing", "tripswitch-hot-count", series{"par1", 2}},
		"BenchmarkProbeCycle/lib=floor-call/mode=serial":            {"ProbeCycle", "floor-call", series{"serial", 1}},
	} {
		got, err := parseName(name)
		if err != nil || got != want {
			t.Errorf("parseName(%q) = %+v, %v; want %+v", name, got, err, want)
		}
	}
}

func TestMedian(t *testing.T) {
	if median(nil) != 0 || median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 2, 3}) != 2.5 {
		t.Error("median")
	}
}

func TestGoals(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	rows := goals(r)
	find := func(prefix string) goalRow {
		t.Helper()
		for _, g := range rows {
			if strings.HasPrefix(g.Goal, prefix) {
				return g
			}
		}
		t.Fatalf("no goal %q", prefix)
		return goalRow{}
	}
	if g := find("default Config (tripswitch): closed success ≤"); g.Met != "yes" || !strings.HasPrefix(g.Measured, "0.44×") {
		t.Errorf("closed success goal %+v", g)
	}
	if g := find("hot config (tripswitch-hot): parallelism 8"); g.Met != "yes" || !strings.HasPrefix(g.Measured, "0.31×") {
		t.Errorf("par8 goal %+v", g)
	}
	if g := find("hot config (tripswitch-hot): the fastest"); g.Met != "yes" {
		t.Errorf("fastest goal %+v", g)
	}
	if g := find("default Config (tripswitch): rejection"); g.Met != "—" {
		t.Errorf("unmeasured goal %+v", g)
	}
	if g := find("0 allocs/op"); g.Met == "yes" || !strings.Contains(g.Measured, "OpenReject tripswitch-hot serial/1: 1") {
		t.Errorf("alloc goal %+v", g)
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	svg := svgChart(r, "test <chart>")
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := d.Token()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	for _, want := range []string{"ClosedSuccess", "OpenReject", "tripswitch-hot", "10 ns", "test &lt;chart&gt;"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestRunWritesChartAndReadme(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bench.txt")
	readme := filepath.Join(dir, "README.md")
	svg := filepath.Join(dir, "chart.svg")
	if err := os.WriteFile(in, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "# title\n\nhand-written\n\n" + startMarker + "\nold\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(readme, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-in", in, "-svg", svg, "-readme", readme, "-make", "make bench", "-cmd", "go test -bench ."}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"hand-written", "after", "Provisional", "make bench", "go test -bench .", "| goal |", "#### ClosedSuccess"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("README lacks %q", want)
		}
	}
	if strings.Contains(string(got), "\nold\n") {
		t.Error("README kept the old generated part")
	}
	if _, err := os.Stat(svg); err != nil {
		t.Error(err)
	}
	if _, err := splice([]byte("no markers"), "x"); err == nil {
		t.Error("splice without markers succeeded")
	}
}
