//go:build unix

package host

import (
	"syscall"
	"testing"
	"time"
)

// meterCPU reports the process's CPU time (user and system, every thread:
// the ledger's goroutine and the garbage collector included) per op as
// "cpu-ns/op". On a shared machine wall time swings with other people's load;
// CPU time mostly does not, so ratios of it hold. Call the returned function
// after the benchmark loop.
func meterCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
