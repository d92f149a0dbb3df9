package manifest

// Attack tests added by the independent security review (docs/threat-model.md):
// over-broad manifests that lint must fail.

import (
	"slices"
	"strings"
	"testing"
)

// reviewLint lints a manifest with one permission and one described tool, and
// returns the IDs of its error findings.
func reviewLint(t *testing.T, res, acts string) []string {
	t.Helper()
	src := []byte(`{` + head + `, "publisher": {"name": "T", "key_id": "ed25519:21fe31dfa154a261"},
		"permissions": [{"resource": "` + res + `", "actions": [` + acts + `], "reason": "r"}],
		"tools": [{"name": "run", "description": "d", "input_schema": {"type": "object"}}]}`)
	m, err := Parse(src)
	if err != nil {
		t.Fatalf("%s: %v", res, err)
	}
	var ids []string
	for _, f := range Lint(m, src, "testdata/lint/x.json") {
		if f.Severity == SeverityError {
			ids = append(ids, f.RuleID)
		}
	}
	return ids
}

// TestReviewLintCatchesBroadGrants: spellings of "every file of the user"
// and "any host" that an author might try instead of the obvious ones.
func TestReviewLintCatchesBroadGrants(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	for _, tc := range []struct {
		res, acts string
		want      []string
	}{
		{"filesystem:~", `"write"`, []string{"WDN001", "WDN003"}},
		{"filesystem:~/", `"write"`, []string{"WDN001", "WDN003"}},
		{"filesystem:~/*", `"write"`, []string{"WDN001", "WDN003"}},
		{"filesystem:~/.", `"write"`, []string{"WDN001", "WDN003"}},
		{"filesystem:~/Documents/..", `"write"`, []string{"WDN001", "WDN003"}},
		{"filesystem:/home/alice", `"read"`, []string{"WDN001"}},
		{"filesystem:/home", `"read"`, []string{"WDN001"}},
		{"filesystem:/home/*/Documents", `"read"`, []string{"WDN001"}},
		{"filesystem://", `"read"`, []string{"WDN001"}},
		{"filesystem:/tmp/../**", `"read"`, []string{"WDN001"}},
		{"net:https://*.com", `"get"`, []string{"WDN002"}},
		{"net:https://*.com.", `"get"`, []string{"WDN002"}},
		{"net:https://*.COM", `"get"`, []string{"WDN002"}},
		{"net:https://*.xn--p1ai", `"get"`, []string{"WDN002"}},
		{"net:https://*", `"post"`, []string{"WDN002"}},
		{"net:*", `"get"`, []string{"WDN002"}},
		{"filesystem:~/.ssh", `"write"`, []string{"WDN003"}},
		{"filesystem:~/.ssh/authorized_keys", `"delete"`, []string{"WDN003"}},
		{"filesystem:~/code/**/.git/hooks/*", `"write"`, []string{"WDN003"}},
	} {
		got := reviewLint(t, tc.res, tc.acts)
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s %s: errors %v, want %s among them", tc.res, tc.acts, got, w)
			}
		}
	}
}

// TestReviewLintMissesBroadGrants lists over-broad manifests that passed lint
// until V-2 (docs/threat-model.md) was fixed. Each lets a plugin reach what
// the rules exist to stop.
func TestReviewLintMissesBroadGrants(t *testing.T) {
	t.Setenv("HOME", "/home/alice")
	var failures []string
	for _, tc := range []struct{ res, acts, want string }{
		{"net:https://*.co.uk", `"post"`, "WDN002"},
		{"net:https://*.github.io", `"post"`, "WDN002"},
		{"net:https://*.s3.amazonaws.com", `"put"`, "WDN002"},
		{"filesystem:~/.config/systemd/user/**", `"write"`, "WDN003"},
		{"filesystem:~/.local/bin/**", `"write"`, "WDN003"},
		{"filesystem:~/.gitconfig", `"write"`, "WDN003"},
		{"filesystem:~/.SSH/**", `"write"`, "WDN003"},
		{"filesystem:~/.config/warden/**", `"write"`, "WDN008"},
	} {
		if got := reviewLint(t, tc.res, tc.acts); !slices.Contains(got, tc.want) {
			failures = append(failures, tc.res+" "+tc.acts+": no "+tc.want)
		}
	}
	t.Setenv("HOME", "/root")
	for _, res := range []string{"filesystem:/home/*/**", "filesystem:/Users/*/**"} {
		if got := reviewLint(t, res, `"write"`); !slices.Contains(got, "WDN001") {
			failures = append(failures, res+" with HOME=/root: no WDN001")
		}
	}
	if len(failures) > 0 {
		t.Fatal(strings.Join(failures, "\n"))
	}
}
