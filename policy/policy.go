// Package policy decides whether a plugin may use a resource: it combines the
// enterprise policy file, the user's grants and the plugin's manifest into one
// Decision — allow, deny or ask a person — naming what decided and saying why
// in a sentence.
//
// docs/policy.md is the specification of the file format and of the decision
// order; docs/policy.schema.json (JSON Schema 2020-12, embedded as Schema) is
// its machine-readable shape. Parse accepts YAML 1.2 or JSON (a JSON document
// is YAML) and reports every bad field as file:line:column, the way caddy fails
// a config at load with the path of the bad field rather than at the first
// request.
//
// # The decision, in order
//
//  1. A deny rule that matches wins over everything.
//  2. The request must lie within the plugin's manifest; otherwise it is denied
//     ("not declared in manifest"). Nothing, not a grant, not a rule, not a
//     pre-approved publisher, can reach outside the manifest.
//  3. An ask rule that matches asks.
//  4. An allow rule, an active user grant, or a pre-approved publisher allows —
//     unless the resource is in an always-ask category (by default network
//     egress and process spawn), in which case it asks, except when an allow
//     rule with override_ask: true matched.
//  5. Nothing matched: deny. No rule and no grant means deny.
//
// Rules are unordered: the outcome never depends on where a rule sits in the
// file (when several rules of the deciding effect match, the first in file order
// is named). Firewall-style first-match lists are easy to get wrong by moving a
// line; "deny > ask > allow > default deny" is not.
//
// # Speed
//
// Decide runs on the host-call hot path. Every pattern is parsed once (Parse,
// NewGrants, NewManifest); rules are indexed by resource kind and then by
// literal plugin id, grants by plugin and kind, so a decision touches only the
// few rules and grants that could match. Grants are an immutable snapshot
// (Grants) that the Engine swaps atomically when the store changes, so Decide
// takes no lock.
//
// # Why no CEL
//
// docs/architecture.md allows conditions in CEL (cel.dev/cel-go) if patterns are not
// enough. They are enough for every control the issue asks for — publisher,
// plugin, resource, action, always-ask categories, token lifetime, risk caps —
// and a pattern can be indexed, proven a subset of another and explained in a
// sentence, where an expression can be none of these. CEL would also add a
// large dependency and a second language to review. If a condition on time of
// day or request attributes is ever needed, it belongs in a "when:" field
// evaluated after the pattern index has narrowed the candidates.
package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardenproject/warden/resource"
)

// Effect is what a rule or a decision says.
type Effect string

// Effects. The zero Effect is not valid; a Decision always carries one of these.
const (
	Allow Effect = "allow"
	Deny  Effect = "deny"
	Ask   Effect = "ask"
)

// Defaults of the built-in policy (no policy file) and of omitted fields.
const (
	DefaultMaxTokenTTL = time.Hour
	// DefaultConfirmTimeout is how long a person has to answer a
	// confirmation when the policy does not say: long enough to read the
	// question and think, short enough that a call nobody answers ends.
	DefaultConfirmTimeout = 2 * time.Minute
	// MaxConfirmTimeout bounds confirm_timeout: a call waiting on a person
	// holds an instance of its plugin.
	MaxConfirmTimeout = time.Hour
	// MaxTokenTTLCap bounds max_token_ttl: a capability token is meant to be
	// short-lived, and a month is already generous.
	MaxTokenTTLCap = 30 * 24 * time.Hour
)

// DefaultAlwaysAsk are the categories that ask a person even when a grant
// allows, unless the policy file says otherwise: network egress and process
// spawn, the two ways data and control leave the sandbox.
var DefaultAlwaysAsk = []Category{{Kind: resource.Net}, {Kind: resource.Process}}

// Policy is a parsed, validated enterprise policy. Treat it as read-only: the
// engine built from it may be in use on many goroutines. Get one from Parse,
// Load or Default; a Policy written as a literal skips the validation, and
// NewEngine makes it fail closed rather than open (see NewEngine).
type Policy struct {
	Version     int
	Rules       []Rule
	MaxTokenTTL time.Duration
	// ConfirmTimeout is how long a person has to answer a confirmation;
	// the plugin's own deadline stops meanwhile. Zero means
	// DefaultConfirmTimeout.
	ConfirmTimeout        time.Duration
	AlwaysAsk             []Category
	PreapprovedPublishers []Publisher
	MaxRisk               int  // 0: no cap
	UnattendedInstall     bool // may plugins be installed without a person at the consent screen
	MaxMemoryMB           int  // 0: no cap beyond each manifest's own limit

	// Caps on what a manifest's limits may ask for one invocation (written
	// bytes, audit events, log bytes); 0: no cap beyond the manifest's own
	// limit or the host's default.
	MaxWriteBytes, MaxEvents, MaxLogBytes int
	// PluginBudget bounds each plugin across all its invocations.
	PluginBudget PluginBudget

	// Source names where the policy came from: a file path or "built-in".
	Source string
}

// PluginBudget bounds what one plugin spends across all its invocations, per
// rolling Window: bytes written, audit events, log bytes. A zero field takes
// the host's default (docs/policy.md, "Budgets").
type PluginBudget struct {
	Window     time.Duration
	WriteBytes int
	Events     int
	LogBytes   int
}

// MaxBudgetWindow bounds plugin_budget.window: a budget that refills once a
// day is already a daily quota.
const MaxBudgetWindow = 24 * time.Hour

// Rule is one allow, deny or ask rule. Empty selectors match everything.
type Rule struct {
	ID             string
	Effect         Effect
	Publisher      string // glob over the publisher name; '*' matches any run of characters
	PublisherKeyID string // exact publisher key id
	Plugin         string // glob over the plugin id
	Resource       string // resource pattern as written; "" matches every resource (deny and ask only)
	Actions        []string
	Reason         string
	OverrideAsk    bool // allow rules only: also lift the always-ask categories

	pattern resource.Pattern
	line    int
}

// Publisher names a pre-approved publisher by key id, name, or both (both must
// then match). A key id is the stronger name: a publisher's name is only as
// trustworthy as the registry that bound it to a key.
type Publisher struct {
	Name  string
	KeyID string
}

// Category is an always-ask category: a resource kind, optionally narrowed to
// one action ("clipboard:read").
type Category struct {
	Kind   resource.Kind
	Action string // "": every action of Kind
}

func (c Category) String() string {
	if c.Action == "" {
		return string(c.Kind)
	}
	return string(c.Kind) + ":" + c.Action
}

func (c Category) covers(k resource.Kind, action string) bool {
	return c.Kind == k && (c.Action == "" || c.Action == action)
}

// ParseCategory parses "net", "process" or "kind:action".
func ParseCategory(s string) (Category, error) {
	kind, action, hasAction := strings.Cut(s, ":")
	k, err := resource.ParseKind(kind)
	if err != nil {
		return Category{}, fmt.Errorf("always-ask category %q: %w", s, err)
	}
	if hasAction && !resource.ValidAction(k, action) {
		return Category{}, fmt.Errorf("always-ask category %q: %q is not an action of %s; valid actions are %s",
			s, action, k, strings.Join(resource.Actions(k), ", "))
	}
	return Category{Kind: k, Action: action}, nil
}

// Default returns the built-in policy used when there is no policy file: no
// rules (so only grants and pre-approvals can allow, and default deny holds),
// always ask for network egress and process spawn, tokens live at most an hour,
// installs need a person.
func Default() *Policy {
	return &Policy{
		Version:     1,
		MaxTokenTTL: DefaultMaxTokenTTL,
		AlwaysAsk:   slices.Clone(DefaultAlwaysAsk),
		Source:      "built-in",
	}
}

// InstallAllowed says whether a plugin with the given risk score may be
// installed, and whether without a person (unattended). By is
// "policy:max_risk", "policy:unattended_install" or "default".
func (p *Policy) InstallAllowed(risk int, unattended bool) Decision {
	if p.MaxRisk > 0 && risk > p.MaxRisk {
		return Decision{Effect: Deny, By: "policy:max_risk",
			Reason: fmt.Sprintf("The plugin's risk score %d is above the policy's cap of %d.", risk, p.MaxRisk)}
	}
	if unattended && !p.UnattendedInstall {
		return Decision{Effect: Deny, By: "policy:unattended_install",
			Reason: "The policy requires a person at the consent screen to install a plugin."}
	}
	return Decision{Effect: Allow, By: "default", Reason: "The policy does not forbid this install."}
}

// preapproved reports whether the publisher is pre-approved.
func (p *Policy) preapproved(name, keyID string) (Publisher, bool) {
	for _, pub := range p.PreapprovedPublishers {
		if pub.KeyID != "" && pub.KeyID != keyID {
			continue
		}
		if pub.Name != "" && pub.Name != name {
			continue
		}
		return pub, true
	}
	return Publisher{}, false
}

// glob matches plugin and publisher names with the same matcher as resource
// patterns: '*' matches any run of characters.
func glob(g, s string) bool { return resource.Glob(g, s) }
