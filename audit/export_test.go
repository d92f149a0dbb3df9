package audit

import "testing"

// What gate_fault_test.go (package audit_test) needs to drive the real gate
// over a ledger whose disk fails: the fault injection of faults_test.go.
// It exists in the test binary only.

// Faults makes chosen file operations of a ledger fail.
type Faults = faultOps

// Fault is one rule of Faults.
type Fault = fault

func NewFaults() *Faults { return newFaultOps() }

// Option makes the ledger use fo, and retry a stall at once.
func (fo *faultOps) Option() Option {
	opt := fo.option()
	return func(c *config) { opt(c); fastRetry(c) }
}

// FailSegments makes every later call of op ("write" or "datasync") on a
// segment file fail with err, until Clear.
func (fo *faultOps) FailSegments(op string, err error) *Fault {
	return fo.add(&fault{op: op, file: "*" + segSuffix, err: err})
}

// Clear lets the calls r failed pass again: the disk has room.
func (fo *faultOps) Clear(r *Fault) { fo.clear(r) }

// AwaitResume waits until l's writer has ended its stall and written
// everything queued.
func AwaitResume(t testing.TB, l *Ledger) { awaitResume(t, l) }
