package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/wardenproject/warden/resource"
)

const testHome = "/home/alice"

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse([]byte(src), ParseOptions{File: "test.yaml", Home: testHome})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestParseGoodFiles(t *testing.T) {
	p, err := Load("testdata/enterprise.yaml", ParseOptions{Home: testHome})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.MaxTokenTTL != 15*time.Minute || p.MaxRisk != 60 || p.MaxMemoryMB != 512 || p.UnattendedInstall {
		t.Fatalf("scalars: %+v", p)
	}
	if len(p.Rules) != 6 || p.Rules[0].ID != "no-ssh-keys" || p.Rules[0].pattern.String() != "filesystem:/home/alice/.ssh" {
		t.Fatalf("rules: %+v", p.Rules)
	}
	if got := categories(p.AlwaysAsk); got != "net process clipboard:read" {
		t.Fatalf("always_ask: %s", got)
	}
	if len(p.PreapprovedPublishers) != 1 || p.PreapprovedPublishers[0].KeyID != "ed25519:0123456789abcdef" {
		t.Fatalf("preapproved: %+v", p.PreapprovedPublishers)
	}

	m, err := Load("testdata/minimal.json", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.MaxTokenTTL != DefaultMaxTokenTTL || categories(m.AlwaysAsk) != "net process" || m.MaxRisk != 100 || m.Source != "testdata/minimal.json" {
		t.Fatalf("defaults of a minimal file: %+v", m)
	}
	f, err := Load("testdata/full.json", ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxWriteBytes != 16<<20 || f.MaxEvents != 5000 || f.MaxLogBytes != 64<<10 ||
		f.PluginBudget != (PluginBudget{Window: 10 * time.Minute, WriteBytes: 1 << 30, Events: 200000, LogBytes: 4 << 20}) {
		t.Fatalf("full.json budgets: %+v %+v", f, f.PluginBudget)
	}
	if len(f.AlwaysAsk) != 0 || f.AlwaysAsk == nil || !f.UnattendedInstall || len(f.Rules) != 3 || f.Rules[2].Resource != "" {
		t.Fatalf("full.json: %+v", f)
	}
}

func categories(cs []Category) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.String())
	}
	return strings.Join(s, " ")
}

// Every fault of testdata/bad.yaml is reported, each at its line:column.
func TestParseReportsEveryFaultWithPosition(t *testing.T) {
	_, err := Load("testdata/bad.yaml", ParseOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("Load(bad.yaml) = %v, want a ValidationError", err)
	}
	want := []string{
		"testdata/bad.yaml:2:16: max_token_ttl: must be a duration",
		"testdata/bad.yaml:3:1: colour: unknown field \"colour\"",
		"testdata/bad.yaml:6:13: rules[0].effect: \"permit\" is not an effect",
		"testdata/bad.yaml:8:9: rules[1].id: rule id \"a\" is already used by rules[0]",
		"testdata/bad.yaml:11:14: rules[1].actions: invalid action \"read\" for net",
		"testdata/bad.yaml:14:19: rules[2].override_ask: only an allow rule",
		"testdata/bad.yaml:15:15: rules[2].resource: resource pattern \"nosuch:thing\"",
		"testdata/bad.yaml:18:5: rules[3].effect: duplicate key (first at line 17)",
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	if len(ve.Errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(ve.Errs), len(want), got)
	}
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "1:1: the policy is empty"},
		{"comment only", "# nothing\n", "the policy is empty"},
		{"not a mapping", "- 1\n", "1:1: must be a mapping"},
		{"no version", "rules: []\n", "1:1: missing required field \"version\""},
		{"version 2", "version: 2\n", "1:10: version: version 2 is not supported"},
		{"version string", "version: \"1\"\n", "must be the number 1, not a string"},
		{"duplicate top key", "version: 1\nversion: 1\n", "2:1: version: duplicate key (first at line 1)"},
		{"json duplicate key", `{"version": 1, "max_risk": 1, "max_risk": 2}`, "max_risk: duplicate key"},
		{"anchor", "version: 1\nrules:\n  - &r {id: a, effect: deny}\n  - *r\n", "anchors (&r) are not allowed"},
		{"alias", "version: 1\nx: &v 1\nmax_risk: *v\n", "aliases (*v) are not allowed"},
		{"merge key", "version: 1\nrules:\n  - <<: {id: a}\n    effect: deny\n", "3:5: rules[0]: merge keys (<<) are not allowed"},
		{"custom tag", "version: !custom 1\n", "custom tag !custom is not allowed"},
		{"two documents", "version: 1\n---\nversion: 1\n", "2:1: more than one YAML document"},
		{"syntax", "version: 1\nrules: [\n", "YAML syntax"},
		{"tab indent", "version: 1\nrules:\n\t- id: a\n", "3:1: YAML syntax"},
		{"ttl zero", "version: 1\nmax_token_ttl: 0s\n", "not a duration between 1s"},
		{"ttl huge", "version: 1\nmax_token_ttl: 10000h\n", "not a duration between 1s"},
		{"ttl sub-second", "version: 1\nmax_token_ttl: 10ms\n", "shorter than one second"},
		{"confirm timeout zero", "version: 1\nconfirm_timeout: 0s\n", "not a duration between 1s"},
		{"confirm timeout huge", "version: 1\nconfirm_timeout: 2h\n", "not a duration between 1s"},
		{"confirm timeout number", "version: 1\nconfirm_timeout: 30\n", "duration"},
		{"risk range", "version: 1\nmax_risk: 101\n", "max_risk: must be a whole number from 0 to 100"},
		{"memory type", "version: 1\nmax_memory_mb: lots\n", "max_memory_mb: must be a whole number"},
		{"bool type", "version: 1\nunattended_install: \"yes\"\n", "must be true or false, not a string"},
		{"write budget range", "version: 1\nmax_write_bytes: 0\n", "max_write_bytes: must be a whole number from 1"},
		{"events budget type", "version: 1\nmax_events: many\n", "max_events: must be a whole number"},
		{"plugin budget field", "version: 1\nplugin_budget: {bytes: 1}\n", "plugin_budget.bytes: unknown field \"bytes\""},
		{"plugin budget window", "version: 1\nplugin_budget: {window: 48h}\n", "plugin_budget.window: \"48h\" is not a duration between 1s and 24h0m0s"},
		{"plugin budget events", "version: 1\nplugin_budget: {events: -1}\n", "plugin_budget.events: must be a whole number from 1"},
		{"always_ask kind", "version: 1\nalways_ask: [network]\n", "always_ask[0]: always-ask category \"network\""},
		{"always_ask action", "version: 1\nalways_ask: [\"clipboard:spawn\"]\n", "\"spawn\" is not an action of clipboard"},
		{"always_ask type", "version: 1\nalways_ask: net\n", "always_ask: must be a list"},
		{"publisher empty", "version: 1\npreapproved_publishers: [{}]\n", "name a publisher by key_id"},
		{"publisher unknown field", "version: 1\npreapproved_publishers: [{key: x}]\n", "unknown field \"key\""},
		{"rules not list", "version: 1\nrules: {}\n", "rules: must be a list of rules"},
		{"rule not mapping", "version: 1\nrules: [deny]\n", "rules[0]: must be a mapping"},
		{"rule missing id", "version: 1\nrules: [{effect: deny}]\n", "missing required field \"id\""},
		{"rule bad id", "version: 1\nrules: [{id: \"a b\", effect: deny}]\n", "is not a rule id"},
		{"allow without resource", "version: 1\nrules: [{id: a, effect: allow}]\n", "an allow rule must name a resource"},
		{"empty actions", "version: 1\nrules: [{id: a, effect: deny, actions: []}]\n", "an empty list matches no action"},
		{"action of no kind", "version: 1\nrules: [{id: a, effect: deny, actions: [eat]}]\n", "\"eat\" is not an action of any resource kind"},
		{"duplicate action", "version: 1\nrules: [{id: a, effect: deny, resource: clipboard, actions: [read, read]}]\n", "listed twice"},
		{"empty glob", "version: 1\nrules: [{id: a, effect: deny, plugin: \"\"}]\n", "an empty glob matches nothing useful"},
		{"numeric plugin", "version: 1\nrules: [{id: a, effect: deny, plugin: 42}]\n", "must be a string, not a number; put it in quotes"},
		{"pattern offset", "version: 1\nrules:\n  - {id: a, effect: deny, resource: filesystem:/a/../../x}\n", "rules[0].resource"},
		{"not utf8", "version: 1\nrules: [\xff]\n", "not valid UTF-8"},
		{"too large", "version: 1\n#" + strings.Repeat("x", MaxPolicySize), "is over 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), ParseOptions{File: "p.yaml", Home: testHome})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v\nwant an error containing %q", tc.src, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "p.yaml:") || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error does not start with the file and line: %v", err)
			}
		})
	}
}

func TestRulePatternErrorColumn(t *testing.T) {
	// "  - resource: net:ftp://x" — the column points into the pattern, at the
	// byte resource.ParseError names.
	src := "version: 1\nrules:\n  - id: a\n    effect: deny\n    resource: net:ftp://x.example.com\n"
	_, err := Parse([]byte(src), ParseOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errs) != 1 {
		t.Fatalf("%v", err)
	}
	fe := ve.Errs[0]
	var pe *resource.ParseError
	_, perr := resource.Parse("net:ftp://x.example.com")
	if !errors.As(perr, &pe) {
		t.Fatalf("resource.Parse did not return a ParseError: %v", perr)
	}
	if fe.Line != 5 || fe.Col != 15+pe.Offset {
		t.Fatalf("error at %d:%d, want 5:%d", fe.Line, fe.Col, 15+pe.Offset)
	}
}

func TestSchemaIsTheDocsSchema(t *testing.T) {
	docs, err := os.ReadFile("../docs/policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, Schema()) {
		t.Fatal("docs/policy.schema.json and policy/policy.schema.json differ; copy one over the other")
	}
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("policy.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSONValue reads YAML the way the schema sees it: as JSON values.
func yamlToJSONValue(t testing.TB, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil // yaml.v3 refuses duplicate keys here; null fails the schema too
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The JSON Schema and the Go parser agree, checked by an independent JSON
// Schema implementation: files Parse accepts are valid, and structural faults
// Parse rejects are invalid under the schema too.
func TestSchemaAgreesWithParser(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("testdata/*")
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			continue
		}
		src, _ := os.ReadFile(f)
		_, perr := Parse(src, ParseOptions{Home: testHome})
		verr := s.Validate(yamlToJSONValue(t, src))
		if (perr == nil) != (verr == nil) && filepath.Base(f) != "bad.yaml" {
			t.Errorf("%s: Parse says %v, schema says %v", f, perr, verr)
		}
		if filepath.Base(f) == "bad.yaml" && verr == nil {
			t.Errorf("%s: schema accepts a bad file", f)
		}
	}
	for _, src := range []string{
		"rules: []",
		"version: 2",
		"version: 1\nextra: 1",
		"version: 1\nmax_risk: 101",
		"version: 1\nmax_token_ttl: soon",
		"version: 1\nalways_ask: [network]",
		"version: 1\npreapproved_publishers: [{}]",
		"version: 1\nrules: [{id: a, effect: permit}]",
		"version: 1\nrules: [{id: a, effect: allow}]",
		"version: 1\nrules: [{id: a, effect: deny, override_ask: true}]",
		"version: 1\nrules: [{id: a, effect: deny, actions: []}]",
		"version: 1\nrules: [{id: \"a b\", effect: deny}]",
		"version: 1\nrules: [{id: a, effect: deny, colour: red}]",
	} {
		if _, err := Parse([]byte(src), ParseOptions{}); err == nil {
			t.Errorf("Parse accepts %q", src)
		}
		if err := s.Validate(yamlToJSONValue(t, []byte(src))); err == nil {
			t.Errorf("schema accepts %q", src)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		g, s string
		want bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "anything.at/all", true},
		{"acme.*", "acme.sheets", true}, {"acme.*", "acme", false}, {"acme.*", "evil.acme.x", false},
		{"*.sheets", "acme.sheets", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "aXbY", false},
		{"a**", "a", true}, {"exact", "exact", true}, {"exact", "exactly", false},
		{"*a*a*a*a*b", strings.Repeat("a", 200), false},
	} {
		if got := glob(tc.g, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v", tc.g, tc.s, got)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, name := range []string{"enterprise.yaml", "minimal.json", "full.json", "bad.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "version: 1", "{}", "[]", "version: 1\nrules: [{id: a, effect: deny, resource: \"filesystem:~/**\"}]",
		"a: &a [*a]", "version: 1\n---\n", "version: 0x1", "version: 1\nmax_token_ttl: 1h1m1s",
		"version: 1\nrules:\n  - {id: x, effect: allow, resource: 'net:https://*.example.com/**', override_ask: true}",
	} {
		f.Add([]byte(s))
	}
	e0 := Request{Plugin: "p", Resource: "filesystem:/tmp/x", Action: "read"}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, ParseOptions{File: "f", Home: testHome})
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errs) == 0 {
				t.Fatalf("error is not a non-empty ValidationError: %v", err)
			}
			for _, fe := range ve.Errs {
				if fe.Line < 1 || fe.Col < 1 || !strings.HasPrefix(fe.Error(), "f:") {
					t.Fatalf("bad position: %v", fe)
				}
			}
			return
		}
		if p.Version != 1 || p.MaxTokenTTL <= 0 {
			t.Fatalf("accepted policy is incomplete: %+v", p)
		}
		// Whatever it says, a request outside the (empty) manifest is denied.
		if d := NewEngine(p, nil).Decide(e0); d.Effect != Deny {
			t.Fatalf("a parsed policy allowed a request with no manifest: %+v", d)
		}
	})
}
