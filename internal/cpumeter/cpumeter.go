// Package cpumeter adds a "cpu-ns/op" metric to benchmarks: the process's CPU
// time (user and system, every thread — background writers and the garbage
// collector included) per operation. On a shared machine wall time swings
// with other people's load; CPU time mostly does not, so ratios of it hold.
package cpumeter

import "testing"

// Start begins metering b; call the returned function after the benchmark
// loop. Where the OS has neither getrusage nor GetProcessTimes it reports
// nothing.
func Start(b *testing.B) func() {
	start, ok := cpuTime()
	if !ok {
		return func() {}
	}
	return func() {
		if end, ok := cpuTime(); ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
