package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/bundle"
)

// TestInstallUpgradeCLI drives warden install --upgrade and
// --allow-downgrade through the CLI.
func TestInstallUpgradeCLI(t *testing.T) {
	home := t.TempDir()
	id, key, pub := keygenPublisher(t, home, "acme")
	run := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, home, args...)
		if code != want {
			t.Fatalf("warden %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout + stderr
	}
	bundleOf := func(version, perms string) string {
		t.Helper()
		dir := t.TempDir()
		m := fmt.Sprintf(`{"name":"tiny","version":%q,"description":"Does nothing.","entry":"plugin.wasm","runtime":"wasm",
 "publisher":{"name":"Acme","key_id":%q},"permissions":[%s]}`, version, id, perms)
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "tiny-"+version+bundle.Extension)
		run(0, "pack", dir, "-o", out)
		run(0, "sign", out, "--key", key)
		return out
	}
	clip := `{"resource":"clipboard","actions":["write"],"reason":"Copies results."}`
	logs := `{"resource":"kv:log-*","actions":["write"],"reason":"Keeps a log."}`
	v1 := bundleOf("1.0.0", clip)
	v2 := bundleOf("2.0.0", clip+","+logs)
	run(0, "trust", "add", pub, "--publisher", "Acme", "--expires", "2099-01-01")
	if err := os.WriteFile(filepath.Join(home, "policy.yaml"), []byte("version: 1\nunattended_install: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A grant given before the install, for this publisher's key, waits;
	// an unattended install confirms no such grant: it is removed.
	if s := run(0, "grant", "tiny", "clipboard", "write", "--key", id); !strings.Contains(s, "(pending)") {
		t.Fatalf("grant before install: %s", s)
	}
	if s := run(0, "install", v1, "--yes"); !strings.Contains(s, "of the grants given before the install, 0 confirmed and 1 removed") {
		t.Fatalf("install over a pending grant: %s", s)
	}
	if s := run(0, "grants"); strings.Contains(s, "pending") || !strings.Contains(s, "bound") {
		t.Fatalf("grants after an unattended install: %s", s)
	}
	if s := run(1, "install", v2, "--yes"); !strings.Contains(s, "already installed") || !strings.Contains(s, "--upgrade") {
		t.Fatalf("install over an installed plugin: %s", s)
	}
	var rep struct {
		Previous string `json:"previous_version"`
		Version  string `json:"version"`
		Grants   []struct{ Resource string }
		Kept     []struct{ Resource string }
	}
	if err := json.Unmarshal([]byte(run(0, "install", v2, "--yes", "--upgrade", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Previous != "1.0.0" || rep.Version != "2.0.0" || len(rep.Grants) != 1 || rep.Grants[0].Resource != "kv:log-*" ||
		len(rep.Kept) != 1 || rep.Kept[0].Resource != "clipboard" {
		t.Fatalf("upgrade report %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(home, "plugins", "tiny", "1.0.0")); !os.IsNotExist(err) {
		t.Fatalf("1.0.0 files left after the upgrade: %v", err)
	}

	if s := run(1, "install", v1, "--yes", "--upgrade"); !strings.Contains(s, "refusing to downgrade") || !strings.Contains(s, "--allow-downgrade") {
		t.Fatalf("downgrade: %s", s)
	}
	if s := run(1, "install", v2, "--yes", "--upgrade"); !strings.Contains(s, "already installed") {
		t.Fatalf("same version: %s", s)
	}
	if s := run(0, "install", v1, "--yes", "--allow-downgrade"); !strings.Contains(s, "replaced tiny 2.0.0 with 1.0.0") {
		t.Fatalf("allowed downgrade: %s", s)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(run(0, "list", "--json")), &list); err != nil || len(list) != 1 || list[0]["version"] != "1.0.0" {
		t.Fatalf("list after downgrade: %v %v", err, list)
	}
}
