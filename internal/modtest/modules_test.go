package modtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func goCmd(t *testing.T, dir string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...) // go test puts its own go first on PATH
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
}

// TestModules vets and tests each nested module natively, and vets the pdk and
// builds each example for the wasip1 target the host runs them on.
func TestModules(t *testing.T) {
	root := repoRoot(t)
	mods := []string{"pdk"}
	examples, _ := filepath.Glob(filepath.Join(root, "examples", "*", "go.mod"))
	for _, m := range examples {
		rel, _ := filepath.Rel(root, filepath.Dir(m))
		mods = append(mods, rel)
	}
	wasm := []string{"GOOS=wasip1", "GOARCH=wasm"}
	for _, m := range mods {
		t.Run(m, func(t *testing.T) {
			dir := filepath.Join(root, m)
			goCmd(t, dir, nil, "vet", "./...")
			goCmd(t, dir, nil, "test", "./...")
			goCmd(t, dir, wasm, "vet", "./...")
			if strings.HasPrefix(m, "examples") {
				goCmd(t, dir, wasm, "build", "-buildmode=c-shared", "-o", filepath.Join(t.TempDir(), "plugin.wasm"), ".")
			}
		})
	}
}
