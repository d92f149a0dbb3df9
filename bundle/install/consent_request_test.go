package install

import (
	"slices"
	"testing"

	"github.com/wardenproject/warden/manifest"
)

// The consent screen shows the risk no one permission carries (the
// exfiltration shape), naming permissions by their number on the screen, or
// by resource when an upgrade does not list them; the items' risks and the
// notes add up to the score.
func TestConsentRequestNotes(t *testing.T) {
	src := []byte(`{"name": "n", "version": "1.0.0", "description": "d", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": {"name": "p", "key_id": "ed25519:21fe31dfa154a261"},
		"tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}],
		"permissions": [
			{"resource": "clipboard", "actions": ["write"], "reason": "r"},
			{"resource": "filesystem:/srv/notes", "actions": ["read"], "reason": "r"},
			{"resource": "net:https://api.example.com/*", "actions": ["get"], "reason": "r"}]}`)
	m, err := manifest.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	score := manifest.Risk(m)
	for _, c := range []struct {
		ask  []int
		want string
	}{
		{[]int{0, 1, 2}, "+20 can read local data (permission 2) and reach the network (permission 3): the exfiltration shape"},
		{[]int{2}, "+20 can read local data (filesystem:/srv/notes) and reach the network (permission 1): the exfiltration shape"},
	} {
		req := consentRequest(m, Report{}, score, grantPlan{ask: c.ask})
		if !slices.Equal(req.Notes, []string{c.want}) {
			t.Errorf("ask %v: notes %q, want [%q]", c.ask, req.Notes, c.want)
		}
		if len(c.ask) == len(m.Permissions) {
			sum := 20
			for _, it := range req.Items {
				sum += it.Risk
			}
			if sum != score.Value {
				t.Errorf("items and notes add up to %d, the score is %d", sum, score.Value)
			}
		}
	}
}
