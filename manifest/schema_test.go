package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileJSONSchema compiles a schema document with santhosh-tekuri/jsonschema,
// a validator independent of Parse.
func compileJSONSchema(t testing.TB, url string, src []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("%s is not JSON: %v", url, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile %s: %v", url, err)
	}
	return s
}

func schemaAccepts(s *jsonschema.Schema, src []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

func TestSchemaFileIsEmbedded(t *testing.T) {
	onDisk, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, Schema()) {
		t.Fatal("Schema() differs from manifest/schema.json")
	}
	s := string(Schema())
	if !strings.Contains(s, `"$schema": "https://json-schema.org/draft/2020-12/schema"`) {
		t.Fatal("schema does not declare draft 2020-12")
	}
}

// Parse and the published schema agree: every manifest Parse and Validate
// accept, the schema accepts; every structure fault Parse rejects, the schema
// rejects too (except the faults JSON Schema cannot see: duplicate keys, NUL,
// encoding, depth; those files are named *.parse-only.json).
func TestSchemaAgreesWithParse(t *testing.T) {
	s := compileJSONSchema(t, "manifest.schema.json", Schema())
	accepted, _ := filepath.Glob("testdata/valid/*.json")
	lint, _ := filepath.Glob("testdata/lint/*.json")
	accepted = append(accepted, lint...)
	accepted = append(accepted, "../examples/sheet-gen/manifest.json", "../examples/hello/manifest.json")
	for _, f := range accepted {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(src)
		if err == nil {
			err = m.Validate(filepath.Dir(f), ValidateOptions{AllowUnbuilt: true})
		}
		if err != nil {
			t.Errorf("%s: Parse+Validate: %v", f, err)
		}
		if err := schemaAccepts(s, src); err != nil {
			t.Errorf("%s: the schema rejects what Parse accepts: %v", f, err)
		}
	}
	structure, _ := filepath.Glob("testdata/structure/*.json")
	for _, f := range structure {
		src, _ := os.ReadFile(f)
		if _, err := Parse(src); err == nil {
			t.Errorf("%s: Parse accepted a structure fault", f)
		}
		if strings.HasSuffix(f, ".parse-only.json") {
			continue
		}
		if err := schemaAccepts(s, src); err == nil {
			t.Errorf("%s: the schema accepts what Parse rejects", f)
		}
	}
	// Meaning faults the schema can express are rejected by both as well.
	for _, name := range []string{"bad-name-underscore", "bad-name-double-hyphen", "bad-version", "bad-version-v",
		"bad-version-leading-zero", "bad-runtime", "bad-key-id", "bad-tool-name", "schema-not-object", "timeout-too-long",
		"negative-memory", "bad-event", "no-actions"} {
		src, _ := os.ReadFile(filepath.Join("testdata/invalid", name+".json"))
		if err := schemaAccepts(s, src); err == nil {
			t.Errorf("%s: the schema accepts what Validate rejects", name)
		}
	}
}

// Marshal output of a valid manifest passes the schema: omitted optional fields
// never come out as null.
func TestMarshalPassesSchema(t *testing.T) {
	s := compileJSONSchema(t, "manifest.schema.json", Schema())
	for _, f := range []string{"testdata/valid/bare.json", "testdata/valid/full.json", "../examples/sheet-gen/manifest.json"} {
		m := loadTestdata(t, f)
		out, err := jsonMarshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaAccepts(s, out); err != nil {
			t.Errorf("%s: marshalled manifest fails the schema: %v\n%s", f, err, out)
		}
	}
}
