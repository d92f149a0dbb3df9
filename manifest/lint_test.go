package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func lintFile(t testing.TB, path string) []Finding {
	t.Helper()
	r, err := LintFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r.Findings
}

// Each testdata/lint manifest trips one rule at one JSON path, and nothing
// else of severity error or warning.
func TestLintRules(t *testing.T) {
	tests := []struct {
		file, rule, path string
		also             []string // other rules the case trips by construction
	}{
		{"filesystem-root", "WDN001", "permissions[0].resource", nil},
		{"filesystem-home", "WDN001", "permissions[0].resource", nil},
		{"net-any-host", "WDN002", "permissions[0].resource", nil},
		{"ssh-write", "WDN003", "permissions[0].resource", nil},
		{"bashrc-write", "WDN003", "permissions[0].resource", nil},
		{"config-write", "WDN003", "permissions[0].resource", nil},
		{"git-hooks-write", "WDN003", "permissions[0].resource", nil},
		{"keychain-write", "WDN003", "permissions[0].resource", nil},
		{"chrome-profile-write", "WDN003", "permissions[0].resource", nil},
		{"no-publisher", "WDN004", "publisher", nil},
		{"no-reason", "WDN005", "permissions[0].reason", nil},
		{"tool-no-schema", "WDN006", "tools[0].input_schema", nil},
		{"process-any", "WDN007", "permissions[0].resource", nil},
		{"exfiltration", "WDN101", "permissions[1].resource", nil},
		{"clipboard-read", "WDN102", "permissions[0].resource", nil},
		{"long-timeout", "WDN103", "limits.timeout_ms", nil},
		{"env-wildcard", "WDN104", "permissions[0].resource", nil},
		{"secret-wildcard", "WDN105", "permissions[0].resource", nil},
		{"process-spawn", "WDN106", "permissions[0].resource", nil},
		{"tool-no-description", "WDN107", "tools[0].description", nil},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "lint", tt.file+".json")
			src, _ := os.ReadFile(path)
			fs := lintFile(t, path)
			var hit *Finding
			for i, f := range fs {
				if f.Severity == SeverityNote {
					continue
				}
				if f.RuleID == tt.rule && hit == nil {
					hit = &fs[i]
					continue
				}
				if !slices.Contains(tt.also, f.RuleID) {
					t.Errorf("unexpected finding %+v", f)
				}
			}
			if hit == nil {
				t.Fatalf("rule %s did not fire: %+v", tt.rule, fs)
			}
			seen[tt.rule] = true
			if hit.Path != tt.path {
				t.Errorf("path = %q, want %q", hit.Path, tt.path)
			}
			if hit.Severity != ruleByID(tt.rule).Severity || hit.Rule != ruleByID(tt.rule).Name {
				t.Errorf("finding %+v does not carry the rule's name and severity", hit)
			}
			// The position is that of the value at the path, or of its parent.
			loc := newLocator(src)
			scan(src, loc, &errorSet{})
			wl, wc := loc.lineCol(loc.offset(tt.path))
			if hit.Line != wl || hit.Col != wc || hit.Line < 2 && tt.rule != "WDN004" {
				t.Errorf("position %d:%d, want %d:%d", hit.Line, hit.Col, wl, wc)
			}
		})
	}
	for _, r := range rules {
		if !seen[r.ID] && r.ID != "WDN000" && r.ID != "WDN201" {
			t.Errorf("rule %s has no case in TestLintRules", r.ID)
		}
	}
}

func TestLintSensitiveWriteOnlyForWrites(t *testing.T) {
	base := `{` + head + `, "publisher": {"name": "T", "key_id": "ed25519:21fe31dfa154a261"}, "permissions": [{"resource": %q, "actions": [%s], "reason": "r"}]}`
	cases := []struct {
		res, acts string
		want      bool
	}{
		{"filesystem:~/.ssh/**", `"read"`, false},
		{"filesystem:~/.ssh/**", `"delete"`, true},
		{"filesystem:~/**", `"write"`, true}, // also WDN001
		{"filesystem:/root/.ssh/authorized_keys", `"write"`, true},
		{"filesystem:/home/alice/.zshrc", `"write"`, true},
		{"filesystem:~/.config/*", `"write"`, true},
		{"filesystem:~/Documents/Spreadsheets/**", `"write"`, false},
		{"filesystem:~/code/.git/**", `"write"`, true},
		{"filesystem:~/.mozilla", `"write"`, true},
		{"filesystem:~/Library/LaunchAgents/evil.plist", `"write"`, true},
		{"filesystem:~/Documents/*.csv", `"write"`, false},
	}
	for _, c := range cases {
		src := []byte(strings.Replace(strings.Replace(base, "%q", `"`+c.res+`"`, 1), "%s", c.acts, 1))
		m, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", c.res, err)
		}
		got := false
		for _, f := range Lint(m, src, "testdata/lint/x.json") {
			got = got || f.RuleID == "WDN003"
		}
		if got != c.want {
			t.Errorf("%s %s: WDN003 = %v, want %v", c.res, c.acts, got, c.want)
		}
	}
}

func TestLintExamplesClean(t *testing.T) {
	for _, p := range []string{"../examples/sheet-gen/manifest.json", "../examples/hello"} {
		for _, f := range lintFile(t, p) {
			if f.Severity != SeverityNote {
				t.Errorf("%s: %+v", p, f)
			}
		}
	}
}

func TestLintReportsInvalidAsWDN000(t *testing.T) {
	fs := lintFile(t, "testdata/invalid/unknown-kind.json")
	if len(fs) == 0 || fs[0].RuleID != "WDN000" || fs[0].Path != "permissions[0].resource" || fs[0].Line != 13 {
		t.Fatalf("findings: %+v", fs)
	}
	fs = lintFile(t, "testdata/structure/unknown-field.json")
	if len(fs) != 1 || fs[0].RuleID != "WDN000" || fs[0].Path != "homepage" || fs[0].Line != 1 {
		t.Fatalf("findings: %+v", fs)
	}
}

func TestLintWithoutSource(t *testing.T) {
	m := &Manifest{Name: "x", Version: "1.0.0", Description: "d", Entry: "plugin.wasm", Runtime: "wasm",
		Permissions: []Permission{{Resource: "net:https://*", Actions: []string{"get"}}}}
	fs := Lint(m, nil, "testdata/lint/manifest.json")
	ids := []string{}
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	for _, want := range []string{"WDN002", "WDN004", "WDN005"} {
		if !slices.Contains(ids, want) {
			t.Errorf("missing %s in %v", want, ids)
		}
	}
}

// docs/lint-rules.md documents every rule under a heading whose anchor is the
// rule's help link, with its severity; and documents no rule the code lacks.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/lint-rules.md")
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile(`(?m)^## (WDN\d{3}) ([a-z-]+)\n+\*\*Severity:\*\* (error|warning|note)`)
	found := map[string][2]string{}
	for _, m := range heading.FindAllStringSubmatch(string(doc), -1) {
		found[m[1]] = [2]string{m[2], m[3]}
	}
	for _, r := range rules {
		d, ok := found[r.ID]
		if !ok {
			t.Errorf("%s is not documented", r.ID)
			continue
		}
		if d[0] != r.Name || d[1] != string(r.Severity) {
			t.Errorf("%s documented as %s/%s, code says %s/%s", r.ID, d[0], d[1], r.Name, r.Severity)
		}
		// GitHub's anchor for "## WDN001 filesystem-wildcard".
		if r.Anchor() != strings.ToLower(r.ID)+"-"+d[0] {
			t.Errorf("anchor %s", r.Anchor())
		}
		delete(found, r.ID)
	}
	for id := range found {
		t.Errorf("docs/lint-rules.md documents %s, which the code does not have", id)
	}
}
