package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

// Request is one question to the policy: may Plugin do Action on a resource?
type Request struct {
	Publisher      string // the plugin's publisher name, from its verified bundle
	PublisherKeyID string // the publisher's key id, from its verified bundle
	Plugin         string
	Manifest       *Manifest // the plugin's declared permissions; nil declares nothing

	// Resource is a concrete resource name ("filesystem:/home/u/a.csv",
	// "net:https://api.x.com/v1/items", "clipboard"), as the gate checks one
	// host call. Pattern, when not zero, replaces it: the question is then
	// whether a token for the whole pattern may be issued.
	Resource string
	Pattern  resource.Pattern

	Action string
	Now    time.Time // zero: time.Now()
}

// Decision is the answer: the effect, what decided it, and a sentence for the
// person reading an audit log or a prompt.
type Decision struct {
	Effect Effect
	// By names what decided: "rule:<id>", "grant:<id>", "manifest" (not
	// declared, or granted by a pre-approved publisher's manifest),
	// "always_ask:<category>" (an allow turned into ask), or "default" (no rule
	// and no grant, or a malformed request).
	By string
	// Reason is a full sentence.
	Reason string
	// MaxTTL bounds the lifetime of a token issued on this decision: the
	// policy's max_token_ttl, shortened to the deciding grant's expiry. Zero
	// when the effect is Deny.
	MaxTTL time.Duration
	// ConfirmTimeout, for Ask, is how long the person has to answer
	// (confirm_timeout); zero otherwise.
	ConfirmTimeout time.Duration
}

// Permission is one manifest permission: a resource pattern and its actions.
type Permission struct {
	Resource string   `json:"resource"`
	Actions  []string `json:"actions"`
}

// Manifest is a plugin's permissions, parsed once. It is immutable.
type Manifest struct {
	byKind map[resource.Kind][]perm
}

type perm struct {
	pat  resource.Pattern
	acts []string
}

// NewManifest parses perms. A permission that does not parse or names an action
// its kind lacks is an error: a manifest the host cannot read declares nothing.
func NewManifest(perms []Permission, o resource.Options) (*Manifest, error) {
	m := &Manifest{byKind: map[resource.Kind][]perm{}}
	for i, p := range perms {
		pat, err := resource.ParseWith(p.Resource, o)
		if err != nil {
			return nil, fmt.Errorf("manifest permissions[%d]: %w", i, err)
		}
		if err := resource.CheckActions(pat.Kind(), p.Actions); err != nil {
			return nil, fmt.Errorf("manifest permissions[%d] (%s): %w", i, p.Resource, err)
		}
		m.byKind[pat.Kind()] = append(m.byKind[pat.Kind()], perm{pat: pat, acts: append([]string(nil), p.Actions...)})
	}
	return m, nil
}

// Covers reports whether every action on every resource of p is declared by
// the manifest (each action may come from a different permission). When it is
// not, missing names the first action not covered. A grant outside this is
// refused: nothing outside a manifest can be granted.
func (m *Manifest) Covers(p resource.Pattern, actions []string) (ok bool, missing string) {
	t := target{kind: p.Kind(), pat: p, isPat: true}
	for _, a := range actions {
		if !m.covers(&t, a) {
			return false, a
		}
	}
	return true, ""
}

func (m *Manifest) covers(t *target, action string) bool {
	if m == nil {
		return false
	}
	for i := range m.byKind[t.kind] {
		p := &m.byKind[t.kind][i]
		if has(p.acts, action) && t.within(p.pat) {
			return true
		}
	}
	return false
}

// Grants is an immutable snapshot of the user's grants, indexed by plugin and
// resource kind. Build a new one from the store's rows whenever they change and
// hand it to Engine.SetGrants; a Decide in flight keeps the snapshot it began
// with. The design avoids a consumer interface on purpose: an interface would
// put a database query, or a lock, on every host call.
type Grants struct {
	byPlugin map[string]map[resource.Kind][]grant
	n        int
}

type grant struct {
	id      int64
	by      string // "grant:<id>", built once so that Decide does not format it
	pat     resource.Pattern
	acts    []string
	expires time.Time
}

// NewGrants indexes rows (typically store.ActiveGrants). A row whose pattern or
// actions do not parse is left out — leaving a grant out can only deny — and
// reported in the joined error; the returned Grants is usable either way.
func NewGrants(rows []store.Grant, o resource.Options) (*Grants, error) {
	g := &Grants{byPlugin: map[string]map[resource.Kind][]grant{}}
	var errs []error
	for _, r := range rows {
		pat, err := resource.ParseWith(r.Resource, o)
		if err == nil {
			err = resource.CheckActions(pat.Kind(), r.Actions)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("grant %d for %s ignored: %w", r.ID, r.Plugin, err))
			continue
		}
		byKind := g.byPlugin[r.Plugin]
		if byKind == nil {
			byKind = map[resource.Kind][]grant{}
			g.byPlugin[r.Plugin] = byKind
		}
		byKind[pat.Kind()] = append(byKind[pat.Kind()], grant{id: r.ID, by: "grant:" + strconv.FormatInt(r.ID, 10), pat: pat, acts: r.Actions, expires: r.Expires})
		g.n++
	}
	return g, errors.Join(errs...)
}

// Len returns the number of grants in the snapshot.
func (g *Grants) Len() int {
	if g == nil {
		return 0
	}
	return g.n
}

func (g *Grants) find(plugin string, t *target, action string, now time.Time) *grant {
	if g == nil {
		return nil
	}
	list := g.byPlugin[plugin][t.kind]
	for i := range list {
		gr := &list[i]
		if (gr.expires.IsZero() || now.Before(gr.expires)) && has(gr.acts, action) && t.within(gr.pat) {
			return gr
		}
	}
	return nil
}

// Engine answers Requests against one Policy and the current Grants. It is safe
// for concurrent use; Decide takes no lock and never blocks.
type Engine struct {
	pol       *Policy
	kinds     map[resource.Kind]*bucket
	any       bucket // rules without a resource
	alwaysAsk []Category
	grants    atomic.Pointer[Grants]
}

type bucket struct {
	byPlugin map[string][]*crule // rules whose plugin is a literal id
	wild     []*crule            // rules whose plugin is a glob or absent
}

type crule struct {
	*Rule
	order   int
	by      string           // "rule:<id>"
	pattern resource.Pattern // zero: every resource (deny and ask only)
}

// NewEngine indexes p's rules and starts with grants g (nil: none). A nil p
// means Default().
//
// A Policy should come from Parse, Load or Default, which validate it. One
// built as a literal fails closed here rather than open: its rules'
// resources are parsed now (with "~" as the user's home directory); an
// allow rule without a resource, or whose resource does not parse, allows
// nothing; a deny or ask rule whose resource does not parse applies to
// every resource; and a nil AlwaysAsk means DefaultAlwaysAsk, as it does
// for a policy file that leaves always_ask out.
func NewEngine(p *Policy, g *Grants) *Engine {
	if p == nil {
		p = Default()
	}
	e := &Engine{pol: p, kinds: map[resource.Kind]*bucket{}, alwaysAsk: p.AlwaysAsk}
	if e.alwaysAsk == nil {
		e.alwaysAsk = DefaultAlwaysAsk
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		pat := r.pattern
		if pat.IsZero() && r.Resource != "" {
			var err error
			if pat, err = resource.Parse(r.Resource); err != nil {
				pat = resource.Pattern{}
				if r.Effect == Allow {
					continue
				}
			}
		}
		if pat.IsZero() && r.Effect == Allow {
			continue
		}
		b := &e.any
		if !pat.IsZero() {
			b = e.kinds[pat.Kind()]
			if b == nil {
				b = &bucket{}
				e.kinds[pat.Kind()] = b
			}
		}
		c := &crule{Rule: r, order: i, by: "rule:" + r.ID, pattern: pat}
		if r.Plugin != "" && !strings.Contains(r.Plugin, "*") {
			if b.byPlugin == nil {
				b.byPlugin = map[string][]*crule{}
			}
			b.byPlugin[r.Plugin] = append(b.byPlugin[r.Plugin], c)
		} else {
			b.wild = append(b.wild, c)
		}
	}
	e.grants.Store(g)
	return e
}

// Policy returns the engine's policy.
func (e *Engine) Policy() *Policy { return e.pol }

// SetGrants atomically replaces the grants snapshot.
func (e *Engine) SetGrants(g *Grants) { e.grants.Store(g) }

// Grants returns the current grants snapshot.
func (e *Engine) Grants() *Grants { return e.grants.Load() }

// target is the resource a request is about: a concrete name or a pattern.
type target struct {
	kind   resource.Kind
	name   string
	pat    resource.Pattern
	isPat  bool
	fsPath string // for a filesystem name, the path: lets within skip patterns by Base
}

func (t *target) String() string {
	if t.isPat {
		return t.pat.String()
	}
	return t.name
}

// within: every resource of t is in p (manifest, grants, allow rules).
func (t *target) within(p resource.Pattern) bool {
	if t.isPat {
		return p.Contains(t.pat)
	}
	// Every path a filesystem pattern matches starts with its literal Base, so
	// a failed prefix test is a cheap, sound "no" before the full match.
	if t.fsPath != "" && !strings.HasPrefix(t.fsPath, p.Base()) {
		return false
	}
	return p.Match(t.name)
}

// touches: t may reach some resource of p (deny and ask rules). For patterns it
// is conservative only where resource.Contains is: two globs that overlap
// without either containing the other are not caught here, which is why the
// gate decides again on every concrete call.
func (t *target) touches(p resource.Pattern) bool {
	if t.isPat {
		return p.Contains(t.pat) || t.pat.Contains(p)
	}
	return p.Match(t.name)
}

func kindOf(name string) (resource.Kind, bool) {
	k, _, _ := strings.Cut(name, ":")
	kind, err := resource.ParseKind(k)
	return kind, err == nil
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (r *crule) matches(req *Request, t *target) bool {
	if r.Actions != nil && !has(r.Actions, req.Action) {
		return false
	}
	if r.Plugin != "" && !glob(r.Plugin, req.Plugin) {
		return false
	}
	if r.Publisher != "" && !glob(r.Publisher, req.Publisher) {
		return false
	}
	if r.PublisherKeyID != "" && r.PublisherKeyID != req.PublisherKeyID {
		return false
	}
	if r.pattern.IsZero() {
		return true
	}
	if r.Effect == Allow {
		return t.within(r.pattern)
	}
	return t.touches(r.pattern)
}

// Decide answers r. See the package documentation for the order.
func (e *Engine) Decide(r Request) Decision {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	t := target{pat: r.Pattern, isPat: !r.Pattern.IsZero(), name: r.Resource}
	if t.isPat {
		t.kind = r.Pattern.Kind()
	} else {
		k, ok := kindOf(r.Resource)
		if !ok {
			return Decision{Effect: Deny, By: "default",
				Reason: fmt.Sprintf("%q is not a resource name warden knows; a name starts with one of its kinds, such as filesystem: or net:.", r.Resource)}
		}
		t.kind = k
		if k == resource.Filesystem {
			t.fsPath = r.Resource[len("filesystem:"):]
		}
	}
	if !resource.ValidAction(t.kind, r.Action) {
		return Decision{Effect: Deny, By: "default",
			Reason: fmt.Sprintf("%q is not an action on %s resources; valid actions are %s.", r.Action, t.kind, strings.Join(resource.Actions(t.kind), ", "))}
	}

	var deny, ask, allow *crule
	visit := func(list []*crule) {
		for _, c := range list {
			if !c.matches(&r, &t) {
				continue
			}
			switch c.Effect {
			case Deny:
				if deny == nil || c.order < deny.order {
					deny = c
				}
			case Ask:
				if ask == nil || c.order < ask.order {
					ask = c
				}
			case Allow:
				// An override_ask rule changes the outcome, so it is the one to name.
				if allow == nil || (c.OverrideAsk && !allow.OverrideAsk) ||
					(c.OverrideAsk == allow.OverrideAsk && c.order < allow.order) {
					allow = c
				}
			}
		}
	}
	for _, b := range [2]*bucket{e.kinds[t.kind], &e.any} {
		if b != nil {
			visit(b.byPlugin[r.Plugin])
			visit(b.wild)
		}
	}
	res := t.String()

	if deny != nil {
		return Decision{Effect: Deny, By: deny.by,
			Reason: "Policy rule " + strconv.Quote(deny.ID) + " denies " + r.Action + " on " + res + because(deny.Reason)}
	}
	if !r.Manifest.covers(&t, r.Action) {
		return Decision{Effect: Deny, By: "manifest",
			Reason: "Plugin " + strconv.Quote(r.Plugin) + " did not declare " + r.Action + " on " + res + " in its manifest, and nothing outside a manifest can be granted."}
	}
	ttl := e.pol.MaxTokenTTL
	if ttl <= 0 {
		ttl = DefaultMaxTokenTTL
	}
	if ask != nil {
		return Decision{Effect: Ask, By: ask.by, MaxTTL: ttl, ConfirmTimeout: e.confirmTimeout(),
			Reason: "Policy rule " + strconv.Quote(ask.ID) + " requires a person to confirm " + r.Action + " on " + res + because(ask.Reason)}
	}
	gr := e.grants.Load().find(r.Plugin, &t, r.Action, now)
	pub, pre := e.pol.preapproved(r.Publisher, r.PublisherKeyID)

	var by, why string
	switch {
	case allow != nil:
		by = allow.by
		why = "Policy rule " + strconv.Quote(allow.ID) + " allows " + r.Action + " on " + res + because(allow.Reason)
	case gr != nil:
		by = gr.by
		until := "."
		if !gr.expires.IsZero() {
			until = " until " + gr.expires.UTC().Format(time.RFC3339) + "."
			ttl = min(ttl, gr.expires.Sub(now))
		}
		why = "The user's grant " + gr.by[len("grant:"):] + " allows " + r.Action + " on " + res + until
	case pre:
		by = "manifest"
		who := pub.Name
		if who == "" {
			who = pub.KeyID
		}
		why = fmt.Sprintf("Publisher %q is pre-approved by the policy, so the manifest's declaration of %s on %s is granted.", who, r.Action, res)
	default:
		return Decision{Effect: Deny, By: "default",
			Reason: "No policy rule or user grant allows " + r.Action + " on " + res + " for plugin " + strconv.Quote(r.Plugin) + ", and no rule means deny."}
	}
	if allow == nil || !allow.OverrideAsk {
		for _, c := range e.alwaysAsk {
			if c.covers(t.kind, r.Action) {
				return Decision{Effect: Ask, By: "always_ask:" + c.String(), MaxTTL: ttl, ConfirmTimeout: e.confirmTimeout(),
					Reason: fmt.Sprintf("%s, but %s is an always-ask category, so a person must confirm it.",
						strings.TrimSuffix(why, "."), c)}
			}
		}
	}
	return Decision{Effect: Allow, By: by, Reason: why, MaxTTL: ttl}
}

func (e *Engine) confirmTimeout() time.Duration {
	if e.pol.ConfirmTimeout > 0 {
		return e.pol.ConfirmTimeout
	}
	return DefaultConfirmTimeout
}

// because turns a rule's reason into the end of a sentence.
func because(reason string) string {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "."
	}
	if !strings.HasSuffix(reason, ".") && !strings.HasSuffix(reason, "!") && !strings.HasSuffix(reason, "?") {
		return ": " + reason + "."
	}
	return ": " + reason
}
