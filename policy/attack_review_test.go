package policy

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"testing"

	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

// TestReviewGrantCannotLiftAlwaysAsk: network egress is an always-ask
// category. A user grant — even one covering every host, recorded by
// whatever means — never turns it into allow, for a concrete call or for a
// token pattern (capability.request); nor does an allow rule without
// override_ask or a pre-approved publisher. A deny rule still beats an
// override_ask allow rule, and a token pattern that reaches a denied
// sub-tree is denied as a whole.
func TestReviewGrantCannotLiftAlwaysAsk(t *testing.T) {
	pol := mustParse(t, `
version: 1
preapproved_publishers:
  - {name: trusted-co, key_id: "ed25519:1111111111111111"}
rules:
  - {id: api, effect: allow, resource: "net:https://api.acme.com/**"}
  - {id: fast, effect: allow, plugin: "acme.fast", resource: "net:https://api.acme.com/**", override_ask: true}
  - {id: no-admin, effect: deny, resource: "net:https://api.acme.com/admin/**"}
`)
	m := manifestOf(t, "net:https://api.acme.com/** get,post", "net:https://*.acme.com/** get")
	grants := grantsOf(t,
		store.Grant{ID: 1, Plugin: "acme.sheets", Resource: "net:https://api.acme.com/**", Actions: []string{"get", "post"}},
		store.Grant{ID: 2, Plugin: "acme.sheets", Resource: "net:*", Actions: []string{"get", "post"}},
		store.Grant{ID: 3, Plugin: "acme.fast", Resource: "net:*", Actions: []string{"get", "post"}},
	)
	e := NewEngine(pol, grants)
	base := Request{Publisher: "acme", Plugin: "acme.sheets", Manifest: m, Now: t0}
	for _, tc := range []struct {
		name   string
		mod    func(*Request)
		effect Effect
		by     string
	}{
		{"grant on the exact API", func(r *Request) { r.Resource, r.Action = "net:https://api.acme.com/v1/x", "post" }, Ask, "always_ask:net"},
		{"any-host grant, declared host", func(r *Request) { r.Resource, r.Action = "net:https://cdn.acme.com/a.js", "get" }, Ask, "always_ask:net"},
		{"any-host grant, undeclared host", func(r *Request) { r.Resource, r.Action = "net:https://evil.example/x", "post" }, Deny, "manifest"},
		{"any-host grant, token for the declared pattern", func(r *Request) {
			r.Pattern, r.Action = resource.MustParse("net:https://api.acme.com/**"), "post"
		}, Deny, "rule:no-admin"}, // the pattern reaches the denied sub-tree
		{"any-host grant, token for the declared CDN", func(r *Request) {
			r.Pattern, r.Action = resource.MustParse("net:https://cdn.acme.com/**"), "get"
		}, Ask, "always_ask:net"},
		{"any-host grant, token for every host", func(r *Request) { r.Pattern, r.Action = resource.MustParse("net:*"), "get" }, Deny, "rule:no-admin"},
		{"any-host grant, token for an undeclared host", func(r *Request) {
			r.Pattern, r.Action = resource.MustParse("net:https://evil.example/**"), "get"
		}, Deny, "manifest"},
		{"pre-approved publisher with a grant", func(r *Request) {
			r.Publisher, r.PublisherKeyID = "trusted-co", "ed25519:1111111111111111"
			r.Resource, r.Action = "net:https://api.acme.com/v1/x", "get"
		}, Ask, "always_ask:net"},
		{"override_ask allow", func(r *Request) {
			r.Plugin, r.Resource, r.Action = "acme.fast", "net:https://api.acme.com/v1/x", "get"
		}, Allow, "rule:fast"},
		{"deny beats override_ask", func(r *Request) {
			r.Plugin, r.Resource, r.Action = "acme.fast", "net:https://api.acme.com/admin/users", "get"
		}, Deny, "rule:no-admin"},
		{"deny beats grant", func(r *Request) { r.Resource, r.Action = "net:https://api.acme.com/admin/users", "post" }, Deny, "rule:no-admin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.mod(&r)
			d := e.Decide(r)
			if d.Effect != tc.effect || d.By != tc.by {
				t.Fatalf("Decide = %+v, want %s by %s", d, tc.effect, tc.by)
			}
			if d.Effect == Ask && d.MaxTTL > DefaultMaxTokenTTL {
				t.Fatalf("ask decision with MaxTTL %v", d.MaxTTL)
			}
		})
	}
	// A grant that expires at this very instant is no grant.
	late := NewEngine(pol, grantsOf(t, store.Grant{ID: 9, Plugin: "acme.late", Resource: "net:https://cdn.acme.com/**", Actions: []string{"get"}, Expires: t0}))
	r := base
	r.Plugin, r.Resource, r.Action = "acme.late", "net:https://cdn.acme.com/a.js", "get"
	if d := late.Decide(r); d.Effect != Deny || d.By != "default" {
		t.Fatalf("grant expiring at now: Decide = %+v, want deny by default", d)
	}
}
