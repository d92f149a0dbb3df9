package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// writePlugin writes a plugin directory with manifest.json holding src and a
// (placeholder) entry file, and returns the manifest's path.
func writePlugin(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func manifestWith(resource, actions string) string {
	return `{
  "name": "bad",
  "version": "1.0.0",
  "description": "Asks for too much.",
  "entry": "plugin.wasm",
  "runtime": "wasm",
  "publisher": {"name": "Test", "key_id": "ed25519:21fe31dfa154a261"},
  "permissions": [
    {"resource": "` + resource + `", "actions": [` + actions + `], "reason": "Test."}
  ],
  "tools": [{"name": "run", "description": "Run.", "input_schema": {"type": "object"}}]
}
`
}

func TestLintExamplePasses(t *testing.T) {
	for _, p := range []string{"../../examples/sheet-gen/manifest.json", "../../examples/hello"} {
		code, out, errOut := runCLI(t, t.TempDir(), "lint", p)
		if code != 0 {
			t.Fatalf("lint %s: exit %d\n%s%s", p, code, out, errOut)
		}
		if !strings.Contains(out, "risk ") || !strings.Contains(out, "0 errors") {
			t.Fatalf("lint %s output lacks the risk or the summary:\n%s", p, out)
		}
	}
}

func TestLintWildcardsFail(t *testing.T) {
	for _, c := range []struct{ res, acts, rule string }{
		{"filesystem:/**", `"read"`, "WDN001"},
		{"net:https://*", `"get"`, "WDN002"},
	} {
		p := writePlugin(t, manifestWith(c.res, c.acts))
		code, out, errOut := runCLI(t, t.TempDir(), "lint", p)
		if code != 1 {
			t.Fatalf("%s: exit %d, want 1\n%s%s", c.res, code, out, errOut)
		}
		want := p + ":9:18: error " + c.rule
		if !strings.Contains(out, want) || !strings.Contains(out, "permissions[0].resource") {
			t.Fatalf("%s: output does not name %q and the JSON path:\n%s", c.res, want, out)
		}

		code, out, _ = runCLI(t, t.TempDir(), "lint", "--json", p)
		var res struct {
			Files []struct {
				Findings []struct {
					RuleID    string `json:"rule_id"`
					Path      string
					Line, Col int
				}
				Risk struct{ Value int }
			}
			Errors int
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 {
			t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
		}
		f := res.Files[0].Findings[0]
		if res.Errors != 1 || f.RuleID != c.rule || f.Line != 9 || f.Col != 18 || res.Files[0].Risk.Value == 0 {
			t.Fatalf("--json: %+v", res)
		}
	}
}

func TestLintJSONPath(t *testing.T) {
	p := writePlugin(t, manifestWith("net:https://*", `"get"`))
	_, out, _ := runCLI(t, t.TempDir(), "lint", "--format", "json", p)
	if !strings.Contains(out, `"path": "permissions[0].resource"`) || !strings.Contains(out, `"rule_id": "WDN002"`) {
		t.Fatalf("json output:\n%s", out)
	}
}

func TestLintSARIFValidates(t *testing.T) {
	schemaSrc, err := os.ReadFile("../../manifest/testdata/sarif/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	sch := compile(t, "sarif.json", schemaSrc)
	bad := writePlugin(t, manifestWith("filesystem:~/.ssh/**", `"write"`))
	code, out, errOut := runCLI(t, t.TempDir(), "lint", "--format", "sarif", "../../examples/sheet-gen", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the second manifest has an error)\n%s", code, errOut)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output fails the SARIF 2.1.0 schema: %v", err)
	}
	if !strings.Contains(out, `"ruleId": "WDN003"`) || !strings.Contains(out, `"startLine": 9`) {
		t.Fatalf("SARIF lacks the finding or its line:\n%s", out)
	}
}

func TestLintUsageErrors(t *testing.T) {
	if code, _, errOut := runCLI(t, t.TempDir(), "lint", "--format", "xml", "x"); code != 2 || !strings.Contains(errOut, "hint:") {
		t.Fatalf("bad --format: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, t.TempDir(), "lint", filepath.Join(t.TempDir(), "none.json")); code != 1 || !strings.Contains(errOut, "hint:") {
		t.Fatalf("missing file: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, t.TempDir(), "lint"); code != 2 {
		t.Fatalf("no argument: exit %d", code)
	}
}

func compile(t *testing.T, url string, src []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
