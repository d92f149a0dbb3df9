// Package install puts a verified plugin bundle on a host and takes it off
// again: verify against the trust registry, run the store-submission checks,
// get consent (a person at the consent screen, or the enterprise policy),
// record grants, and extract to <home>/plugins/<name>/<version>/, where package
// host loads it from.
//
// Order matters and is the point of the package: nothing is recorded in the
// state store until a person (or the policy) has said yes, and the files are
// staged in a private directory that is renamed into place only then, so a
// refusal or Ctrl-C at any step leaves the store and the plugins directory as
// they were. The plugin row and its grants go into the store in one
// transaction (store.InstallPlugin): a failure there removes the new files
// and leaves no plugin without its grants.
//
// # Grants that exist before the install
//
// Every grant is bound to the install it is for (store.Grant): its publisher
// key and install id. Nothing applies to a plugin that the person did not
// see on its consent screen, or that an unattended install (pre-approval,
// --yes) did not itself give. Two kinds of grants exist before an install,
// and the consent screen shows both as lines of their own, under the
// permissions it asks about:
//
//   - pending grants, given with `warden grant --key KEY` before the plugin
//     was installed. One pinned to this bundle's key starts marked; one
//     for no key (written before grants were bound) starts cleared; one for
//     another key is not shown and stays pending. A marked line is
//     confirmed and bound to the new install (grant.confirmed); a cleared
//     one is deleted (grant.deleted). An install without a person confirms
//     none of them: it deletes them.
//   - on an upgrade, the installed version's grants (see below), marked;
//     clearing one deletes it.
//
// A grant the new manifest does not cover is deleted whatever the person
// chooses, and listed on the screen as removed.
//
// # Upgrades
//
// With Config.Upgrade an installed plugin is replaced by a newer version of
// itself from the same publisher and key; the new row keeps the install id,
// so the grants bound to it carry over. The consent screen asks only about
// the permissions that are new or changed (same resource and the same
// actions count as unchanged); an unchanged permission keeps the decision
// made for it before, granted or not, and its grant is shown as an existing
// one. User grants (`warden grant`) are shown and stay when the new manifest
// still covers them and are deleted, as recorded grant.deleted events, when
// it does not. A lower version is refused (ErrDowngrade) unless
// Config.AllowDowngrade; the same version is refused as installed. The new
// version is extracted next to the old one, the store transaction switches
// to it, and only then is the old version's directory removed; a failure or
// refusal at any step leaves the old version installed and working.
package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/semver"

	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/consent"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
	"github.com/wardenproject/warden/trust"
)

// Errors a caller may branch on with errors.Is.
var (
	// ErrNotVerified: the bundle's verdict is not valid-trusted. The error is a
	// *VerifyError carrying the verdict.
	ErrNotVerified = errors.New("bundle did not verify as trusted")
	// ErrSubmission: the store-submission checks failed (lint errors, no SBOM,
	// no provenance).
	ErrSubmission = errors.New("bundle fails the submission checks")
	// ErrPolicy: the enterprise policy forbids this install (risk over
	// max_risk, or unattended install not allowed).
	ErrPolicy = errors.New("install forbidden by policy")
	// ErrNeedsConsent: no terminal to ask on and no --yes.
	ErrNeedsConsent = errors.New("install needs consent")
	// ErrInstalled: a plugin with that name is already installed (and
	// Config.Upgrade is not set, or the same version is installed).
	ErrInstalled = errors.New("plugin already installed")
	// ErrDowngrade: Config.Upgrade found a newer version installed and
	// Config.AllowDowngrade is not set.
	ErrDowngrade = errors.New("refusing to downgrade")
	// ErrPublisherChanged: the installed plugin of that name comes from
	// another publisher or key; what was granted to one is not consent for
	// the other.
	ErrPublisherChanged = errors.New("installed plugin has another publisher")
	// ErrNotInstalled: Uninstall found no such plugin.
	ErrNotInstalled = errors.New("plugin not installed")
	// ErrRefused and ErrInterrupted come from the consent screen.
	ErrRefused     = consent.ErrRefused
	ErrInterrupted = consent.ErrInterrupted
)

// VerifyError is ErrNotVerified with the verdict.
type VerifyError struct{ Result bundle.Result }

func (e *VerifyError) Error() string {
	return fmt.Sprintf("bundle %s %s is %s: %s", e.Result.Plugin, e.Result.Version, e.Result.State, e.Result.Reason)
}

// Unwrap makes errors.Is(err, ErrNotVerified) true.
func (e *VerifyError) Unwrap() error { return ErrNotVerified }

// Store is what install needs of the state store (*store.Store has it all).
type Store interface {
	GetPlugin(ctx context.Context, id string) (store.Plugin, error)
	ListPlugins(ctx context.Context) ([]store.Plugin, error)
	ListGrants(ctx context.Context, plugin string) ([]store.Grant, error)
	InstallPlugin(ctx context.Context, p store.Plugin, grants []store.Grant, opts store.InstallOpts) (store.Installed, error)
	DeletePlugin(ctx context.Context, id string) error
	Revoke(ctx context.Context, kind store.RevocationKind, value, reason string) (store.Revocation, error)
}

// Prompter asks a person; *consent.Screen is one.
type Prompter interface {
	Ask(ctx context.Context, req consent.Request) (consent.Decision, error)
}

// Config is what an install runs against. Home, Store and Trust are
// required: Install, Uninstall and List refuse a Config without them, naming
// the field. Every other zero field is the strict choice (the default
// policy, no terminal, no unattended install, no upgrade).
type Config struct {
	Home   string // warden home; plugins go under Home/plugins
	Store  Store
	Trust  *trust.Registry
	Policy *policy.Policy // nil: policy.Default()
	// Prompter is the consent screen, nil when there is no terminal.
	Prompter Prompter
	// Yes asks for an unattended install (warden install --yes); the policy
	// must allow unattended installs.
	Yes bool
	// Upgrade lets Install replace an installed older version of the plugin
	// (warden install --upgrade); see the package doc. Without it an
	// installed name fails with ErrInstalled.
	Upgrade bool
	// AllowDowngrade lets Upgrade install a version lower than the installed
	// one (warden install --upgrade --allow-downgrade).
	AllowDowngrade bool
}

// How consent was given.
const (
	ByConsent     = "consent"     // a person at the consent screen
	ByPreapproved = "preapproved" // the publisher is pre-approved by the policy
	ByUnattended  = "unattended"  // --yes under unattended_install: true
)

// Report says what Install did.
type Report struct {
	Plugin  string        `json:"plugin"`
	Version string        `json:"version"`
	Path    string        `json:"path"`
	Digest  string        `json:"digest"`
	KeyID   string        `json:"key_id"`
	Risk    int           `json:"risk"`
	By      string        `json:"by"`
	Grants  []store.Grant `json:"grants"` // given by this install
	Verify  bundle.Result `json:"verify"`
	// An upgrade also says what it replaced and what happened to the grants
	// of the old version.
	Previous string        `json:"previous_version,omitempty"`
	Kept     []store.Grant `json:"kept,omitempty"`    // unchanged install grants and covered user grants
	Removed  []store.Grant `json:"removed,omitempty"` // install grants replaced, grants cleared or outside the new manifest
	// Confirmed are grants given before the install (`warden grant --key`)
	// that the person confirmed on the consent screen: they now apply.
	Confirmed []store.Grant `json:"confirmed,omitempty"`
}

// PluginsDir is where plugins are extracted under a home.
func PluginsDir(home string) string { return filepath.Join(home, "plugins") }

// Dir is the directory of one installed plugin version.
func Dir(home, name, version string) string {
	return filepath.Join(PluginsDir(home), name, version)
}

// check refuses a Config that lacks a required field, naming it: without a
// home the plugins would land in the working directory.
func (c Config) check(op string) error {
	switch {
	case c.Home == "":
		return fmt.Errorf("%s: install.Config.Home is empty; pass warden's state directory", op)
	case c.Store == nil:
		return fmt.Errorf("%s: install.Config.Store is nil; pass the home's state store", op)
	case c.Trust == nil:
		return fmt.Errorf("%s: install.Config.Trust is nil; pass the home's trust registry (trust.Open)", op)
	}
	return nil
}

// Install verifies b and installs it. See the package doc for the order.
func Install(ctx context.Context, b *bundle.Bundle, c Config) (Report, error) {
	if err := c.check("install"); err != nil {
		return Report{}, err
	}
	pol := c.Policy
	if pol == nil {
		pol = policy.Default()
	}
	m := b.Manifest()
	rep := Report{Plugin: m.Name, Version: m.Version, Digest: b.Digest()}

	// 1. Signature, trust, revocation.
	rep.Verify = bundle.Verify(ctx, b, c.Trust.VerifyOptions())
	rep.KeyID = rep.Verify.KeyID
	if !rep.Verify.OK() {
		return rep, &VerifyError{Result: rep.Verify}
	}
	if !manifest.ValidPluginName(m.Name) || !manifest.ValidVersion(m.Version) {
		return rep, fmt.Errorf("install: name %q or version %q cannot name a directory: %w", m.Name, m.Version, ErrSubmission)
	}
	// No permission may reach warden's own state, whatever the consent
	// screen would say: lint's WDN008 refuses it below, and the store
	// refuses such grants too.
	prot := home.NewProtected(home.Guarded{Path: c.Home, What: home.WhatHome}).With(home.Known()...)
	prev, err := c.Store.GetPlugin(ctx, m.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		prev = store.Plugin{}
	case err != nil:
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	default:
		if err := checkUpgrade(m, rep.KeyID, prev, c); err != nil {
			return rep, err
		}
		rep.Previous = prev.Version
	}
	upgrade := prev.ID != ""

	// 2. Stage the verified files privately; lint needs them on disk.
	plugins := PluginsDir(c.Home)
	if err := os.MkdirAll(plugins, 0o700); err != nil {
		return rep, fmt.Errorf("install: %w", err)
	}
	staging, err := os.MkdirTemp(plugins, ".staging-")
	if err != nil {
		return rep, fmt.Errorf("install: %w", err)
	}
	defer os.RemoveAll(staging)
	stagedDir := filepath.Join(staging, "plugin")
	if err := bundle.Extract(b, stagedDir); err != nil {
		return rep, fmt.Errorf("install: %w", err)
	}

	// 3. Store-submission checks.
	if err := submissionChecks(b, stagedDir, prot); err != nil {
		return rep, err
	}
	score := manifest.Risk(m)
	rep.Risk = score.Value

	// 3b. Which permissions to ask about (all of them, or on an upgrade the
	// new or changed ones), and what becomes of the grants that exist
	// already: the installed version's, and those given before any install.
	plan, err := planGrants(ctx, c.Store, m, rep.KeyID, prev)
	if err != nil {
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}

	// 4. Consent: pre-approval, --yes, or a person, for the permissions in
	// plan.ask and the grants in plan.existing. Without a person, the
	// installed version's grants are kept and grants given before the
	// install are dropped: only a person at a consent screen that shows
	// them confirms those.
	var accepted []int
	keep := make([]bool, len(plan.existing))
	source := store.SourceInstall
	switch {
	case preapproved(pol, m.Publisher.Name, rep.KeyID):
		if d := pol.InstallAllowed(score.Value, false); d.Effect != policy.Allow {
			return rep, policyError(m.Name, d)
		}
		rep.By, accepted, source = ByPreapproved, plan.ask, store.SourcePolicy
		plan.keepUnattended(keep)
	case c.Yes:
		if d := pol.InstallAllowed(score.Value, true); d.Effect != policy.Allow {
			return rep, policyError(m.Name, d)
		}
		rep.By, accepted = ByUnattended, plan.ask
		plan.keepUnattended(keep)
	case c.Prompter != nil:
		if d := pol.InstallAllowed(score.Value, false); d.Effect != policy.Allow {
			return rep, policyError(m.Name, d)
		}
		d, err := c.Prompter.Ask(ctx, consentRequest(m, rep, score, plan))
		if err != nil {
			return rep, fmt.Errorf("install %s: %w", m.Name, err)
		}
		rep.By = ByConsent
		for _, i := range d.Accepted {
			switch {
			case i >= 0 && i < len(plan.ask):
				accepted = append(accepted, plan.ask[i])
			case i >= len(plan.ask) && i < len(plan.ask)+len(plan.existing):
				keep[i-len(plan.ask)] = true
			}
		}
	default:
		return rep, fmt.Errorf("install %s: no terminal to show the consent screen on: %w", m.Name, ErrNeedsConsent)
	}

	// 5. Commit: files into place next to any old version, then the store in
	// one transaction, then the old version's files go.
	src, _ := b.File(bundle.ManifestFile)
	compact, err := compactJSON(src)
	if err != nil {
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}
	dest := Dir(c.Home, m.Name, m.Version)
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return rep, fmt.Errorf("install: %w", err)
	}
	if dest != prev.Path {
		// Not the installed version's files (the same version is refused
		// above), so only a leftover of an install that died here.
		if err := os.RemoveAll(dest); err != nil {
			return rep, fmt.Errorf("install %s: remove leftover %s: %w", m.Name, dest, err)
		}
	}
	if err := os.Rename(stagedDir, dest); err != nil {
		return rep, fmt.Errorf("install %s: move into %s: %w", m.Name, dest, err)
	}
	p := store.Plugin{
		ID: m.Name, Version: m.Version, Publisher: m.Publisher.Name, KeyID: rep.KeyID, Path: dest,
		Manifest: compact, Digest: rep.Digest, State: store.StateActive, Risk: score.Value,
	}
	var grants []store.Grant
	for _, i := range accepted {
		perm := m.Permissions[i]
		grants = append(grants, store.Grant{
			Plugin: m.Name, Resource: perm.Resource, Actions: perm.Actions, Source: source,
			Note: "granted at install of " + m.Version + " (" + rep.By + ")",
		})
	}
	opts := plan.installOpts(keep)
	opts.Replace, opts.Upgrade, opts.IfDigest = upgrade, upgrade, prev.Digest
	res, err := c.Store.InstallPlugin(ctx, p, grants, opts)
	if err != nil && !errors.Is(err, store.ErrNotRecorded) {
		os.RemoveAll(dest)
		if !upgrade {
			os.Remove(filepath.Dir(dest)) // only if empty: nothing else of this name is here
		}
		switch {
		case errors.Is(err, store.ErrExists):
			err = fmt.Errorf("%w (installed meanwhile by another warden)", ErrInstalled)
		case errors.Is(err, store.ErrChanged):
			err = fmt.Errorf("%w; run the install again to see the new consent screen", err)
		}
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}
	// From here the new version is installed, even when its events could not
	// be recorded (store.ErrNotRecorded, returned below).
	rep.Path = dest
	rep.Grants = res.Added
	rep.Removed = res.Removed
	rep.Confirmed = res.Confirmed
	rep.Kept = append(res.Kept, plan.keptUser(keep, res.Removed)...)
	if upgrade && prev.Path != dest && ownedDir(c.Home, m.Name, prev.Path) {
		// Best effort: the new version is in and working; a directory left
		// behind is disk space, not state.
		_ = os.RemoveAll(prev.Path)
	}
	if err != nil {
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}
	return rep, nil
}

// checkUpgrade decides whether m may replace the installed prev.
func checkUpgrade(m *manifest.Manifest, keyID string, prev store.Plugin, c Config) error {
	if !c.Upgrade {
		return fmt.Errorf("install %s: version %s is installed: %w", m.Name, prev.Version, ErrInstalled)
	}
	if prev.Publisher != m.Publisher.Name || prev.KeyID != keyID {
		return fmt.Errorf("install %s: the installed version %s is from %q (key %s), this bundle from %q (key %s): %w",
			m.Name, prev.Version, prev.Publisher, prev.KeyID, m.Publisher.Name, keyID, ErrPublisherChanged)
	}
	switch cmp := semver.Compare("v"+m.Version, "v"+prev.Version); {
	case cmp == 0:
		return fmt.Errorf("install %s: version %s is already installed: %w", m.Name, prev.Version, ErrInstalled)
	case cmp < 0 && !c.AllowDowngrade:
		return fmt.Errorf("install %s: version %s is older than the installed %s: %w", m.Name, m.Version, prev.Version, ErrDowngrade)
	}
	return nil
}

// grantPlan is what an install does with the permissions it asks about and
// with the grants that exist before it.
type grantPlan struct {
	ask      []int      // indexes of m.Permissions to ask about: all, or on an upgrade the new or changed
	existing []existing // grants shown as lines of their own, after the asked permissions
	removed  []store.Grant
}

// existing is a grant that exists before the install.
type existing struct {
	grant store.Grant
	// pending: given before any install; keeping it confirms it (binds it
	// to this install). Otherwise it is the installed version's.
	pending bool
	// marked: starts marked on the screen. A pending grant pinned to this
	// bundle's key and the installed version's grants start marked; a
	// pending grant for no particular key starts cleared.
	marked bool
	what   string // the screen's words for it
}

// planGrants compares the new manifest m, signed by keyID, with the grants
// that exist for its name: the installed version prev's (when prev.ID is
// set, an upgrade from the same key) and the pending ones.
//
// On an upgrade a permission is unchanged when the old manifest declares the
// same resource with the same actions; it is not asked about again, and its
// install or policy grant, if the person gave it, is shown as an existing
// grant. Every other permission is asked about. If the old manifest cannot
// be read, every permission counts as new and no install grant is kept. A
// user grant of the installed version is shown when the new manifest covers
// it and removed when it does not.
//
// A pending grant for this key, or for no key (a database from before
// grants were bound), is shown when the new manifest covers it and removed
// when it does not or has expired; a pending grant for another key is left
// alone: it is not this publisher's to see or take.
func planGrants(ctx context.Context, st Store, m *manifest.Manifest, keyID string, prev store.Plugin) (grantPlan, error) {
	var plan grantPlan
	newPerms := make([]policy.Permission, len(m.Permissions))
	for i, p := range m.Permissions {
		newPerms[i] = policy.Permission{Resource: p.Resource, Actions: p.Actions}
	}
	covers, err := policy.NewManifest(newPerms, resource.Options{})
	if err != nil {
		return plan, fmt.Errorf("read the new manifest's permissions: %w", err)
	}
	covered := func(g store.Grant) bool {
		pat, err := resource.Parse(g.Resource)
		if err != nil {
			return false
		}
		ok, _ := covers.Covers(pat, g.Actions)
		return ok
	}
	oldPerms := map[string]bool{}
	if prev.ID != "" {
		if old, err := manifest.Parse(prev.Manifest); err == nil {
			for _, p := range old.Permissions {
				oldPerms[permKey(p.Resource, p.Actions)] = true
			}
		}
	}
	unchanged := map[string]bool{}
	for i, p := range m.Permissions {
		if k := permKey(p.Resource, p.Actions); oldPerms[k] {
			unchanged[k] = true
		} else {
			plan.ask = append(plan.ask, i)
		}
	}
	gs, err := st.ListGrants(ctx, m.Name)
	if err != nil {
		return plan, err
	}
	for _, g := range gs {
		switch {
		case g.Pending() && g.KeyID != "" && g.KeyID != keyID:
			// Pinned to another publisher's key: not this install's.
		case g.Pending() && (!covered(g) || !g.Active(time.Now())):
			plan.removed = append(plan.removed, g)
		case g.Pending():
			plan.existing = append(plan.existing, existing{grant: g, pending: true, marked: g.KeyID != "", what: pendingWords(g)})
		case prev.ID == "" || !g.BoundTo(prev):
			// Bound to no install of this name that is here: the store
			// deletes it in the install's transaction.
		case g.Source == store.SourceInstall || g.Source == store.SourcePolicy:
			if unchanged[permKey(g.Resource, g.Actions)] {
				plan.existing = append(plan.existing, existing{grant: g, marked: true,
					what: fmt.Sprintf("grant %d, given at the install of %s%s; kept unless you clear it", g.ID, prev.Version, expiryWords(g))})
			}
			// A changed permission's grant is replaced by what is asked.
		case covered(g):
			plan.existing = append(plan.existing, existing{grant: g, marked: true,
				what: fmt.Sprintf("your grant %d (warden grant) to %s%s; kept unless you clear it", g.ID, prev.Version, expiryWords(g))})
		default:
			plan.removed = append(plan.removed, g)
		}
	}
	return plan, nil
}

// pendingWords says what a pending grant is on the consent screen.
func pendingWords(g store.Grant) string {
	when := g.Created.UTC().Format("2006-01-02")
	if g.KeyID == "" {
		return fmt.Sprintf("grant %d, given %s before any install and for no particular publisher%s; it applies only if you mark it",
			g.ID, when, expiryWords(g))
	}
	return fmt.Sprintf("your grant %d, given %s before install for this publisher's key %s%s; it applies only if it stays marked",
		g.ID, when, g.KeyID, expiryWords(g))
}

func expiryWords(g store.Grant) string {
	if g.Expires.IsZero() {
		return ""
	}
	return ", expires " + g.Expires.UTC().Format(time.RFC3339)
}

// keepUnattended decides for an install without a person: the installed
// version's grants stay, and no pending grant is confirmed.
func (plan grantPlan) keepUnattended(keep []bool) {
	for i, e := range plan.existing {
		keep[i] = !e.pending
	}
}

// installOpts turns the plan and the person's choice (keep, by index of
// plan.existing) into what the store does in the install's transaction.
func (plan grantPlan) installOpts(keep []bool) store.InstallOpts {
	var opts store.InstallOpts
	for _, g := range plan.removed {
		opts.DropGrantIDs = append(opts.DropGrantIDs, g.ID)
	}
	for i, e := range plan.existing {
		switch g := e.grant; {
		case e.pending && keep[i]:
			opts.ConfirmGrantIDs = append(opts.ConfirmGrantIDs, g.ID)
		case !keep[i]:
			opts.DropGrantIDs = append(opts.DropGrantIDs, g.ID)
		case g.Source == store.SourceInstall || g.Source == store.SourcePolicy:
			opts.KeepGrantIDs = append(opts.KeepGrantIDs, g.ID)
		}
	}
	return opts
}

// keptUser is the installed version's user grants kept, for the report:
// the store reports the install and policy grants it kept itself.
func (plan grantPlan) keptUser(keep []bool, removed []store.Grant) []store.Grant {
	var out []store.Grant
	for i, e := range plan.existing {
		g := e.grant
		if keep[i] && !e.pending && g.Source == store.SourceUser &&
			!slices.ContainsFunc(removed, func(r store.Grant) bool { return r.ID == g.ID }) {
			out = append(out, g)
		}
	}
	return out
}

// permKey names a permission by its resource and its set of actions.
func permKey(res string, actions []string) string {
	acts := slices.Clone(actions)
	slices.Sort(acts)
	return res + "\x00" + strings.Join(slices.Compact(acts), ",")
}

// ownedDir reports whether dir is a version directory of plugin name under
// home, so that an upgrade never removes a path a damaged row points
// elsewhere.
func ownedDir(home, name, dir string) bool {
	return dir != "" && filepath.Dir(filepath.Clean(dir)) == filepath.Join(PluginsDir(home), name)
}

// submissionChecks are the checks a plugin store runs on a submission: no lint
// error, an SBOM that is CycloneDX JSON and a provenance that is an in-toto
// statement.
func submissionChecks(b *bundle.Bundle, dir string, prot home.Protected) error {
	m := b.Manifest()
	src, _ := b.File(bundle.ManifestFile)
	var errs []string
	var protected error
	for _, f := range manifest.LintWith(m, src, filepath.Join(dir, bundle.ManifestFile), manifest.LintOptions{Protected: prot}) {
		if f.Severity == manifest.SeverityError {
			errs = append(errs, fmt.Sprintf("%s %s: %s", f.RuleID, f.Path, f.Message))
		}
		if f.RuleID == "WDN008" {
			protected = home.ErrProtected
		}
	}
	if len(errs) > 0 {
		if protected != nil {
			return fmt.Errorf("manifest lint errors:\n  %s: %w (%w)", strings.Join(errs, "\n  "), ErrSubmission, protected)
		}
		return fmt.Errorf("manifest lint errors:\n  %s: %w", strings.Join(errs, "\n  "), ErrSubmission)
	}
	var sbom struct {
		BOMFormat   string `json:"bomFormat"`
		SpecVersion string `json:"specVersion"`
	}
	if data, ok := b.File(bundle.SBOMFile); !ok {
		return fmt.Errorf("the bundle has no SBOM (%s): %w", bundle.SBOMFile, ErrSubmission)
	} else if json.Unmarshal(data, &sbom) != nil || sbom.BOMFormat != "CycloneDX" {
		return fmt.Errorf("%s is not a CycloneDX JSON SBOM: %w", bundle.SBOMFile, ErrSubmission)
	}
	var prov struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
	}
	if data, ok := b.File(bundle.ProvenanceFile); !ok {
		return fmt.Errorf("the bundle has no provenance (%s): %w", bundle.ProvenanceFile, ErrSubmission)
	} else if json.Unmarshal(data, &prov) != nil || prov.Type != bundle.StatementType || prov.PredicateType != bundle.ProvenancePredicateType {
		return fmt.Errorf("%s is not an in-toto statement with SLSA provenance v1: %w", bundle.ProvenanceFile, ErrSubmission)
	}
	return nil
}

// preapproved applies the policy's preapproved_publishers: an entry matches
// when its key id (if set) and its name (if set) both match.
func preapproved(p *policy.Policy, name, keyID string) bool {
	for _, pub := range p.PreapprovedPublishers {
		if pub.KeyID != "" && pub.KeyID != keyID {
			continue
		}
		if pub.Name != "" && pub.Name != name {
			continue
		}
		if pub.KeyID == "" && pub.Name == "" {
			continue
		}
		return true
	}
	return false
}

// consentRequest shows the permissions plan.ask names, then the grants that
// exist already, then the grants the install removes; on an upgrade the
// heading says so, and that unchanged permissions are not asked again.
func consentRequest(m *manifest.Manifest, rep Report, score manifest.Score, plan grantPlan) consent.Request {
	req := consent.Request{
		Plugin: m.Name, Version: m.Version, Publisher: m.Publisher.Name, KeyID: rep.KeyID,
		Trust: rep.Verify.Reason, Risk: score.Value, Band: score.Band,
	}
	if rep.Previous != "" {
		req.Version = fmt.Sprintf("%s (upgrade from %s; only new or changed permissions are asked for, %d unchanged as they were)",
			m.Version, rep.Previous, len(m.Permissions)-len(plan.ask))
	}
	// A person sees items numbered from 1, not manifest paths: name each
	// permission in a note by its number on the screen, or by its resource
	// when an upgrade does not list it.
	screen := make([]string, 0, 2*len(m.Permissions))
	for i, p := range m.Permissions {
		name := p.Resource
		if k := slices.Index(plan.ask, i); k >= 0 {
			name = "permission " + strconv.Itoa(k+1)
		}
		screen = append(screen, "permissions["+strconv.Itoa(i)+"]", name)
	}
	names := strings.NewReplacer(screen...)
	for _, r := range score.Reasons {
		if !strings.HasPrefix(r.Path, "permissions[") {
			req.Notes = append(req.Notes, fmt.Sprintf("+%d %s", r.Points, names.Replace(r.What)))
		}
	}
	for _, i := range plan.ask {
		p := m.Permissions[i]
		it := consent.Item{Resource: p.Resource, Actions: p.Actions, Reason: p.Reason}
		prefix := "permissions[" + strconv.Itoa(i) + "]"
		for _, r := range score.Reasons {
			if r.Path == prefix || strings.HasPrefix(r.Path, prefix+".") {
				it.Risk += r.Points
			}
		}
		req.Items = append(req.Items, it)
	}
	for _, e := range plan.existing {
		req.Items = append(req.Items, consent.Item{Resource: e.grant.Resource, Actions: e.grant.Actions, Existing: e.what, Selected: e.marked})
	}
	for _, g := range plan.removed {
		what := fmt.Sprintf("grant %d", g.ID)
		if g.Pending() {
			what += ", given before install"
		}
		req.Removed = append(req.Removed, consent.Item{Resource: g.Resource, Actions: g.Actions, Existing: what})
	}
	return req
}

func compactJSON(src []byte) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Uninstall removes plugin name: its store row, grants and kv data, its files,
// and records a plugin revocation so every token issued to it is dead.
func Uninstall(ctx context.Context, name string, c Config) error {
	if err := c.check("uninstall " + name); err != nil {
		return err
	}
	if !manifest.ValidPluginName(name) {
		return fmt.Errorf("uninstall %q: not a plugin name: %w", name, ErrNotInstalled)
	}
	if _, err := c.Store.GetPlugin(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("uninstall %s: %w", name, ErrNotInstalled)
		}
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	if _, err := c.Store.Revoke(ctx, store.RevokePlugin, name, "uninstalled"); err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	if err := c.Store.DeletePlugin(ctx, name); err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	dir := filepath.Join(PluginsDir(c.Home), name)
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("uninstall %s: remove %s: %w", name, dir, err)
	}
	return nil
}

// Installed is one row of warden list.
type Installed struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Publisher   string    `json:"publisher"`
	KeyID       string    `json:"key_id"`
	Trust       string    `json:"trust"` // trusted, untrusted, expired, revoked, quarantined
	Risk        int       `json:"risk"`
	Digest      string    `json:"digest"`
	Path        string    `json:"path"`
	InstalledAt time.Time `json:"installed_at"`
}

// List returns the installed plugins with their trust state now.
func List(ctx context.Context, c Config) ([]Installed, error) {
	if err := c.check("list plugins"); err != nil {
		return nil, err
	}
	ps, err := c.Store.ListPlugins(ctx)
	if err != nil {
		return nil, err
	}
	out := []Installed{}
	for _, p := range ps {
		st := c.Trust.State(p.KeyID)
		rl := c.Trust.Revocations()
		if _, ok := rl.RevokedBundle(p.Digest); ok {
			st = "revoked"
		} else if _, ok := rl.RevokedVersion(p.ID, p.Version); ok {
			st = "revoked"
		}
		if p.State == store.StateQuarantined {
			st = "quarantined"
		}
		out = append(out, Installed{Name: p.ID, Version: p.Version, Publisher: p.Publisher, KeyID: p.KeyID,
			Trust: st, Risk: p.Risk, Digest: p.Digest, Path: p.Path, InstalledAt: p.InstalledAt})
	}
	return out, nil
}

// PolicyError is the enterprise policy's refusal of an install; it wraps
// ErrPolicy and carries the decision, whose By names the rule
// ("policy:max_risk", "policy:unattended_install") a caller may branch on.
type PolicyError struct {
	Plugin   string
	Decision policy.Decision
}

// Error words the refusal as one sentence: what was refused, why (the
// decision's reason, a sentence of its own for display elsewhere), and which
// rule said so.
func (e *PolicyError) Error() string {
	why := strings.TrimSuffix(e.Decision.Reason, ".")
	if r, size := utf8.DecodeRuneInString(why); size > 0 {
		why = string(unicode.ToLower(r)) + why[size:]
	}
	return fmt.Sprintf("install %s: %v: %s (rule %s)", e.Plugin, ErrPolicy, why, e.Decision.By)
}

func (e *PolicyError) Unwrap() error { return ErrPolicy }

func policyError(name string, d policy.Decision) error {
	return &PolicyError{Plugin: name, Decision: d}
}
