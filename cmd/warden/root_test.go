package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs warden in process with an isolated --home and returns exit code,
// stdout and stderr. Every CLI test goes through it.
func runCLI(t *testing.T, home string, args ...string) (int, string, string) {
	t.Helper()
	if home != "" {
		args = append([]string{"--home", home}, args...)
	}
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersionJSON(t *testing.T) {
	code, out, errOut := runCLI(t, t.TempDir(), "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("version --json is not JSON: %v\n%s", err, out)
	}
	if v["version"] == "" || v["go"] == "" {
		t.Fatalf("version --json lacks fields: %v", v)
	}
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	code, _, errOut := runCLI(t, t.TempDir(), "no-such-command")
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut, "unknown command") || !strings.Contains(errOut, "hint:") {
		t.Fatalf("stderr does not explain: %q", errOut)
	}
}

func TestCompletion(t *testing.T) {
	code, out, errOut := runCLI(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Fatalf("completion bash: exit %d, stderr %s", code, errOut)
	}
}

// TestJSONErrors: with --json every failure is one JSON object on stdout
// with a stable code, the message and the hint; the text stays on stderr.
func TestJSONErrors(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		args []string
		code string
		exit int
	}{
		{[]string{"--json", "no-such-command"}, "usage", 2},
		{[]string{"--json", "grant", "only-one-arg"}, "usage", 2},
		{[]string{"--json", "lint", filepath.Join(home, "missing")}, "error", 1},
		{[]string{"--json", "token", "mint", "--sub", "x"}, "usage", 2},
	} {
		code, out, errOut := runCLI(t, home, tc.args...)
		var v struct {
			OK    *bool `json:"ok"`
			Error struct {
				Code, Message, Hint string
				Exit                int
			}
		}
		if code != tc.exit || json.Unmarshal([]byte(out), &v) != nil || v.OK == nil || *v.OK || v.Error.Code != tc.code ||
			v.Error.Message == "" || v.Error.Exit != tc.exit || !strings.Contains(errOut, "warden: ") {
			t.Errorf("%v: exit %d\nstdout %s\nstderr %s", tc.args, code, out, errOut)
		}
	}
}
