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
// they were.
package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wardenproject/warden/bundle"
	"github.com/wardenproject/warden/consent"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
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
	// ErrInstalled: a plugin with that name is already installed.
	ErrInstalled = errors.New("plugin already installed")
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
	UpsertPlugin(ctx context.Context, p store.Plugin) error
	DeletePlugin(ctx context.Context, id string) error
	AddGrant(ctx context.Context, g store.Grant) (store.Grant, error)
	Revoke(ctx context.Context, kind store.RevocationKind, value, reason string) (store.Revocation, error)
}

// Prompter asks a person; *consent.Screen is one.
type Prompter interface {
	Ask(ctx context.Context, req consent.Request) (consent.Decision, error)
}

// Config is what an install runs against.
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
	Grants  []store.Grant `json:"grants"`
	Verify  bundle.Result `json:"verify"`
}

// PluginsDir is where plugins are extracted under a home.
func PluginsDir(home string) string { return filepath.Join(home, "plugins") }

// Dir is the directory of one installed plugin version.
func Dir(home, name, version string) string {
	return filepath.Join(PluginsDir(home), name, version)
}

// Install verifies b and installs it. See the package doc for the order.
func Install(ctx context.Context, b *bundle.Bundle, c Config) (Report, error) {
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
	if _, err := c.Store.GetPlugin(ctx, m.Name); err == nil {
		return rep, fmt.Errorf("install %s: %w", m.Name, ErrInstalled)
	} else if !errors.Is(err, store.ErrNotFound) {
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}

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
	if err := submissionChecks(b, stagedDir); err != nil {
		return rep, err
	}
	score := manifest.Risk(m)
	rep.Risk = score.Value

	// 4. Consent: pre-approval, --yes, or a person.
	var accepted []int
	all := make([]int, len(m.Permissions))
	for i := range all {
		all[i] = i
	}
	source := store.SourceInstall
	switch {
	case preapproved(pol, m.Publisher.Name, rep.KeyID):
		if d := pol.InstallAllowed(score.Value, false); d.Effect != policy.Allow {
			return rep, fmt.Errorf("install %s: %s (%s): %w", m.Name, d.Reason, d.By, ErrPolicy)
		}
		rep.By, accepted, source = ByPreapproved, all, store.SourcePolicy
	case c.Yes:
		if d := pol.InstallAllowed(score.Value, true); d.Effect != policy.Allow {
			return rep, fmt.Errorf("install %s: %s (%s): %w", m.Name, d.Reason, d.By, ErrPolicy)
		}
		rep.By, accepted = ByUnattended, all
	case c.Prompter != nil:
		if d := pol.InstallAllowed(score.Value, false); d.Effect != policy.Allow {
			return rep, fmt.Errorf("install %s: %s (%s): %w", m.Name, d.Reason, d.By, ErrPolicy)
		}
		d, err := c.Prompter.Ask(ctx, consentRequest(m, rep, score))
		if err != nil {
			return rep, fmt.Errorf("install %s: %w", m.Name, err)
		}
		rep.By, accepted = ByConsent, d.Accepted
	default:
		return rep, fmt.Errorf("install %s: no terminal to show the consent screen on: %w", m.Name, ErrNeedsConsent)
	}

	// 5. Commit: files into place, then the store.
	dest := Dir(c.Home, m.Name, m.Version)
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return rep, fmt.Errorf("install: %w", err)
	}
	if err := os.Rename(stagedDir, dest); err != nil {
		return rep, fmt.Errorf("install %s: move into %s: %w", m.Name, dest, err)
	}
	rep.Path = dest
	src, _ := b.File(bundle.ManifestFile)
	compact, err := compactJSON(src)
	if err != nil {
		os.RemoveAll(dest)
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}
	p := store.Plugin{
		ID: m.Name, Version: m.Version, Publisher: m.Publisher.Name, KeyID: rep.KeyID, Path: dest,
		Manifest: compact, Digest: rep.Digest, State: store.StateActive, Risk: score.Value,
	}
	if err := c.Store.UpsertPlugin(ctx, p); err != nil {
		os.RemoveAll(dest)
		return rep, fmt.Errorf("install %s: %w", m.Name, err)
	}
	for _, i := range accepted {
		perm := m.Permissions[i]
		g, err := c.Store.AddGrant(ctx, store.Grant{
			Plugin: m.Name, Resource: perm.Resource, Actions: perm.Actions, Source: source,
			Note: "granted at install of " + m.Version + " (" + rep.By + ")",
		})
		if err != nil {
			_ = c.Store.DeletePlugin(ctx, m.Name)
			os.RemoveAll(dest)
			return rep, fmt.Errorf("install %s: %w", m.Name, err)
		}
		rep.Grants = append(rep.Grants, g)
	}
	return rep, nil
}

// submissionChecks are the checks a plugin store runs on a submission: no lint
// error, an SBOM that is CycloneDX JSON and a provenance that is an in-toto
// statement.
func submissionChecks(b *bundle.Bundle, dir string) error {
	m := b.Manifest()
	src, _ := b.File(bundle.ManifestFile)
	var errs []string
	for _, f := range manifest.Lint(m, src, filepath.Join(dir, bundle.ManifestFile)) {
		if f.Severity == manifest.SeverityError {
			errs = append(errs, fmt.Sprintf("%s %s: %s", f.RuleID, f.Path, f.Message))
		}
	}
	if len(errs) > 0 {
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

func consentRequest(m *manifest.Manifest, rep Report, score manifest.Score) consent.Request {
	req := consent.Request{
		Plugin: m.Name, Version: m.Version, Publisher: m.Publisher.Name, KeyID: rep.KeyID,
		Trust: rep.Verify.Reason, Risk: score.Value, Band: score.Band,
	}
	for i, p := range m.Permissions {
		it := consent.Item{Resource: p.Resource, Actions: p.Actions, Reason: p.Reason}
		prefix := "permissions[" + strconv.Itoa(i) + "]"
		for _, r := range score.Reasons {
			if r.Path == prefix || strings.HasPrefix(r.Path, prefix+".") {
				it.Risk += r.Points
			}
		}
		req.Items = append(req.Items, it)
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
