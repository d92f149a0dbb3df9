package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A host that refuses to start on a ledger whose witness is gone says what
// happened and how to accept it on the record, not a generic --home hint.
func TestMCPStartHintNamesRecovery(t *testing.T) {
	home := t.TempDir()
	if code, _, errOut := runCLI(t, home, "grant", "p", "filesystem:/tmp/x", "read", "--key", pendingKey); code != 0 {
		t.Fatalf("grant: %s", errOut)
	}
	if err := os.Remove(filepath.Join(home, "audit.witness")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, home, "mcp")
	if code != 1 || !strings.Contains(errOut, "warden audit recover") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}
