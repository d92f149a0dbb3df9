package cpumeter

import (
	"time"

	"golang.org/x/sys/windows"
)

// cpuTime is the process's user and kernel time from GetProcessTimes,
// Windows' getrusage.
func cpuTime() (time.Duration, bool) {
	var creation, exit, kernel, user windows.Filetime
	if err := windows.GetProcessTimes(windows.CurrentProcess(), &creation, &exit, &kernel, &user); err != nil {
		return 0, false
	}
	// A Filetime counts 100 ns ticks.
	ticks := func(ft windows.Filetime) int64 { return int64(ft.HighDateTime)<<32 | int64(ft.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100, true
}
