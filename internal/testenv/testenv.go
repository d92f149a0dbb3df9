// Package testenv decides what a test does when this machine lacks something
// it needs (a tool, a kernel feature, a file system behaviour): skip on a
// developer's machine, fail under `.ci/run`.
//
// A security test that skips prints "ok" like one that passed, so a missing
// wat2wasm, node or kernel feature on the CI machine would leave a protection
// of docs/threat-model.md untested while the run is green. `.ci/run` sets
// WARDEN_CI=1 and installs everything the suite needs; there, a skip through
// Need is a failure that names what is missing. Tests the threat model cites
// may skip only through this package (TestCitedTestsNeverSkipSilently in
// cmd/warden checks that statically).
//
// Go's own internal/testenv has the same name and a related job (it skips
// tests that need a toolchain feature); it is not importable, and it does
// not know warden's CI.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// CIVar is the environment variable `.ci/run` sets to 1.
const CIVar = "WARDEN_CI"

// UnderCI reports whether the suite runs under `.ci/run`.
func UnderCI() bool { return os.Getenv(CIVar) == "1" }

// Need skips t when err is not nil and this is a developer's machine, and
// fails it under `.ci/run`. what names the missing thing as a person would
// ("wat2wasm", "an unprivileged user namespace"), err says why it is missing.
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("needs %s: %v", what, err)
	if UnderCI() {
		t.Fatalf("%s (under .ci/run, %s=1, a test that would skip fails instead: install it in .ci/run)", msg, CIVar)
	}
	t.Skip(msg)
}
