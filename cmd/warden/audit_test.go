package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostkey"
)

// seedAudit appends n events to <home>/audit through the library, signed by
// the host key, as the host would.
func seedAudit(t *testing.T, home string, n int) []string {
	t.Helper()
	ring, err := hostkey.Open(filepath.Join(home, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(home, "audit"), audit.WithSigner(ring.Signer()))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		plugin := "sheet-gen"
		if i%2 == 1 {
			plugin = "mailer"
		}
		ev := &audit.Event{Time: time.Now().UTC(), Action: "fs.read", Actor: audit.Actor{Plugin: plugin, Version: "1.0.0"},
			Resource: fmt.Sprintf("filesystem:/home/u/f%d", i), Outcome: audit.OutcomeOK}
		if _, err := l.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ev.ID)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestAuditCLI(t *testing.T) {
	home := t.TempDir()
	ids := seedAudit(t, home, 12)

	code, out, errOut := runCLI(t, home, "audit", "verify")
	if code != 0 || !strings.Contains(out, "ok: 12 events") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "--json", "audit", "verify")
	var vr struct {
		OK bool `json:"ok"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &vr) != nil || !vr.OK {
		t.Fatalf("verify --json: exit %d %s", code, out)
	}

	code, out, errOut = runCLI(t, home, "audit", "show", ids[3])
	if code != 0 || !strings.Contains(out, "filesystem:/home/u/f3") {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "--json", "audit", "show", "3")
	var sr struct {
		Index uint64          `json:"index"`
		Event json.RawMessage `json:"event"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &sr) != nil || sr.Index != 3 {
		t.Fatalf("show --json: exit %d %s", code, out)
	}

	code, out, _ = runCLI(t, home, "--json", "audit", "tail", "-n", "4", "--plugin", "mailer")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("tail: exit %d, %d lines\n%s", code, len(lines), out)
	}
	for _, line := range lines {
		ev, err := audit.ParseEvent([]byte(line))
		if err != nil || ev.Actor.Plugin != "mailer" {
			t.Fatalf("tail line %q: %v", line, err)
		}
	}
	code, out, _ = runCLI(t, home, "audit", "tail", "--since", "1h", "--action", "fs.*")
	if code != 0 || strings.Count(out, "\n") != 12 {
		t.Fatalf("tail --since: exit %d\n%s", code, out)
	}

	code, key, _ := runCLI(t, home, "audit", "pubkey")
	key = strings.TrimSpace(key)
	if code != 0 || !strings.HasPrefix(key, audit.KeyName+"+") {
		t.Fatalf("pubkey: %q", key)
	}
	proof := filepath.Join(t.TempDir(), "proof.json")
	if code, out, errOut = runCLI(t, home, "audit", "prove", ids[7], "-o", proof); code != 0 {
		t.Fatalf("prove: exit %d\n%s%s", code, out, errOut)
	}
	// The third-party path: no --home, only the proof and the key.
	if code, out, errOut = runCLI(t, "", "audit", "verify-proof", proof, "--key", key); code != 0 || !strings.Contains(out, "ok:") {
		t.Fatalf("verify-proof: exit %d\n%s%s", code, out, errOut)
	}
	keyFile := filepath.Join(t.TempDir(), "host.pub")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o644)
	if code, _, errOut = runCLI(t, "", "audit", "verify-proof", proof, "--key", keyFile); code != 0 {
		t.Fatalf("verify-proof with key file: exit %d %s", code, errOut)
	}
	// A proof whose event was edited fails.
	b, _ := os.ReadFile(proof)
	forged := strings.Replace(string(b), `filesystem:/home/u/f7`, `filesystem:/home/u/XX`, -1)
	os.WriteFile(proof, []byte(forged), 0o644)
	if code, _, errOut = runCLI(t, "", "audit", "verify-proof", proof, "--key", key); code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Fatalf("forged proof: exit %d %s", code, errOut)
	}

	// Export to an NDJSON file, once; a second run sends nothing new.
	sinkFile := filepath.Join(t.TempDir(), "out.ndjson")
	cfg := fmt.Sprintf(`{"sinks":[{"name":"file","type":"file","path":%q}]}`, sinkFile)
	os.WriteFile(filepath.Join(home, "audit", "export.json"), []byte(cfg), 0o600)
	if code, out, errOut = runCLI(t, home, "audit", "export", "--once"); code != 0 || !strings.Contains(out, "file: sent 13 events") {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = runCLI(t, home, "--json", "audit", "export", "--once"); code != 0 || !strings.Contains(out, `"sent": 0`) {
		t.Fatalf("second export: exit %d\n%s", code, out)
	}
	if code, _, _ = runCLI(t, home, "audit", "show", "12"); code != 0 {
		t.Fatal("the export.config event is missing")
	}
}

func TestAuditCLIDetectsTampering(t *testing.T) {
	home := t.TempDir()
	seedAudit(t, home, 5)
	seg := filepath.Join(home, "audit", "00000000000000000000.seg")
	fi, _ := os.Stat(seg)
	os.Truncate(seg, fi.Size()-30)
	code, out, _ := runCLI(t, home, "--json", "audit", "verify")
	var vr struct {
		OK   bool   `json:"ok"`
		Kind string `json:"kind"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &vr) != nil || vr.OK || vr.Kind != "truncated" {
		t.Fatalf("verify of a truncated log: exit %d %s", code, out)
	}
	code, _, errOut := runCLI(t, home, "audit", "verify")
	if code != 1 || !strings.Contains(errOut, "shorter than its checkpoint") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("verify text: exit %d %s", code, errOut)
	}
}

func TestAuditCLIUsage(t *testing.T) {
	if code, _, _ := runCLI(t, "", "audit", "verify-proof", "x"); code != 2 {
		t.Fatalf("verify-proof without --key: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, t.TempDir(), "audit", "export", "--interval", "0"); code != 2 {
		t.Fatalf("export following with --interval 0: exit %d, want 2", code)
	}
}

// TestAuditCLIWitness: the V-4 attack from the CLI's side. The checkpoints
// file is deleted (the step that lets records be rewritten and re-signed);
// verify fails against the host's witness or a checkpoint an auditor kept,
// commands that write refuse the ledger, and only 'audit recover' accepts it,
// on the record.
func TestAuditCLIWitness(t *testing.T) {
	home := t.TempDir()
	seedAudit(t, home, 6)
	witness := filepath.Join(home, "audit.witness")
	code, out, errOut := runCLI(t, home, "audit", "verify")
	if code != 0 || !strings.Contains(out, "extends the trusted checkpoint of 6 events in "+witness) {
		t.Fatalf("verify with the witness: exit %d\n%s%s", code, out, errOut)
	}
	kept := filepath.Join(t.TempDir(), "kept.checkpoint")
	b, err := os.ReadFile(witness)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kept, b, 0o600)

	if err := os.Remove(filepath.Join(home, "audit", "checkpoints")); err != nil {
		t.Fatal(err)
	}
	var vr struct {
		OK   bool   `json:"ok"`
		Kind string `json:"kind"`
	}
	code, out, _ = runCLI(t, home, "--json", "audit", "verify")
	if code != 1 || json.Unmarshal([]byte(out), &vr) != nil || vr.OK || vr.Kind != "rollback" {
		t.Fatalf("verify with checkpoints deleted: exit %d %s", code, out)
	}
	// Without its witness the host refuses the ledger, so verify fails too
	// (issue 10: it used to exit 0 without a word), and says how to go on.
	os.Rename(witness, witness+".hidden")
	code, out, errOut = runCLI(t, home, "--json", "audit", "verify")
	if code != 1 || json.Unmarshal([]byte(out), &vr) != nil || vr.OK || vr.Kind != "witness-missing" {
		t.Fatalf("verify without the witness: exit %d %s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, home, "audit", "verify")
	if code != 1 || !strings.Contains(errOut, "witness") || !strings.Contains(errOut, "--ignore-missing-witness") {
		t.Fatalf("verify without the witness: exit %d %s", code, errOut)
	}
	// A third party given a copy without the witness says so explicitly;
	// the checkpoints file deleted above still fails it, as the host would.
	code, out, _ = runCLI(t, home, "--json", "audit", "verify", "--ignore-missing-witness")
	if code != 1 || json.Unmarshal([]byte(out), &vr) != nil || vr.Kind != "checkpoints-missing" {
		t.Fatalf("with --ignore-missing-witness and no checkpoints: exit %d %s", code, out)
	}
	code, out, _ = runCLI(t, home, "--json", "audit", "verify", "--ignore-missing-witness", "--trusted", kept)
	if code != 1 || json.Unmarshal([]byte(out), &vr) != nil || vr.Kind != "rollback" {
		t.Fatalf("verify --trusted: exit %d %s", code, out)
	}
	if code, _, _ = runCLI(t, home, "audit", "verify", "--trusted", filepath.Join(home, "nope")); code != 2 {
		t.Fatalf("verify --trusted with a missing file: exit %d, want 2", code)
	}
	os.Rename(witness+".hidden", witness)

	// Writing commands refuse and point to recover.
	code, _, errOut = runCLI(t, home, "audit", "prove", "2")
	if code == 0 || !strings.Contains(errOut, "witness") || !strings.Contains(errOut, "warden audit recover") {
		t.Fatalf("prove on a ledger that lost its checkpoints: exit %d %s", code, errOut)
	}
	if code, _, _ = runCLI(t, home, "audit", "recover"); code != 2 {
		t.Fatalf("recover without --note: exit %d, want 2", code)
	}
	code, out, errOut = runCLI(t, home, "audit", "recover", "--note", "test: checkpoints deleted on purpose")
	if code != 0 || !strings.Contains(out, "logged ledger.recover") {
		t.Fatalf("recover: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "--json", "audit", "show", "6")
	if code != 0 || !strings.Contains(out, "ledger.recover") || !strings.Contains(out, "checkpoints deleted on purpose") {
		t.Fatalf("the recovery is not on the record: exit %d %s", code, out)
	}
	if code, out, errOut = runCLI(t, home, "audit", "verify"); code != 0 || !strings.Contains(out, "extends the trusted checkpoint of 7 events") {
		t.Fatalf("verify after recover: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ = runCLI(t, home, "audit", "recover", "--note", "again"); code != 0 || !strings.Contains(out, "nothing to recover") {
		t.Fatalf("second recover: exit %d %s", code, out)
	}

	// A copy made without its witness (the checkpoints intact): refused
	// like the host refuses it, accepted on request with a warning.
	os.Remove(witness)
	if code, _, errOut = runCLI(t, home, "audit", "verify"); code != 1 || !strings.Contains(errOut, "--ignore-missing-witness") {
		t.Fatalf("verify of a copy without its witness: exit %d %s", code, errOut)
	}
	code, out, errOut = runCLI(t, home, "audit", "verify", "--ignore-missing-witness")
	if code != 0 || !strings.Contains(out, "ok: 7 events") || !strings.Contains(out, "witness") || !strings.Contains(out, "missing") {
		t.Fatalf("verify --ignore-missing-witness: exit %d\n%s%s", code, out, errOut)
	}
}
