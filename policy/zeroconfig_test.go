package policy

import "testing"

// Attack (issue 11): a Policy built as a literal rather than parsed fails
// closed. Before, its rules had no compiled pattern, and a rule without one
// matched every resource: an allow rule for /srv/a allowed /etc/passwd; an
// allow rule without a resource (which Parse refuses) allowed everything;
// and a nil AlwaysAsk let a grant spawn processes without asking anyone.
func TestLiteralPolicyFailsClosed(t *testing.T) {
	m := manifestOf(t, "filesystem:/** read", "process:git spawn")
	lit := &Policy{Version: 1, Rules: []Rule{
		{ID: "srv", Effect: Allow, Resource: "filesystem:/srv/a/**"},
		{ID: "everything", Effect: Allow},
		{ID: "typo", Effect: Allow, Resource: "filesystem:relative/**"},
		{ID: "git", Effect: Allow, Resource: "process:git"},
	}}
	e := NewEngine(lit, nil)
	for _, tc := range []struct {
		res, action string
		want        Effect
		by          string
	}{
		{"filesystem:/etc/passwd", "read", Deny, "default"},
		{"filesystem:/srv/a/x.txt", "read", Allow, "rule:srv"},
		{"process:git", "spawn", Ask, "always_ask:process"},
	} {
		d := e.Decide(Request{Plugin: "p", Manifest: m, Resource: tc.res, Action: tc.action, Now: t0})
		if d.Effect != tc.want || d.By != tc.by {
			t.Errorf("%s %s under a literal policy: %s by %s (%s); want %s by %s", tc.action, tc.res, d.Effect, d.By, d.Reason, tc.want, tc.by)
		}
	}

	// A deny rule whose resource does not parse applies to every resource.
	broken := &Policy{Version: 1, Rules: []Rule{
		{ID: "srv", Effect: Allow, Resource: "filesystem:/srv/a/**"},
		{ID: "bad-deny", Effect: Deny, Resource: "filesystem:relative/**"},
	}}
	if d := NewEngine(broken, nil).Decide(Request{Plugin: "p", Manifest: m, Resource: "filesystem:/srv/a/x.txt", Action: "read", Now: t0}); d.Effect != Deny || d.By != "rule:bad-deny" {
		t.Errorf("a deny rule that does not parse: %s by %s; want deny by rule:bad-deny", d.Effect, d.By)
	}

	// An explicitly empty AlwaysAsk (a file's "always_ask: []") stays empty.
	none := &Policy{Version: 1, AlwaysAsk: []Category{}, Rules: []Rule{{ID: "git", Effect: Allow, Resource: "process:git"}}}
	if d := NewEngine(none, nil).Decide(Request{Plugin: "p", Manifest: m, Resource: "process:git", Action: "spawn", Now: t0}); d.Effect != Allow {
		t.Errorf("always_ask: [] under a literal policy: %s by %s; want allow", d.Effect, d.By)
	}
}
