package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadTestdata(t testing.TB, path string) *Manifest {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestValidateInvalidTestdata(t *testing.T) {
	want := map[string]struct{ path, msg string }{
		"bad-action":               {"permissions[0].actions[0]", `action "get" is not valid`},
		"bad-event":                {"events[0]", "event name"},
		"bad-key-id":               {"publisher.key_id", "key id"},
		"bad-name-double-hyphen":   {"name", "plugin name"},
		"bad-name-underscore":      {"name", "plugin name"},
		"bad-runtime":              {"runtime", "not one of wasm, process, mcp"},
		"bad-tool-name":            {"tools[0].name", "not a valid MCP tool name"},
		"bad-version":              {"version", "Semantic Versioning"},
		"bad-version-leading-zero": {"version", "Semantic Versioning"},
		"bad-version-v":            {"version", `drop the leading "v"`},
		"climbs-above-root":        {"permissions[0].resource", "climbs above the root"},
		"duplicate-tool":           {"tools[1].name", "already used by tools[0]"},
		"entry-absolute":           {"entry", "relative path"},
		"entry-escapes":            {"entry", "relative path"},
		"entry-missing":            {"entry", "does not exist"},
		"negative-memory":          {"limits.memory_mb", "out of range"},
		"no-actions":               {"permissions[0].actions", "no actions"},
		"schema-invalid":           {"tools[0].input_schema", "not a valid JSON Schema"},
		"schema-not-object":        {"tools[0].input_schema", `"type" must be "object"`},
		"schema-remote-ref":        {"tools[0].input_schema", "file:///etc/passwd"},
		"timeout-too-long":         {"limits.timeout_ms", "out of range"},
		"unknown-kind":             {"permissions[0].resource", `unknown resource kind "fs"`},
		"write-budget-too-large":   {"limits.max_write_bytes", "out of range"},
	}
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) != len(want) {
		t.Errorf("%d files in testdata/invalid, %d cases in the table", len(files), len(want))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s", f)
			}
			m := loadTestdata(t, f)
			err := m.Validate("testdata/invalid", ValidateOptions{Home: "/home/user"})
			errs := Errors(err)
			if len(errs) != 1 {
				t.Fatalf("want exactly one fault, got %v", err)
			}
			e := errs[0]
			if e.Path != w.path || !strings.Contains(e.Msg, w.msg) || e.Line == 0 {
				t.Fatalf("got %v, want %s: ...%s...", e, w.path, w.msg)
			}
		})
	}
}

func TestValidateValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.json")
	lint, _ := filepath.Glob("testdata/lint/*.json")
	for _, f := range append(files, lint...) {
		m := loadTestdata(t, f)
		if err := m.Validate(filepath.Dir(f), ValidateOptions{}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestExamplesValid(t *testing.T) {
	for _, dir := range []string{"../examples/sheet-gen", "../examples/hello"} {
		// The examples are Go source; their entry is built by the toolchain.
		if _, err := LoadWith(dir, ValidateOptions{AllowUnbuilt: true}); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}

func TestAllowUnbuiltNeedsGoSource(t *testing.T) {
	dir := t.TempDir()
	src := []byte(`{` + head + `}`)
	if err := os.WriteFile(filepath.Join(dir, FileName), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(dir, ValidateOptions{AllowUnbuilt: true}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing entry without go.mod: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(dir, ValidateOptions{AllowUnbuilt: true}); err != nil {
		t.Fatalf("missing entry with go.mod and AllowUnbuilt: %v", err)
	}
	if _, err := Load(dir); err == nil {
		t.Fatal("Load (strict) accepted a missing entry")
	}
}

// Attack: an entry that is a symbolic link out of the plugin directory must
// not pass as present, even though the file it points at exists.
func TestAttackEntrySymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "real.wasm"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "real.wasm"), filepath.Join(dir, "plugin.wasm")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(`{`+head+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if err == nil {
		t.Fatal("an entry linking outside the plugin directory was accepted")
	}
	if e := Errors(err); len(e) != 1 || e[0].Path != "entry" {
		t.Fatalf("want an entry error, got %v", err)
	}
}

// Attack: a "$ref" in a tool schema must never make warden read a file. The
// referenced file is a valid schema, so compiling would succeed if it were read.
func TestAttackSchemaRefNeverLoaded(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "other.json")
	if err := os.WriteFile(target, []byte(`{"type": "object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file://" + target, target, "http://127.0.0.1:1/schema.json", "https://json-schema.org/draft/2020-12/schema-not-a-meta"} {
		raw := []byte(`{"type": "object", "properties": {"a": {"$ref": "` + ref + `"}}}`)
		if err := CheckToolSchema(raw); err == nil {
			t.Errorf("$ref %q was resolved", ref)
		}
	}
	// References inside the schema keep working.
	ok := []byte(`{"type": "object", "$defs": {"n": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/n"}}}`)
	if err := CheckToolSchema(ok); err != nil {
		t.Fatalf("local $ref: %v", err)
	}
	// A schema naming an older draft compiles against the embedded metaschema.
	d7 := []byte(`{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}`)
	if err := CheckToolSchema(d7); err != nil {
		t.Fatalf("draft-07 schema: %v", err)
	}
}

func TestValidVersion(t *testing.T) {
	for _, v := range []string{"0.0.0", "1.0.2", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0-x-y-z.--"} {
		if !ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = false", v)
		}
	}
	for _, v := range []string{"", "1", "1.0", "v1.0.0", "01.0.0", "1.01.0", "1.0.01", "1.0.0-", "1.0.0-01", "1.0.0+", "1.0.0-alpha..1", "1.0.0 ", " 1.0.0", "1.0.0-α", "1.2.3.4", strings.Repeat("1", 130) + ".0.0"} {
		if ValidVersion(v) {
			t.Errorf("ValidVersion(%q) = true", v)
		}
	}
}

func TestValidNames(t *testing.T) {
	for _, n := range []string{"a", "sheet-gen", "x1-2-3", strings.Repeat("a", 64)} {
		if !ValidPluginName(n) {
			t.Errorf("ValidPluginName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "-a", "a-", "a--b", "a_b", "a__b", "a.b", "Sheet", "a b", strings.Repeat("a", 65)} {
		if ValidPluginName(n) {
			t.Errorf("ValidPluginName(%q) = true", n)
		}
	}
	for _, n := range []string{"a", "generate", "read_sheet", "A-1", strings.Repeat("x", 64)} {
		if !ValidToolName(n) {
			t.Errorf("ValidToolName(%q) = false", n)
		}
	}
	for _, n := range []string{"", "a b", "a.b", "a/b", "é", strings.Repeat("x", 65)} {
		if ValidToolName(n) {
			t.Errorf("ValidToolName(%q) = true", n)
		}
	}
}

// Attack: a manifest with thousands of tools or permissions is refused before
// any per-item work (a schema compile each) is done.
func TestAttackTooManyItems(t *testing.T) {
	tools := strings.Repeat(`{"name": "t", "input_schema": {"type": "object"}},`, MaxTools+1)
	perms := strings.Repeat(`{"resource": "filesystem:~/a", "actions": ["read"]},`, MaxPermissions+1)
	src := `{` + head + `, "tools": [` + strings.TrimSuffix(tools, ",") + `], "permissions": [` + strings.TrimSuffix(perms, ",") + `]}`
	m, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	errs := Errors(m.Validate(t.TempDir(), ValidateOptions{SkipEntry: true}))
	if len(errs) != 2 || errs[0].Path != "permissions" || errs[1].Path != "tools" {
		t.Fatalf("want one fault for each list, got %v", errs)
	}
}
