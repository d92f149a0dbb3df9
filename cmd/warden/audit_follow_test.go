package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
)

// 'warden audit export' without --once follows the log: events appended by
// the ledger's writer (here a ledger the test holds, as a running host would)
// reach the NDJSON sink while export runs, and an interrupt ends it with
// exit 0 and the cursor at the end.
func TestAuditExportFollows(t *testing.T) {
	home := t.TempDir()
	seedAudit(t, home, 2)
	sinkFile := filepath.Join(t.TempDir(), "out.ndjson")
	cfg := fmt.Sprintf(`{"sinks":[{"name":"file","type":"file","path":%q}]}`, sinkFile)
	if err := os.WriteFile(filepath.Join(home, "audit", "export.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	old := exportFollowContext
	exportFollowContext = func(parent context.Context) (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { exportFollowContext = old }()

	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runCLI(t, home, "audit", "export", "--interval", "2ms")
		done <- result{code, out, errOut}
	}()
	lines := func() int {
		b, _ := os.ReadFile(sinkFile)
		return strings.Count(string(b), "\n")
	}
	waitLines := func(want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // only stops a broken loop hanging the test
		for lines() < want {
			if time.Now().After(deadline) {
				cancel()
				r := <-done
				t.Fatalf("sink has %d lines, want %d; export: exit %d\n%s%s", lines(), want, r.code, r.out, r.errOut)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	// 2 seeded events + the export.config event export records on start.
	waitLines(3)

	// A host starts while export runs (export does not hold the lock) and
	// appends: those events are exported too.
	held := holdLedger(t, home)
	for i := range 3 {
		if _, err := held.Append(context.Background(), &audit.Event{Action: "fs.read", Resource: fmt.Sprintf("filesystem:/x%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitLines(6)
	cancel()
	r := <-done
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || !strings.Contains(r.out, "file: sent") {
		t.Fatalf("export after interrupt: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	if n := lines(); n != 6 {
		t.Fatalf("sink has %d lines, want 6 (each event once)", n)
	}
	cur, err := os.ReadFile(filepath.Join(home, "audit", "export", "file.cursor"))
	if err != nil || strings.TrimSpace(string(cur)) != "6" {
		t.Fatalf("cursor %q, %v; want 6", cur, err)
	}
}
