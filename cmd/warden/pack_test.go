package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"

	"github.com/wardenproject/warden/bundle"
)

// keygenPublisher runs warden keygen --publisher and returns the key id and
// the key file paths.
func keygenPublisher(t *testing.T, home, name string) (id, key, pub string) {
	t.Helper()
	dir := t.TempDir()
	code, out, errOut := runCLI(t, home, "keygen", "--publisher", name, "--out", dir, "--json")
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	var r struct {
		KeyID string `json:"key_id"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.KeyID == "" {
		t.Fatalf("keygen --json: %v %s", err, out)
	}
	return r.KeyID, filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
}

// setPublisher rewrites the publisher of the manifest in dir.
func setPublisher(t *testing.T, dir, name, id string) {
	t.Helper()
	p := filepath.Join(dir, "manifest.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["publisher"] = map[string]string{"name": name, "key_id": id}
	raw, _ = json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// endToEnd runs keygen → pack → sign → trust add → verify → install --yes →
// list → uninstall against a fresh home, for the plugin in dir.
func endToEnd(t *testing.T, dir string, packArgs ...string) {
	home := t.TempDir()
	id, key, pub := keygenPublisher(t, home, "acme")
	setPublisher(t, dir, "Acme", id)
	var m struct{ Name, Version string }
	raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	json.Unmarshal(raw, &m)
	out := filepath.Join(t.TempDir(), "plugin"+bundle.Extension)

	run := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, home, args...)
		if code != want {
			t.Fatalf("warden %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout, stderr)
		}
		return stdout + stderr
	}
	run(0, append([]string{"pack", dir, "-o", out}, packArgs...)...)
	run(13, "verify", out) // unsigned
	run(0, "sign", out, "--key", key)
	run(10, "verify", out) // valid, key not trusted yet
	run(0, "trust", "add", pub, "--publisher", "Acme", "--expires", "2099-01-01")
	if s := run(0, "trust", "list"); !strings.Contains(s, id) || !strings.Contains(s, "trusted") {
		t.Fatalf("trust list: %s", s)
	}
	v := run(0, "verify", out, "--json")
	var r bundle.Result
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.State != bundle.ValidTrusted || r.KeyID != id {
		t.Fatalf("verify --json: %v %s", err, v)
	}

	// No terminal and no --yes: refused with a hint; --yes under the built-in
	// policy: refused; with unattended_install: installed.
	if s := run(1, "install", out); !strings.Contains(s, "hint:") {
		t.Fatalf("install without a terminal: %s", s)
	}
	run(1, "install", out, "--yes")
	if err := os.WriteFile(filepath.Join(home, "policy.yaml"), []byte("version: 1\nunattended_install: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(0, "install", out, "--yes")
	if _, err := os.Stat(filepath.Join(home, "plugins", m.Name, m.Version, "manifest.json")); err != nil {
		t.Fatalf("not extracted: %v", err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(run(0, "list", "--json")), &list); err != nil || len(list) != 1 ||
		list[0]["name"] != m.Name || list[0]["version"] != m.Version || list[0]["publisher"] != "Acme" || list[0]["trust"] != "trusted" {
		t.Fatalf("list --json: %v %v", err, list)
	}
	if s := run(0, "list"); !strings.Contains(s, "TRUST") || !strings.Contains(s, m.Name) {
		t.Fatalf("list: %s", s)
	}
	run(0, "uninstall", m.Name)
	if _, err := os.Stat(filepath.Join(home, "plugins", m.Name)); !os.IsNotExist(err) {
		t.Fatalf("files left after uninstall: %v", err)
	}
	if s := run(0, "list"); !strings.Contains(s, "no plugins installed") {
		t.Fatalf("list after uninstall: %s", s)
	}
	run(1, "uninstall", m.Name)
	run(0, "trust", "remove", id)
	run(10, "verify", out)

	// The trail: both refused installs, the install, its grants and the
	// uninstall are events, and the ledger verifies.
	var trail []string
	for _, line := range strings.Split(strings.TrimSpace(run(0, "audit", "tail", "-n", "100", "--json")), "\n") {
		var ev struct {
			Action, Outcome string
			Error           *struct{ Code string }
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			continue
		}
		if ev.Action == "install" || ev.Action == "uninstall" {
			e := ev.Action + "/" + ev.Outcome
			if ev.Error != nil {
				e += "/" + ev.Error.Code
			}
			trail = append(trail, e)
		}
	}
	want := []string{"install/error/needs_consent", "install/error/policy", "install/ok", "uninstall/ok"}
	if strings.Join(trail, " ") != strings.Join(want, " ") {
		t.Fatalf("install trail %v, want %v", trail, want)
	}
	run(0, "audit", "verify")
}

func TestEndToEndTinyPlugin(t *testing.T) {
	dir := t.TempDir()
	m := `{"name":"tiny","version":"1.0.0","description":"Does nothing.","entry":"plugin.wasm","runtime":"wasm",
 "permissions":[{"resource":"clipboard","actions":["write"],"reason":"Copies results."}]}`
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(m), 0o644)
	os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	endToEnd(t, dir)
}

// TestEndToEndHelloExample builds examples/hello with pack --build. The example
// and the pdk module it replaces are copied, so the tree is not written to.
func TestEndToEndHelloExample(t *testing.T) {
	_, err := exec.LookPath("go")
	testenv.Need(t, "a go toolchain on PATH", err)
	src := filepath.Join("..", "..", "examples", "hello")
	if _, err := os.Stat(filepath.Join(src, "main.go")); err != nil {
		t.Fatalf("examples/hello: %v", err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "examples", "hello")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(root, "pdk"), os.DirFS(filepath.Join("..", "..", "pdk"))); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "plugin.wasm"))
	endToEnd(t, dir, "--build")
}

func TestVerifyUnreadable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x"+bundle.Extension)
	os.WriteFile(p, []byte("not a tar"), 0o644)
	code, _, errOut := runCLI(t, t.TempDir(), "verify", p)
	if code != bundle.ExitCodeUnreadable || !strings.Contains(errOut, "hint:") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
