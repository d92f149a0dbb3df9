package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// helloPlugin copies examples/hello (sources, with the replace to ../../pdk
// made absolute) into a temporary directory, so that warden run builds it
// there and never writes into the checkout.
func helloPlugin(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../../examples/hello")
	runMust(t, err)
	dir := t.TempDir()
	for _, f := range []string{"main.go", "manifest.json", "go.mod"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		runMust(t, err)
		if f == "go.mod" {
			b = []byte(strings.ReplaceAll(string(b), "=> ../../pdk", "=> "+filepath.Join(src, "..", "..", "pdk")))
		}
		runMust(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	return dir
}

func TestRunRefusesCapOutsideManifest(t *testing.T) {
	dir := helloPlugin(t)
	code, _, errOut := runCLI(t, t.TempDir(), "run", "--cap", "filesystem:/etc=read", dir)
	if code != 2 || !strings.Contains(errOut, "filesystem:/etc=read") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestRunUsageErrors(t *testing.T) {
	dir := helloPlugin(t)
	for _, args := range [][]string{
		{"run", "--cap", "filesystem:/tmp", dir},
		{"run", "--input", "{not json", dir},
		{"run", filepath.Join(dir, "nope")},
	} {
		if code, _, errOut := runCLI(t, t.TempDir(), args...); code != 2 {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
}

func TestRunWasmFileAndToolError(t *testing.T) {
	dir := helloPlugin(t)
	home := t.TempDir()
	// Builds, then runs the entry by its path; a failing tool exits 1 and
	// still prints the events.
	code, out, errOut := runCLI(t, home, "run", "--input", `{"name":" "}`, dir)
	if code != 1 || !strings.Contains(out, "error: invalid_params") || !strings.Contains(out, "tool.invoke") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, home, "run", "--input", `{"name":"Ada"}`, filepath.Join(dir, "plugin.wasm"))
	if code != 0 || !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestDemo(t *testing.T) {
	code, out, errOut := runCLI(t, "", "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"month,revenue,costs", "Jul,1200.5,800", "fs.write", "fs.open", "refused:", "deny", "ledger verified:"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// A malformed --cap or an unknown --tool is a mistake in the command line:
// exit 2, the flag and what is wrong with it named, and a hint that helps.
func TestRunFlagMistakes(t *testing.T) {
	dir := helloPlugin(t)
	home := t.TempDir()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--cap", "filesystem:data=read", dir},
			[]string{`--cap "filesystem:data=read"`, "relative path", "hint: write each --cap as RESOURCE=ACTION"}},
		{[]string{"run", "--cap", "filesystem:/tmp/x=frob", dir},
			[]string{`--cap "filesystem:/tmp/x=frob"`, `invalid action "frob"`, "valid actions are delete, list, read, write"}},
		{[]string{"run", "--cap", "nosuch:x=read", dir},
			[]string{`--cap "nosuch:x=read"`, "unknown resource kind"}},
		{[]string{"run", "--cap", "filesystem:/etc=read", dir},
			[]string{"grant outside the manifest", "hint: a --cap may grant only what manifest.json's permissions declare"}},
		{[]string{"run", "--tool", "nope", dir},
			[]string{`plugin hello has no tool "nope"`, "hint: its tools are: greet"}},
	} {
		code, out, errOut := runCLI(t, home, c.args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and no stdout", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errOut)
			}
		}
	}
}

// The hint for a grant outside the manifest lists what the manifest allows.
func TestRunOutsideGrantHintListsPermissions(t *testing.T) {
	dir := t.TempDir()
	runMust(t, os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"name": "n", "version": "0.1.0", "description": "d", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": {"name": "p", "key_id": "ed25519:21fe31dfa154a261"},
		"tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
		"permissions": [
		{"resource": "filesystem:~/notes", "actions": ["read", "list"], "reason": "r"},
		{"resource": "net:https://api.example.com/*", "actions": ["get"], "reason": "r"}]}`), 0o644))
	const want = "the manifest allows at most: --cap 'filesystem:~/notes=read,list' --cap 'net:https://api.example.com/*=get'"
	if got := declaredHint(dir); got != want {
		t.Errorf("declaredHint = %q, want %q", got, want)
	}
	if got := declaredHint(filepath.Join(dir, "missing")); !strings.Contains(got, "add a permission there or grant less") {
		t.Errorf("declaredHint without a manifest = %q", got)
	}
}

// TestRunHonoursWardenHome: like every command, warden run uses
// $WARDEN_HOME when --home is not given, so its install and audit events
// land in that home rather than in a temporary one.
func TestRunHonoursWardenHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("WARDEN_HOME", home)
	dir := helloPlugin(t)
	code, out, errOut := runCLI(t, "", "run", "--input", `{"name":"Ada"}`, dir)
	if code != 0 || !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "", "audit", "tail", "-n", "50"); code != 0 || !strings.Contains(out, "tool.invoke") {
		t.Fatalf("the run's events are not in $WARDEN_HOME: exit %d\n%s", code, out)
	}
}
