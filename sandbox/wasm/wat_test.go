package wasm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"
)

// The WAT guests are committed twice: the text a person reviews (.wat) and
// the module the tests load (.wasm), so that the tests that use them, attack
// tests among them, never depend on wat2wasm being installed. These tests
// keep the two from drifting apart.

// watPairs lists testdata/wat's guests by name; every .wat must have its
// .wasm and every .wasm its .wat.
func watPairs(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("testdata", "wat"))
	must(t, err)
	wat, wasm := map[string]bool{}, map[string]bool{}
	for _, e := range ents {
		switch name := e.Name(); {
		case strings.HasSuffix(name, ".wat"):
			wat[strings.TrimSuffix(name, ".wat")] = true
		case strings.HasSuffix(name, ".wasm"):
			wasm[strings.TrimSuffix(name, ".wasm")] = true
		default:
			t.Errorf("testdata/wat/%s: only .wat sources and their .wasm belong here", name)
		}
	}
	var names []string
	for n := range wat {
		if !wasm[n] {
			t.Errorf("testdata/wat/%s.wat has no committed %s.wasm: wat2wasm testdata/wat/%s.wat -o testdata/wat/%s.wasm", n, n, n, n)
		}
		names = append(names, n)
	}
	for n := range wasm {
		if !wat[n] {
			t.Errorf("testdata/wat/%s.wasm has no %s.wat it was assembled from", n, n)
		}
	}
	slices.Sort(names)
	return names
}

// TestWATGuestsCommitted runs everywhere: each guest is there in both forms.
func TestWATGuestsCommitted(t *testing.T) {
	if names := watPairs(t); len(names) < 10 {
		t.Fatalf("testdata/wat holds %d guests (%v); the tests load at least 10", len(names), names)
	}
}

// TestCommittedWasmMatchesWAT assembles each .wat with wabt's wat2wasm and
// requires the committed .wasm to be the same module: byte for byte, or, when
// another wabt version encodes differently, the same text once both are
// disassembled by this wasm2wat. Without wat2wasm it skips (the tests that
// load the guests still run); CI installs wabt, so there it must run.
func TestCommittedWasmMatchesWAT(t *testing.T) {
	_, err := exec.LookPath("wat2wasm")
	testenv.Need(t, "wat2wasm (Debian's wabt) to check the committed .wasm guests against their .wat", err)
	dir := t.TempDir()
	for _, name := range watPairs(t) {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", "wat", name+".wat")
			out := filepath.Join(dir, name+".wasm")
			if msg, err := exec.Command("wat2wasm", src, "-o", out).CombinedOutput(); err != nil {
				t.Fatalf("wat2wasm %s: %v\n%s", src, err, msg)
			}
			fresh, err := os.ReadFile(out)
			must(t, err)
			committed := watModule(t, name)
			if bytes.Equal(fresh, committed) {
				return
			}
			if disasm(t, out) != disasm(t, filepath.Join("testdata", "wat", name+".wasm")) {
				t.Fatalf("testdata/wat/%s.wasm is not the assembly of %s.wat: reassemble it with wat2wasm testdata/wat/%s.wat -o testdata/wat/%s.wasm",
					name, name, name, name)
			}
			t.Logf("%s.wasm differs in bytes from this wat2wasm's output but disassembles to the same module", name)
		})
	}
}

// disasm is wasm2wat's text of the module at path.
func disasm(t *testing.T, path string) string {
	t.Helper()
	if _, err := exec.LookPath("wasm2wat"); err != nil {
		t.Fatalf("%s differs in bytes and wasm2wat (wabt) is missing to compare the modules: %v", path, err)
	}
	out, err := exec.Command("wasm2wat", path).CombinedOutput()
	if err != nil {
		t.Fatalf("wasm2wat %s: %v\n%s", path, err, out)
	}
	return string(out)
}
