package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/testenv"
)

// The scaffold builds with stock Go, passes lint, runs with no capability,
// and the commented lines in main.go really read a granted file.
func TestInitBuildRun(t *testing.T) {
	_, err := exec.LookPath("go")
	testenv.Need(t, "a go toolchain on PATH", err)
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "greeter")
	code, out, errOut := runCLI(t, home, "init", dir)
	if code != 0 || !strings.Contains(out, "main.go") {
		t.Fatalf("init: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, home, "lint", dir); code != 0 {
		t.Fatalf("lint: exit %d\n%s\n%s", code, out, errOut)
	}
	// The exact build the README and the issue name, with stock Go.
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", "plugin.wasm", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=", "GOWORK=off")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}

	data := filepath.Join(dir, "data")
	code, out, errOut = runCLI(t, home, "run", "--json", "--cap", "filesystem:"+data+"=read", "--tool", "greet", "--input", `{"name":"Ada"}`, dir)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Result struct{ Message string }
		Events []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	if res.Result.Message != "Hello, Ada!" || len(res.Events) < 3 {
		t.Fatalf("run --json: %s", out)
	}

	// Uncomment the read in main.go: with the grant it reads the note,
	// without it the gate refuses and says so in the events.
	src, err := os.ReadFile(filepath.Join(dir, "main.go"))
	runMust(t, err)
	s := strings.Replace(string(src), "\t//\tnote, err := os.ReadFile(", "\tnote, err := os.ReadFile(", 1)
	s = strings.Replace(s, "\t//\tif err != nil {\n\t//\t\treturn Output{}, err // pdk.CodeOf(err) is \"denied\" without the grant\n\t//\t}",
		"\tif err != nil {\n\t\treturn Output{}, err\n\t}\n\tname += \" / \" + strings.TrimSpace(string(note))", 1)
	s = strings.Replace(s, "import (\n", "import (\n\t\"os\"\n", 1)
	if s == string(src) || !strings.Contains(s, "\tnote, err := os.ReadFile(") {
		t.Fatal("main.go no longer has the commented read this test uncomments")
	}
	runMust(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(s), 0o644))

	code, out, errOut = runCLI(t, home, "run", "--cap", "filesystem:"+data+"=read", "--input", `{"name":"Ada"}`, dir)
	if code != 0 || !strings.Contains(out, "A note for greeter") || !strings.Contains(out, "fs.open") {
		t.Fatalf("run with the grant: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, home, "run", "--input", `{"name":"Ada"}`, dir)
	if code != 1 || !strings.Contains(out, "deny") || !strings.Contains(out, filepath.Join(data, "note.txt")) {
		t.Fatalf("run without the grant: exit %d\n%s", code, out)
	}
}

func TestInitRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	runMust(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
	if code, _, errOut := runCLI(t, t.TempDir(), "init", dir); code != 2 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, t.TempDir(), "init", "--name", "Bad_Name", t.TempDir()); code != 2 || !strings.Contains(errOut, "not a valid plugin name") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func runMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestInitNextStepRunsAsPrinted: the command init prints as the next step
// works as printed, with the relative directory a person typed (issue 10:
// the path was joined twice, the build failed and left notes/notes behind).
func TestInitNextStepRunsAsPrinted(t *testing.T) {
	_, err := exec.LookPath("go")
	testenv.Need(t, "a go toolchain on PATH", err)
	home := t.TempDir()
	t.Chdir(t.TempDir())
	code, out, errOut := runCLI(t, home, "init", "--name", "notes", "notes")
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, errOut)
	}
	_, next, ok := strings.Cut(out, "next:\n")
	if !ok {
		t.Fatalf("init printed no next step:\n%s", out)
	}
	args := shellWords(t, strings.TrimSpace(strings.SplitN(next, "\n", 2)[0]))
	if len(args) < 2 || args[0] != "warden" || args[len(args)-1] != "notes" {
		t.Fatalf("next step %q", args)
	}
	code, out, errOut = runCLI(t, home, args[1:]...)
	if code != 0 || !strings.Contains(out, "Hello, Ada!") {
		t.Fatalf("%s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
	}
	for _, stray := range []string{"notes/notes", "notes/plugin.wasm.building"} {
		if _, err := os.Stat(stray); err == nil {
			t.Errorf("the build left %s behind", stray)
		}
	}
}

// shellWords splits a command line the way sh does for the plain words and
// single-quoted strings init prints.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
