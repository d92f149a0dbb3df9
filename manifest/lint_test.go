package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
		{"net-public-suffix-icann", "WDN002", "permissions[0].resource", nil},
		{"net-public-suffix-private", "WDN002", "permissions[1].resource", nil},
		{"net-public-suffix-below", "WDN002", "permissions[0].resource", nil},
		{"filesystem-every-home", "WDN001", "permissions[0].resource", nil},
		{"filesystem-every-users", "WDN001", "permissions[0].resource", nil},
		{"ssh-write", "WDN003", "permissions[0].resource", nil},
		{"bashrc-write", "WDN003", "permissions[0].resource", nil},
		{"config-write", "WDN003", "permissions[0].resource", []string{"WDN008"}},
		{"git-hooks-write", "WDN003", "permissions[0].resource", nil},
		{"keychain-write", "WDN003", "permissions[0].resource", nil},
		{"chrome-profile-write", "WDN003", "permissions[0].resource", nil},
		{"ssh-case-write", "WDN003", "permissions[0].resource", nil},
		{"systemd-user-write", "WDN003", "permissions[0].resource", nil},
		{"local-bin-write", "WDN003", "permissions[0].resource", nil},
		{"gitconfig-write", "WDN003", "permissions[0].resource", nil},
		{"login-autostart-write", "WDN003", "permissions[0].resource", nil},
		{"launch-agents-write", "WDN003", "permissions[0].resource", nil},
		{"etc-write", "WDN003", "permissions[0].resource", nil},
		{"usr-write", "WDN003", "permissions[0].resource", nil},
		{"cron-write", "WDN003", "permissions[0].resource", nil},
		{"fish-write", "WDN003", "permissions[0].resource", nil},
		{"npmrc-write", "WDN003", "permissions[0].resource", nil},
		{"pypirc-write", "WDN003", "permissions[0].resource", nil},
		{"cloud-aws-write", "WDN003", "permissions[0].resource", nil},
		{"kube-write", "WDN003", "permissions[0].resource", nil},
		{"docker-config-write", "WDN003", "permissions[0].resource", nil},
		{"warden-home-write", "WDN008", "permissions[0].resource", nil},
		{"warden-home-macos-write", "WDN008", "permissions[0].resource", nil},
		{"warden-home-read", "WDN008", "permissions[0].resource", nil},
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
		{"read-only-hint-writes", "WDN108", "tools[0].annotations.readOnlyHint", nil},
		{"placeholder-publisher", "WDN109", "publisher.key_id", nil},
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

// lintIDs lints a manifest with one permission and returns its error
// findings as "RULE@path".
func lintIDs(t *testing.T, res, acts string) []string {
	t.Helper()
	src := []byte(`{` + head + `, "publisher": {"name": "T", "key_id": "ed25519:21fe31dfa154a261"}, "permissions": [{"resource": ` +
		strconv.Quote(res) + `, "actions": [` + acts + `], "reason": "r"}]}`)
	m, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", res, err)
	}
	var got []string
	for _, f := range Lint(m, src, "testdata/lint/x.json") {
		if f.Severity == SeverityError {
			got = append(got, f.RuleID+"@"+f.Path)
		}
	}
	return got
}

func TestLintSensitiveWriteOnlyForWrites(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
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
		// V-2: places that run code or hold credentials.
		{"filesystem:~/.config/systemd/user/evil.service", `"write"`, true},
		{"filesystem:~/.local/share/systemd/user/**", `"write"`, true},
		{"filesystem:~/.local/bin/ls", `"write"`, true},
		{"filesystem:~/.local/**", `"write"`, true},
		{"filesystem:~/bin/**", `"write"`, true},
		{"filesystem:~/.gitconfig", `"delete"`, true},
		{"filesystem:~/.config/git/config", `"write"`, true},
		{"filesystem:~/.config/autostart", `"write"`, true},
		{"filesystem:/etc/hosts", `"write"`, true},
		{"filesystem:/etc/**", `"read"`, false},
		{"filesystem:/usr/**", `"write"`, true},
		{"filesystem:/var/spool/cron/crontabs/alice", `"write"`, true},
		{"filesystem:/etc/cron.d/job", `"write"`, true},
		{"filesystem:~/.config/fish/conf.d/x.fish", `"write"`, true},
		{"filesystem:~/.npmrc", `"write"`, true},
		{"filesystem:~/.pypirc", `"write"`, true},
		{"filesystem:~/.aws/credentials", `"write"`, true},
		{"filesystem:~/.kube/**", `"write"`, true},
		{"filesystem:~/.docker/config.json", `"write"`, true},
		// Case and Unicode variants that macOS and Windows open as the same file.
		{"filesystem:~/.SSH/**", `"write"`, true},
		{"filesystem:~/.Ssh/id_ed25519", `"write"`, true},
		{"filesystem:~/.ssh./authorized_keys", `"write"`, true},
		{"filesystem:~/.Config/Systemd/User/**", `"write"`, true},
		{"filesystem:~/LIBRARY/LaunchAgents/x.plist", `"write"`, true},
		{"filesystem:~/.\u017fsh/**", `"write"`, true}, // LATIN SMALL LETTER LONG S folds to "s"
		// Near misses that stay clean.
		{"filesystem:~/.config/myapp/**", `"write"`, false},
		{"filesystem:~/.local/share/myapp/**", `"write"`, false},
		{"filesystem:/tmp/**", `"write"`, false},
		{"filesystem:/var/log/myapp/**", `"write"`, false},
		{"filesystem:~/Documents/systemd-notes.txt", `"write"`, false},
	}
	for _, c := range cases {
		res := c.res
		if u, err := strconv.Unquote(`"` + res + `"`); err == nil {
			res = u
		}
		got := slices.Contains(lintIDs(t, res, c.acts), "WDN003@permissions[0].resource")
		if got != c.want {
			t.Errorf("%s %s: WDN003 at permissions[0].resource = %v, want %v", res, c.acts, got, c.want)
		}
	}
}

// Every user's home is a wildcard whatever HOME lint runs with: a CI runner
// (HOME=/root) or a store reviewer judges manifests installed elsewhere.
func TestLintEveryHomeWhateverHome(t *testing.T) {
	for _, home := range []string{"/root", "/home/alice", "/Users/bob", "/var/lib/ci", "/srv/Jos\u00e9"} {
		home, _ = strconv.Unquote(`"` + home + `"`)
		t.Setenv("HOME", home)
		for _, c := range []struct {
			res, acts string
			want      []string
		}{
			{"filesystem:/home/*/**", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/Users/*/**", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/users/*", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/home/**", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/home/bob", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/var/home/*/**", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/root", `"read"`, []string{"WDN001@permissions[0].resource"}},
			{"filesystem:/home/*/**", `"write"`, []string{"WDN001@permissions[0].resource", "WDN003@permissions[0].resource"}},
			{"filesystem:/home/*/.ssh", `"write"`, []string{"WDN001@permissions[0].resource", "WDN003@permissions[0].resource"}},
			{"filesystem:/home/bob/project/**", `"write"`, nil},
			{"filesystem:/Users/bob/Documents/Spreadsheets/**", `"write"`, nil},
		} {
			if got := lintIDs(t, c.res, c.acts); !slices.Equal(got, c.want) {
				t.Errorf("HOME=%s %s %s: errors %v, want %v", home, c.res, c.acts, got, c.want)
			}
		}
	}
	// The linting user's own home in another case and normal form.
	t.Setenv("HOME", "/srv/Jos\u00e9")
	got := lintIDs(t, "filesystem:/SRV/jose\u0301/**", `"write"`)
	if !slices.Contains(got, "WDN001@permissions[0].resource") || !slices.Contains(got, "WDN003@permissions[0].resource") {
		t.Errorf("decomposed, upper-case spelling of HOME: errors %v, want WDN001 and WDN003", got)
	}
}

// "*.D" is any-host when anyone can register a name under D.
func TestLintPublicSuffixWildcards(t *testing.T) {
	for _, c := range []struct {
		res  string
		want bool
	}{
		{"net:https://*.co.uk", true},                 // ICANN section
		{"net:https://*.CO.UK.", true},                // normalised first
		{"net:https://*.github.io", true},             // private section
		{"net:https://*.s3.amazonaws.com", true},      // private section
		{"net:https://*.googleapis.com", true},        // storage buckets
		{"net:wss://*.pages.dev:8443", true},          // any scheme and port
		{"net:https://*.compute.amazonaws.com", true}, // wildcard rule below it
		{"net:https://*.kawasaki.jp", true},           // wildcard rule below it (ICANN)
		{"net:https://*.example.co.uk", false},
		{"net:https://*.acme.github.io", false}, // one user's pages
		{"net:https://*.example.com", false},
		{"net:https://github.io", false}, // one host, not a wildcard
		{"net:https://api.github.com/v1/*", false},
	} {
		got := slices.Contains(lintIDs(t, c.res, `"get"`), "WDN002@permissions[0].resource")
		if got != c.want {
			t.Errorf("%s: WDN002 = %v, want %v", c.res, got, c.want)
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

// docs/lint-rules.md lists every sensitive location with each name and
// directory the code knows, so the table a reviewer reads is the one lint uses.
func TestSensitiveLocationsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/lint-rules.md")
	if err != nil {
		t.Fatal(err)
	}
	sec, _, _ := strings.Cut(string(doc), "\n## WDN000")
	_, sec, _ = strings.Cut(sec, "## Sensitive locations")
	rows := map[string]string{}
	for _, line := range strings.Split(sec, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 6 && strings.HasPrefix(line, "| ") {
			rows[strings.ReplaceAll(strings.TrimSpace(cells[1]), "`", "")] = line
		}
	}
	for _, l := range sensitiveLocations {
		name, _, _ := strings.Cut(l.what, " (")
		row, ok := rows[name]
		if !ok {
			t.Errorf("location %q has no row in the table of docs/lint-rules.md", name)
			continue
		}
		for _, n := range append(slices.Clone(l.names), l.dirs...) {
			if !strings.Contains(row, "`"+n+"`") {
				t.Errorf("location %q: %q is not in its row of docs/lint-rules.md", name, n)
			}
		}
	}
	if len(rows)-1 != len(sensitiveLocations) { // the header row
		t.Errorf("docs/lint-rules.md lists %d locations, the code %d", len(rows)-1, len(sensitiveLocations))
	}
}

// WDN001 and WDN002 read as one sentence: the pattern, what it covers, then
// one piece of advice, with no reason repeated or nested in parentheses.
func TestLintWildcardMessages(t *testing.T) {
	t.Setenv("HOME", "/home/ada")
	for _, c := range []struct{ res, acts, rule, want string }{
		{"filesystem:/**", `"read"`, "WDN001", `"filesystem:/**" matches paths anywhere from the filesystem root; name the directory the plugin works in, such as ~/Documents/Project`},
		{"filesystem:~/**", `"read"`, "WDN001", `"filesystem:~/**" covers the whole home directory /home/ada; name the directory the plugin works in, such as ~/Documents/Project`},
		{"filesystem:/Users/*/**", `"read"`, "WDN001", `"filesystem:/Users/*/**" covers every home directory under /Users; name the directory the plugin works in, such as ~/Documents/Project`},
		{"net:https://*", `"get"`, "WDN002", `"net:https://*" matches any host; list the hosts the plugin calls, such as net:https://api.example.com/*`},
		{"net:*", `"get"`, "WDN002", `"net:*" matches every host on every scheme; list the hosts the plugin calls, such as net:https://api.example.com/*`},
		{"net:https://*.com", `"get"`, "WDN002", `"net:https://*.com" matches every host under the top-level domain .com; list the hosts the plugin calls, such as net:https://api.example.com/*`},
	} {
		src := []byte(`{` + head + `, "publisher": {"name": "T", "key_id": "ed25519:21fe31dfa154a261"}, "permissions": [{"resource": ` +
			strconv.Quote(c.res) + `, "actions": [` + c.acts + `], "reason": "r"}]}`)
		m, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", c.res, err)
		}
		var got []string
		for _, f := range Lint(m, src, "testdata/lint/x.json") {
			if f.RuleID == c.rule {
				got = append(got, f.Message)
			}
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: %s messages %q, want [%q]", c.res, c.rule, got, c.want)
		}
	}
}

// TestReadOnlyHintOnAReader: WDN108 stays quiet when every permission only
// reads local things, and fires for each kind of effect.
func TestReadOnlyHintOnAReader(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "lint", "read-only-hint-writes.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		perm string
		want bool
	}{
		{`{"resource": "filesystem:~/Documents/Reports", "actions": ["read", "list"], "reason": "r"}`, false},
		{`{"resource": "kv:cache-*", "actions": ["read"], "reason": "r"}`, false},
		{`{"resource": "filesystem:~/Documents/Reports", "actions": ["delete"], "reason": "r"}`, true},
		{`{"resource": "net:https://api.example.com/v1/*", "actions": ["get"], "reason": "r"}`, true},
		{`{"resource": "clipboard", "actions": ["write"], "reason": "r"}`, true},
		{`{"resource": "kv:cache-*", "actions": ["write"], "reason": "r"}`, true},
	} {
		s := strings.Replace(string(src), `{
      "resource": "filesystem:~/Documents/Reports",
      "actions": ["read", "write"],
      "reason": "Keeps the reports."
    }`, tc.perm, 1)
		dir := t.TempDir()
		p := filepath.Join(dir, "manifest.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		got := false
		for _, f := range lintFile(t, p) {
			got = got || f.RuleID == "WDN108"
		}
		if got != tc.want {
			t.Errorf("%s: WDN108 fired %v, want %v", tc.perm, got, tc.want)
		}
	}
}
