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
