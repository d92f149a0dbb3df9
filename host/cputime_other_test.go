//go:build !unix

package host

import "testing"

// meterCPU reports nothing where getrusage does not exist.
func meterCPU(*testing.B) func() { return func() {} }
