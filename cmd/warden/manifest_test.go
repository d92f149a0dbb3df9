package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// warden manifest schema prints the schema, and every example manifest
// validates against it with an independent validator.
func TestManifestSchemaValidatesExamples(t *testing.T) {
	code, out, errOut := runCLI(t, t.TempDir(), "manifest", "schema")
	if code != 0 || !strings.Contains(out, "https://json-schema.org/draft/2020-12/schema") {
		t.Fatalf("manifest schema: exit %d %s", code, errOut)
	}
	sch := compile(t, "manifest.schema.json", []byte(out))
	examples, _ := filepath.Glob("../../examples/*/manifest.json")
	if len(examples) < 2 {
		t.Fatalf("found %d example manifests", len(examples))
	}
	for _, p := range examples {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s does not validate against the schema: %v", p, err)
		}
	}
}

func TestManifestValidate(t *testing.T) {
	code, out, errOut := runCLI(t, t.TempDir(), "manifest", "validate", "../../examples/sheet-gen", "../../examples/hello/manifest.json")
	if code != 0 || strings.Count(out, ": valid") != 2 {
		t.Fatalf("validate examples: exit %d\n%s%s", code, out, errOut)
	}
	// Strictly, an example's entry must be built. A copy of its sources,
	// so that a plugin.wasm built in the checkout (it is gitignored) does
	// not change what the test sees.
	hello := helloPlugin(t)
	if code, _, _ := runCLI(t, t.TempDir(), "manifest", "validate", "--require-entry", hello); code != 1 {
		t.Fatalf("--require-entry on an unbuilt example: exit %d", code)
	}
	runMust(t, os.WriteFile(filepath.Join(hello, "plugin.wasm"), []byte("\x00asm\x01\x00\x00\x00"), 0o644))
	if code, out, errOut := runCLI(t, t.TempDir(), "manifest", "validate", "--require-entry", hello); code != 0 {
		t.Fatalf("--require-entry on a built example: exit %d\n%s%s", code, out, errOut)
	}

	bad := writePlugin(t, strings.Replace(manifestWith("fs:/tmp", `"read"`), `"version": "1.0.0"`, `"version": "1.0"`, 1))
	code, out, _ = runCLI(t, t.TempDir(), "manifest", "validate", bad)
	if code != 1 {
		t.Fatalf("invalid manifest: exit %d", code)
	}
	for _, want := range []string{bad + ":3:14: version: ", bad + ":9:19: permissions[0].resource: unknown resource kind \"fs\""} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, t.TempDir(), "manifest", "validate", "--json", bad)
	var res []struct {
		Valid  bool
		Errors []struct {
			Path      string
			Line, Col int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res[0].Valid || len(res[0].Errors) != 2 || res[0].Errors[1].Path != "permissions[0].resource" {
		t.Fatalf("--json: exit %d %v %+v\n%s", code, err, res, out)
	}
}
