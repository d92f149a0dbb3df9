package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCLIReferenceUpToDate keeps docs/cli.md in step with the command tree.
// Regenerate with: go run ./cmd/warden docs cli > docs/cli.md
func TestCLIReferenceUpToDate(t *testing.T) {
	code, out, errOut := runCLI(t, "", "docs", "cli")
	if code != 0 {
		t.Fatalf("docs cli: exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatalf("read docs/cli.md: %v (generate it with: go run ./cmd/warden docs cli > docs/cli.md)", err)
	}
	if string(want) != out {
		t.Fatalf("docs/cli.md is out of date; regenerate it with: go run ./cmd/warden docs cli > docs/cli.md")
	}
}
