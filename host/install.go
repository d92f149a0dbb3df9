package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

// Grant is one capability given to a plugin at install: a resource pattern
// and actions on it. It must lie within the plugin's manifest.
type Grant struct {
	Resource string
	Actions  []string
}

// String renders g as RESOURCE=ACTION,ACTION, the form `warden run --cap`
// takes.
func (g Grant) String() string { return g.Resource + "=" + strings.Join(g.Actions, ",") }

// InstallOptions says how to install a plugin directory.
type InstallOptions struct {
	// Grants are recorded for the plugin (source "install"). Each must lie
	// within the manifest.
	Grants []Grant
	// Build builds the entry from the directory's Go source first, when the
	// entry is missing or older than the source (see Build).
	Build bool
	// Replace installs over a plugin of the same name: its grants are
	// replaced by Grants (the replacement is a new install, and no grant of
	// the old one applies to it); its key-value storage is kept. Without it,
	// installing an installed name fails with ErrInstalled.
	Replace bool
}

// Errors Install and Uninstall return (wrapped), for errors.Is.
var (
	ErrInstalled    = errors.New("plugin already installed")
	ErrNotInstalled = errors.New("plugin not installed")
	ErrLint         = errors.New("manifest has lint errors")
	ErrOutsideGrant = errors.New("grant outside the manifest")
)

// Install installs the plugin in dir (manifest.json and its built entry):
// no permission or grant may reach warden's own state (home.ErrProtected,
// logged as a refused install), the manifest must have no lint errors, the
// entry must compile and follow the ABI, and every grant must lie within
// the manifest. It records the
// plugin and its grants in the store in one transaction (a failure leaves the
// store as it was: no plugin without its grants, no grants without their
// plugin), then appends a "revoke" event per grant replaced, an "install"
// event and one "grant" event per grant to the ledger.
func (h *Host) Install(ctx context.Context, dir string, opts InstallOptions) (*Plugin, error) {
	if h.isClosed() {
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "the host is closed")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", dir, err)
	}
	if opts.Build {
		if _, err := Build(ctx, dir, BuildOptions{}); err != nil {
			return nil, err
		}
	}
	path, src, err := manifest.ReadFile(dir)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", dir, err)
	}
	m, err := manifest.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", dir, err)
	}
	if err := h.checkProtected(ctx, m, opts.Grants); err != nil {
		return nil, err
	}
	var lintErrs []string
	for _, f := range manifest.LintWith(m, src, path, manifest.LintOptions{Home: h.cfg.UserHome, Protected: h.guard}) {
		if f.Severity == manifest.SeverityError {
			lintErrs = append(lintErrs, fmt.Sprintf("%s:%d:%d: %s %s: %s", path, f.Line, f.Col, f.RuleID, f.Rule, f.Message))
		}
	}
	if len(lintErrs) > 0 {
		return nil, fmt.Errorf("install %s: %w (run 'warden lint %s'):\n  %s", m.Name, ErrLint, dir, strings.Join(lintErrs, "\n  "))
	}
	if err := m.Validate(dir, manifest.ValidateOptions{Home: h.cfg.UserHome}); err != nil {
		return nil, fmt.Errorf("install %s: %w", m.Name, err)
	}
	if m.Runtime != manifest.RuntimeWasm {
		return nil, fmt.Errorf("install %s: runtime %q is not supported by this host yet; only wasm plugins run", m.Name, m.Runtime)
	}
	perms, err := policyManifest(m, h.resOpts)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", m.Name, err)
	}
	grants := make([]store.Grant, 0, len(opts.Grants))
	for _, g := range opts.Grants {
		pat, err := resource.ParseWith(g.Resource, h.resOpts)
		if err == nil {
			err = resource.CheckActions(pat.Kind(), g.Actions)
		}
		if err != nil {
			return nil, fmt.Errorf("install %s: grant %s: %w", m.Name, g, err)
		}
		if ok, missing := perms.Covers(pat, g.Actions); !ok {
			return nil, fmt.Errorf("install %s: grant %s: %w: the manifest declares no %q on %s; add a permission to %s or narrow the grant",
				m.Name, g, ErrOutsideGrant, missing, pat, path)
		}
		grants = append(grants, store.Grant{Plugin: m.Name, Resource: pat.String(), Actions: slices.Clone(g.Actions), Source: store.SourceInstall})
	}
	data, digest, err := readEntry(dir, m.Entry)
	if err != nil {
		return nil, fmt.Errorf("install %s: read entry %s: %w", m.Name, m.Entry, err)
	}
	// Compile now: a module that does not follow the ABI fails here, and
	// the compilation cache is warm for the first call.
	mod, err := h.wasm.Compile(ctx, data, digest)
	if err != nil {
		return nil, fmt.Errorf("install %s: %w", m.Name, err)
	}
	_ = mod.Close(ctx)

	old, err := h.st.GetPlugin(ctx, m.Name)
	switch {
	case err == nil && !opts.Replace:
		return nil, fmt.Errorf("install %s: %w (version %s from %s); uninstall it first", m.Name, ErrInstalled, old.Version, old.Path)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("install %s: %w", m.Name, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, src); err != nil {
		return nil, fmt.Errorf("install %s: %w", m.Name, err)
	}
	rec := store.Plugin{ID: m.Name, Version: m.Version, Publisher: m.Publisher.Name, KeyID: m.Publisher.KeyID, Path: dir,
		Manifest: compact.Bytes(), Digest: digest, State: store.StateActive, Risk: manifest.Risk(m).Value}
	// One transaction: the row, the old grants out and the new ones in, or
	// nothing at all. A directory install is always a fresh install (a new
	// install id): Replace keeps its documented meaning, "its grants are
	// replaced by Grants", because the store deletes every grant bound to
	// the install it replaces. Pending grants stay pending: no consent
	// screen confirmed them.
	res, err := h.st.InstallPlugin(ctx, rec, grants, store.InstallOpts{Replace: opts.Replace})
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, fmt.Errorf("install %s: %w (installed meanwhile); uninstall it first", m.Name, ErrInstalled)
	case err != nil:
		return nil, fmt.Errorf("install %s: %w", m.Name, err)
	}
	rec = res.Plugin
	h.evict(ctx, m.Name)
	for _, g := range res.Removed {
		if err := h.adminEvent(ctx, audit.ActionRevoke, g.Resource, map[string]string{
			"from": m.Name, "acts": strings.Join(g.Actions, ","), "grant": fmt.Sprint(g.ID), "reason": "replaced by a new install"}); err != nil {
			return nil, err
		}
	}
	detail := map[string]string{"plugin": m.Name, "version": m.Version, "digest": digest, "source": "directory", "risk": fmt.Sprint(rec.Risk)}
	if res.Previous != nil {
		detail["previous"] = res.Previous.Version
	}
	if err := h.adminEvent(ctx, audit.ActionInstall, "plugin:"+m.Name, detail); err != nil {
		return nil, err
	}
	for _, saved := range res.Added {
		if err := h.adminEvent(ctx, audit.ActionGrant, saved.Resource, map[string]string{
			"to": m.Name, "acts": strings.Join(saved.Actions, ","), "grant": fmt.Sprint(saved.ID), "source": string(saved.Source)}); err != nil {
			return nil, err
		}
	}
	// refresh reloads the grants and tells the watchers.
	if err := h.refresh(ctx); err != nil {
		return nil, err
	}
	p := pluginOf(rec)
	p.Manifest = m
	return &p, nil
}

// Uninstall removes plugin: its record, grants and storage go from the
// store, its instances stop, every token minted for it is revoked, and an
// "uninstall" event is appended.
func (h *Host) Uninstall(ctx context.Context, name string) error {
	if h.isClosed() {
		return hostapi.Errorf(hostapi.CodeUnavailable, "the host is closed")
	}
	rec, err := h.st.GetPlugin(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("uninstall %s: %w", name, ErrNotInstalled)
	}
	if err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	if err := h.st.DeletePlugin(ctx, name); err != nil {
		return fmt.Errorf("uninstall %s: %w", name, err)
	}
	h.evict(ctx, name)
	n := h.revokeMinted(name)
	if err := h.adminEvent(ctx, audit.ActionUninstall, "plugin:"+name, map[string]string{
		"plugin": name, "version": rec.Version, "tokens_revoked": fmt.Sprint(n)}); err != nil {
		return err
	}
	return h.refresh(ctx)
}

// evict drops the loaded copy of a plugin and stops its instances.
func (h *Host) evict(ctx context.Context, name string) {
	h.mu.Lock()
	lp := h.plugins[name]
	delete(h.plugins, name)
	h.mu.Unlock()
	if lp != nil {
		lp.close(ctx)
	}
}

// adminEvent appends a durable administrative event by the host itself.
func (h *Host) adminEvent(ctx context.Context, action, res string, detail map[string]string) error {
	ev := &audit.Event{Time: h.cfg.Now(), Actor: audit.Actor{Plugin: "warden"}, Session: h.session, Action: action,
		Resource: res, Outcome: audit.OutcomeOK, Detail: detail}
	if _, err := h.ledger.Append(ctx, ev); err != nil {
		return fmt.Errorf("%s %s: record the audit event: %w", action, res, err)
	}
	return nil
}
