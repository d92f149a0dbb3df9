package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

const head = `"name": "demo", "version": "1.0.0", "description": "d", "entry": "plugin.wasm", "runtime": "wasm"`

func TestParseErrors(t *testing.T) {
	// at marks where the error must point: the last occurrence of the text in
	// the input (or "EOF" for the end), turned into line:column independently.
	tests := []struct {
		name string
		in   string
		path string
		at   string
		msg  string
	}{
		{"unknown field", "{" + head + ",\n \"homepage\": \"x\"}", "homepage", `"homepage"`, `unknown field "homepage"`},
		{"unknown nested field", "{" + head + ",\n\"permissions\": [\n {\"resource\": \"clipboard\", \"actions\": [\"write\"], \"scope\": 1}]}", "permissions[0].scope", `"scope"`, `unknown field "scope"`},
		{"duplicate key", "{" + head + ",\n  \"name\": \"x\"}", "name", `"name"`, `duplicate key "name"`},
		{"duplicate key in schema", "{" + head + `, "tools": [{"name": "t", "input_schema": {"type": "object",` + "\n" + `"properties": {}, "properties": {}}}]}`, "tools[0].input_schema.properties", `"properties"`, "duplicate key"},
		{"wrong type", "{" + head + ",\n\"limits\": {\"timeout_ms\": \"5\"}}", "limits.timeout_ms", `"5"`, "expected an integer, found a string"},
		{"wrong type in array", "{" + head + `, "events": ["a", 1]}`, "events[1]", `1]`, "expected a string, found a number"},
		{"fraction", "{" + head + `, "limits": {"memory_mb": 1.5}}`, "limits.memory_mb", `1.5`, "expected an integer"},
		{"out of range", "{" + head + `, "limits": {"memory_mb": 99999999999}}`, "limits.memory_mb", `99999999999`, "out of range"},
		{"null", "{" + head + `, "publisher": null}`, "publisher", `null`, "expected an object, found null"},
		{"missing required", `{"name": "demo"}`, "version", `{`, `missing required field "version"`},
		{"missing nested required", "{" + head + `, "tools": [{}]}`, "tools[0].name", `{}`, `missing required field "name"`},
		{"trailing data", "{" + head + "}\n\n x", "", `x`, "unexpected data after the end"},
		{"second object", "{" + head + "} {}", "", `{}`, "unexpected data after the end"},
		{"syntax", "{" + head + ",\n \"tools\": [,]}", "tools[0]", `,]`, "malformed JSON"},
		{"truncated", "{" + head, "", "EOF", "ends before the value is complete"},
		{"not an object", `"manifest"`, "", `"manifest"`, "expected the manifest to be a JSON object, found a string"},
		{"empty", " \n", "", " \n", "input is empty"},
		{"NUL byte", "{" + head + ",\x00}", "", "\x00", "NUL byte"},
		{"NUL escape", "{" + head + `, "events": ["a\u0000"]}`, "events[0]", `"a\u0000"`, "NUL character"},
		{"NUL in key", "{" + head + `, "a\u0000": 1}`, `["a\x00"]`, `"a\u0000"`, "NUL character"},
		{"invalid UTF-8", "{\n\"name\": \"d\xffmo\"}", "", "\xff", "invalid UTF-8"},
		{"BOM", "\xef\xbb\xbf{}", "", "\xef", "byte order mark"},
		{"column counts code points", "{\"description\": \"héllo\", \"x\": 1}", "x", `"x"`, "unknown field"},
		{"too deep", "{" + head + `, "tools": [{"name": "t", "input_schema": {"type": "object", "default": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}}]}", "", strings.Repeat("[", 100-60), "deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted %q: %+v", tt.in, m)
			}
			var found *Error
			for _, e := range Errors(err) {
				if strings.Contains(e.Msg, tt.msg) {
					found = e
					break
				}
			}
			if found == nil {
				t.Fatalf("no error says %q; got:\n%v", tt.msg, err)
			}
			if tt.path != "" && found.Path != tt.path {
				t.Errorf("path = %q, want %q (%v)", found.Path, tt.path, found)
			}
			off := len(tt.in)
			if tt.at != "EOF" {
				off = strings.LastIndex(tt.in, tt.at)
			}
			line := 1 + strings.Count(tt.in[:off], "\n")
			col := 1 + utf8.RuneCountInString(tt.in[strings.LastIndex(tt.in[:off], "\n")+1:off])
			if found.Line != line || found.Col != col {
				t.Errorf("position = %d:%d, want %d:%d (%v)", found.Line, found.Col, line, col, found)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := append([]byte("{"+head+`, "description": "`), bytes.Repeat([]byte("a"), MaxSize)...)
	_, err := Parse(append(big, `"}`...))
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversize input: %v", err)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(p, append(big, `"}`...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load of an oversize file: %v", err)
	}
}

func TestParseRoundTrip(t *testing.T) {
	src, err := os.ReadFile("../examples/sheet-gen/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "sheet-gen" || m.Version != "1.0.3" || len(m.Permissions) != 1 || len(m.Tools) != 1 ||
		m.Permissions[0].Actions[1] != "write" || m.Tools[0].Annotations == nil || *m.Tools[0].Annotations.ReadOnlyHint ||
		m.Limits.TimeoutMS != 5000 || m.Publisher.KeyID != "ed25519:21fe31dfa154a261" {
		t.Fatalf("parsed wrongly: %+v", m)
	}
	if !bytes.HasPrefix(m.Tools[0].InputSchema, []byte(`{`)) || !bytes.HasSuffix(m.Tools[0].InputSchema, []byte(`}`)) {
		t.Fatalf("input_schema bytes: %s", m.Tools[0].InputSchema)
	}
	out, err := jsonMarshal(m)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(out)
	if err != nil {
		t.Fatalf("Parse of Marshal output: %v\n%s", err, out)
	}
	out2, _ := jsonMarshal(m2)
	if !bytes.Equal(out, out2) {
		t.Fatalf("round trip changed the manifest:\n%s\n%s", out, out2)
	}
}

func TestStructureTestdataRejected(t *testing.T) {
	files, _ := filepath.Glob("testdata/structure/*.json")
	if len(files) < 20 {
		t.Fatalf("only %d structure cases", len(files))
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse(src)
		if err == nil {
			t.Errorf("%s: Parse accepted it", f)
			continue
		}
		for _, e := range Errors(err) {
			if e.Line < 1 || e.Col < 1 {
				t.Errorf("%s: error without a position: %v", f, e)
			}
		}
	}
}

func TestErrorListUnwrap(t *testing.T) {
	_, err := Parse([]byte(`{"name": 1, "version": 2}`))
	var l ErrorList
	if !errors.As(err, &l) || len(l) < 2 {
		t.Fatalf("want an ErrorList, got %T %v", err, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "name" {
		t.Fatalf("errors.As(*Error) = %v", e)
	}
	if got := (&Error{File: "manifest.json", Path: "permissions[1].resource", Line: 12, Col: 5, Msg: "unknown resource kind \"fs\""}).Error(); got != `manifest.json:12:5: permissions[1].resource: unknown resource kind "fs"` {
		t.Fatalf("Error() = %q", got)
	}
}

func TestPathsForOddKeys(t *testing.T) {
	for in, want := range map[string]string{
		joinKey("", "a"):                      "a",
		joinKey("a", "b-c"):                   "a.b-c",
		joinKey("a", "$defs"):                 `a["$defs"]`,
		joinKey("a", `x"]y`):                  `a["x\"]y"]`,
		joinIndex(joinKey("", "tools"), 3):    "tools[3]",
		parentPath(`a["x\"]y"]`):              "a",
		parentPath(`tools[3]`):                "tools",
		parentPath(`tools[3].input_schema.x`): "tools[3].input_schema",
		parentPath(`a["b[c"]`):                "a",
		parentPath(`name`):                    "",
	} {
		if in != want {
			t.Errorf("got %q, want %q", in, want)
		}
	}
}
