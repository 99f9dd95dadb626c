package benchmarks

import "testing"

func BenchmarkClosedSuccess(b *testing.B) { benchScenario(b, ClosedSuccess) }

func BenchmarkHalfFailing(b *testing.B) { benchScenario(b, HalfFailing) }

func BenchmarkOpenReject(b *testing.B) { benchScenario(b, OpenReject) }

func BenchmarkProbeCycle(b *testing.B) { benchScenario(b, ProbeCycle) }

// benchScenario runs scenario s for every library that supports it, in
// every mode of s: Benchmark<Scenario>/lib=<name>/mode=<mode>.
func benchScenario(b *testing.B, s Scenario) {
	for _, l := range Libs {
		if !l.Supports(s) {
			continue
		}
		for _, m := range s.Modes() {
			b.Run("lib="+l.Name+"/mode="+m.String(), func(b *testing.B) {
				benchOne(b, l, s, m)
			})
		}
	}
}

// benchOne measures one library in one scenario and mode, on a breaker
// built and prepared for this run alone.
func benchOne(b *testing.B, l *Lib, s Scenario, m Mode) {
	br := build(b, l, s)
	b.ReportAllocs()
	if m == Serial {
		op := br.Op(s)
		for b.Loop() {
			if !op() {
				b.Fatal(s.Violation())
			}
		}
	} else {
		b.SetParallelism(m.Parallelism())
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			op := br.Op(s)
			for pb.Next() {
				if !op() {
					b.Error(s.Violation())
					return
				}
			}
		})
	}
	b.StopTimer()
	if !br.Check(s) {
		b.Fatalf("%s: the breaker ended in the wrong state (closed: %v)", s, br.Closed())
	}
}

// build returns l's breaker for scenario s, prepared, with its Stop
// registered as a cleanup of tb.
func build(tb testing.TB, l *Lib, s Scenario) *Breaker {
	tb.Helper()
	br, err := l.Build(s)
	if err != nil {
		tb.Fatalf("%s: build for %s: %v", l.Name, s, err)
	}
	if br.Stop != nil {
		tb.Cleanup(br.Stop)
	}
	if err := br.Prepare(s); err != nil {
		tb.Fatalf("%s: prepare %s: %v", l.Name, s, err)
	}
	return br
}
