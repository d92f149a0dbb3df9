package manifest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The SARIF output validates against the SARIF 2.1.0 JSON Schema (vendored in
// testdata/sarif; see testdata/README.md for where it came from).
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	schemaSrc, err := os.ReadFile("testdata/sarif/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	s := compileJSONSchema(t, "sarif-schema-2.1.0.json", schemaSrc)
	files, _ := filepath.Glob("testdata/lint/*.json")
	files = append(files, "testdata/structure/trailing-data.json", "testdata/invalid/unknown-kind.json", "../examples/sheet-gen")
	var reports []*Report
	for _, f := range files {
		r, err := LintFile(f)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	wd, _ := os.Getwd()
	var buf bytes.Buffer
	if err := WriteSARIF(&buf, reports, "v0.0.0-test", wd); err != nil {
		t.Fatal(err)
	}
	if err := schemaAccepts(s, buf.Bytes()); err != nil {
		t.Fatalf("SARIF output fails the SARIF 2.1.0 schema: %v", err)
	}

	// What code scanning needs beyond the schema: rule metadata and a line.
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID, HelpURI string
						Default     struct{ Level string } `json:"defaultConfiguration"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					Physical struct {
						Artifact struct{ URI string } `json:"artifactLocation"`
						Region   struct{ StartLine, StartColumn int }
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if log.Version != "2.1.0" || len(run.Tool.Driver.Rules) != len(rules) || len(run.Results) < len(files)-1 {
		t.Fatalf("log: version %s, %d rules, %d results", log.Version, len(run.Tool.Driver.Rules), len(run.Results))
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.HelpURI != RulesDocURL+"#"+ruleByID(r.ID).Anchor() || r.Default.Level == "" {
			t.Errorf("rule %s: helpUri %s level %q", r.ID, r.HelpURI, r.Default.Level)
		}
	}
	for _, res := range run.Results {
		loc := res.Locations[0].Physical
		if loc.Region.StartLine < 1 || loc.Region.StartColumn < 1 || filepath.IsAbs(loc.Artifact.URI) {
			t.Errorf("result %+v", res)
		}
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("ruleIndex %d does not point at %s", res.RuleIndex, res.RuleID)
		}
	}
	if got := run.Results[0].Locations[0].Physical.Artifact.URI; got != "testdata/lint/bashrc-write.json" {
		t.Errorf("artifact uri = %q, want the path relative to the working directory", got)
	}
}

func TestSARIFURI(t *testing.T) {
	for in, want := range map[string]string{
		"examples/sheet-gen/manifest.json": "examples/sheet-gen/manifest.json",
		"My Plugins/a b/manifest.json":     "My%20Plugins/a%20b/manifest.json",
		"/tmp/x y/manifest.json":           "file:///tmp/x%20y/manifest.json",
		"c:d/manifest.json":                "./c:d/manifest.json",
	} {
		if got := sarifURI(in); got != want {
			t.Errorf("sarifURI(%q) = %q, want %q", in, got, want)
		}
	}
	if got := displayPath("/work/repo/examples/x/manifest.json", "/work/repo"); got != "examples/x/manifest.json" {
		t.Errorf("displayPath = %q", got)
	}
	if got := displayPath("/elsewhere/manifest.json", "/work/repo"); got != "/elsewhere/manifest.json" {
		t.Errorf("displayPath outside wd = %q", got)
	}
}
