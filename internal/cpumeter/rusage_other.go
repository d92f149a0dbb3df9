//go:build !unix && !windows

package cpumeter

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
