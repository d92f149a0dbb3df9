package host

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/internal/adminaudit"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/sandbox/wasm"
	"github.com/wardenproject/warden/store"
)

// Config configures a Host. New copies it; changing a Config after New has
// no effect.
//
// Every field but Home may be left zero, and zero is the confined choice:
// nobody to confirm (so asks are denied), the home's own policy file or the
// built-in policy, the background refresh on. Home has no safe default and
// is required. New refuses a negative PoolSize, MaxMemoryMB or
// RefreshInterval, naming the field, rather than guessing what it meant
// (docs/architecture.md, "Configuration").
type Config struct {
	// Home is warden's state directory (required). It is created 0700 and
	// refused when others can write it.
	Home string
	// PolicyPath is the enterprise policy file. Empty means <home>/policy.yaml
	// when it exists, else policy.Default().
	PolicyPath string
	// Confirmer asks a person when the policy says ask. Nil means
	// hostapi.DenyAll{}: nobody is there, so the answer is no.
	Confirmer hostapi.Confirmer
	// Log receives each plugin's stdout and stderr lines (stream "stdout",
	// "stderr") and its log.write lines (stream "log", line "LEVEL: message").
	// Nil drops them. It runs on the invoking goroutine: do not block.
	Log func(plugin, stream, line string)
	// Now is the clock for tokens, grants and events. Nil means time.Now.
	Now func() time.Time

	// UserHome is what "~" means in manifests, grants and policy patterns.
	// Empty means the current user's home directory. `warden demo` points it
	// at a temporary directory so that it never touches the real one.
	UserHome string
	// PoolSize bounds the live instances of each plugin; callers beyond it
	// wait. Zero means 4.
	PoolSize int
	// MaxMemoryMB caps every plugin's memory limit, below the policy's
	// max_memory_mb when that is lower. Zero means the engine default (1 GiB).
	MaxMemoryMB int
	// CacheDir holds compiled native code. Empty means <home>/cache/wasm.
	// It is checked like the home: private to its owner, or refused. Tests
	// share one across homes so that each guest compiles once.
	CacheDir string
	// RefreshInterval is how often grants, revocations and installed plugins
	// are re-read from the store, to see changes made by other warden
	// processes. Zero means 2 s. The refresh cannot be
	// turned off: without it a revocation made by `warden revoke` while the
	// host runs would never reach it.
	RefreshInterval time.Duration

	// manualRefresh, for this package's tests only, starts no background
	// refresh, so that a test decides when the host re-reads its store.
	manualRefresh bool
}

// defaultRefreshInterval is Config.RefreshInterval's zero.
const defaultRefreshInterval = 2 * time.Second

// check refuses the values of c that have no meaning, naming the field.
func (c Config) check() error {
	switch {
	case c.Home == "":
		return errors.New("new host: Config.Home is empty; pass warden's state directory")
	case c.PoolSize < 0:
		return fmt.Errorf("new host: Config.PoolSize is %d; pass a positive number of instances per plugin, or 0 for the default", c.PoolSize)
	case c.MaxMemoryMB < 0:
		return fmt.Errorf("new host: Config.MaxMemoryMB is %d; pass a positive cap in MiB, or 0 for the default", c.MaxMemoryMB)
	case c.RefreshInterval < 0:
		return fmt.Errorf("new host: Config.RefreshInterval is %v; the background refresh cannot be turned off (a revocation by another warden process would never reach this host): pass a positive interval, or 0 for the default", c.RefreshInterval)
	}
	return nil
}

// Plugin is an installed plugin as the host sees it.
type Plugin struct {
	Name           string
	Version        string
	Publisher      string
	PublisherKeyID string
	State          string // "active" or "quarantined"
	Risk           int
	Dir            string // the directory its entry is loaded from
	Digest         string
	InstalledAt    time.Time
	Manifest       *manifest.Manifest
}

// Host runs installed plugins. It is safe for concurrent use. Only one Host
// (one process) may hold a home's audit ledger at a time.
type Host struct {
	cfg      Config
	resOpts  resource.Options
	session  string
	ring     *hostkey.Ring
	st       *store.Store
	ledger   *audit.Ledger
	pol      *policy.Policy
	engine   *policy.Engine
	revs     *capability.RevocationSet
	verifier *capability.Verifier
	issuer   *capability.Issuer
	gate     *hostapi.Gate
	wasm     *wasm.Engine
	maxTTL   time.Duration
	guard    home.Protected // warden's own paths: no grant may reach them

	instances sync.Map // instance id -> *instance, to attribute audit events

	mu       sync.Mutex
	plugins  map[string]*loaded
	grantSig map[string]string // plugin -> ids of its active grants
	blocked  map[string]string // "publisher:NAME" or "key:ID" -> reason
	minted   map[string]map[string]time.Time
	meters   map[string]*hostapi.Meter // plugin -> its budget across invocations
	watchers map[int]func()
	nextW    int
	rowsSig  string
	closed   bool

	stop chan struct{}
	done chan struct{}
}

// New opens (creating if needed) the state in cfg.Home and returns a Host.
func New(ctx context.Context, cfg Config) (_ *Host, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Home)
	if err != nil {
		return nil, fmt.Errorf("new host: home %s: %w", cfg.Home, err)
	}
	cfg.Home = dir
	if err := home.Ensure(dir); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(dir, "cache", "wasm")
	}
	if cfg.Confirmer == nil {
		cfg.Confirmer = hostapi.DenyAll{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = 4
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = defaultRefreshInterval
	}
	if cfg.UserHome == "" {
		if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) {
			cfg.UserHome = h
		}
	}
	policyFile := cfg.PolicyPath
	if policyFile == "" {
		policyFile = filepath.Join(dir, "policy.yaml")
	}
	cacheG := home.Guarded{Path: cfg.CacheDir, What: home.WhatCache}
	policyG := home.Guarded{Path: policyFile, What: home.WhatPolicy}
	h := &Host{
		cfg:      cfg,
		resOpts:  resource.Options{Home: cfg.UserHome},
		session:  "s-" + randomHex(8),
		guard:    home.NewProtected(home.Guarded{Path: dir, What: home.WhatHome}, cacheG, policyG).With(home.Known()...),
		plugins:  map[string]*loaded{},
		grantSig: map[string]string{},
		blocked:  map[string]string{},
		minted:   map[string]map[string]time.Time{},
		meters:   map[string]*hostapi.Meter{},
		watchers: map[int]func(){},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i]()
			}
		}
	}()

	var policySource map[string]string
	if h.pol, policySource, err = loadPolicy(cfg); err != nil {
		return nil, err
	}
	h.maxTTL = h.pol.MaxTokenTTL
	if h.maxTTL <= 0 {
		h.maxTTL = policy.DefaultMaxTokenTTL
	}
	if h.ring, err = hostkey.Open(filepath.Join(dir, "keys")); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	var vkeys []string
	for _, k := range h.ring.Keys() {
		vk, err := audit.VerifierKey(k.Public)
		if err != nil {
			return nil, fmt.Errorf("new host: host key %s: %w", k.ID, err)
		}
		vkeys = append(vkeys, vk)
	}
	if h.ledger, err = audit.Open(filepath.Join(dir, "audit"), audit.WithSigner(h.ring.Signer()), audit.WithVerifierKeys(vkeys...)); err != nil {
		if errors.Is(err, audit.ErrLocked) {
			return nil, fmt.Errorf("new host: %w (another warden process, such as 'warden mcp', is using %s; stop it or use another --home)", err, dir)
		}
		return nil, fmt.Errorf("new host: %w", err)
	}
	closers = append(closers, h.ledger.Close)
	if h.st, err = store.Open(ctx, store.Path(dir), store.WithProtected(cacheG, policyG)); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	closers = append(closers, h.st.Close)
	// Administrative facts of this start: the host key if it is new or was
	// rotated since the last start, and the policy in force.
	if err := adminaudit.ReconcileKeys(ctx, h.ring.Keys(), h.st, h.ledger); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	if err := h.adminEvent(ctx, audit.ActionPolicyLoad, "policy:"+policySource["path"], policySource); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}

	h.revs = capability.NewRevocationSet()
	h.verifier = capability.NewVerifier(h.ring).WithRevocations(h.revs)
	h.issuer = capability.NewIssuer(h.ring.Signer()).WithMaxTTL(h.maxTTL).WithClock(cfg.Now)
	h.engine = policy.NewEngine(h.pol, nil)

	// The cache's entries are sealed with the home's cache secret and
	// checked before wazero loads them; a refused one is audited.
	secret, err := hostkey.CacheSecret(filepath.Join(dir, "keys"))
	if err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	wcfg := wasm.NewConfig().WithCacheDir(cfg.CacheDir).WithCacheKey(secret).WithCacheRejectHandler(h.cacheRejected)
	if mb := capMemory(cfg.MaxMemoryMB, h.pol.MaxMemoryMB); mb > 0 {
		wcfg = wcfg.WithMaxMemoryMB(mb)
	}
	if h.wasm, err = wasm.NewEngine(ctx, wcfg); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	closers = append(closers, func() error { return h.wasm.Close(context.Background()) })

	// No grant may reach warden's own state (docs/threat-model.md V-5):
	// the home, the cache and policy file wherever they live, and the
	// other homes of this user. The default policy file is named too, even
	// when the home covers it or another policy file is in force, so that
	// the gate records its identity and refuses a hard link to it made
	// elsewhere.
	protected := []string{filepath.Join(dir, "policy.yaml")}
	for _, g := range h.guard.Paths() {
		protected = append(protected, g.Path)
	}
	h.gate, err = hostapi.NewGate(hostapi.Config{
		Protected: protected,
		Tokens:    h.verifier,
		Policy:    h.engine,
		Audit:     eventTap{h},
		Confirm:   callConfirmer{h},
		Issuer:    trackingIssuer{h},
		KV:        h.st,
		Logger:    slog.New(logHandler{h: h}),
		Home:      cfg.UserHome,
		Clock:     cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	if err := h.refresh(ctx); err != nil {
		return nil, fmt.Errorf("new host: %w", err)
	}
	// Administrative events a CLI spooled while another host held the
	// ledger go in now; a failure is retried at every refresh.
	_ = h.drainSpool(ctx)
	if cfg.manualRefresh {
		close(h.done)
	} else {
		go h.refreshLoop()
	}
	return h, nil
}

func capMemory(a, b int) int {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// loadPolicy reads cfg.PolicyPath, or <home>/policy.yaml, or the default.
// loadPolicy loads the enterprise policy and says where it came from: the
// file and the SHA-256 of its bytes, or "built-in" for the default. The host
// logs that as its policy.load event.
func loadPolicy(cfg Config) (*policy.Policy, map[string]string, error) {
	path, explicit := cfg.PolicyPath, cfg.PolicyPath != ""
	if !explicit {
		path = filepath.Join(cfg.Home, "policy.yaml")
	}
	p, err := policy.Load(path, policy.ParseOptions{Home: cfg.UserHome})
	switch {
	case err == nil:
		src := map[string]string{"path": path}
		if data, rerr := os.ReadFile(path); rerr == nil {
			sum := sha256.Sum256(data)
			src["sha256"] = hex.EncodeToString(sum[:])
		}
		return p, src, nil
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return policy.Default(), map[string]string{"path": "built-in"}, nil
	}
	return nil, nil, fmt.Errorf("new host: load policy: %w", err)
}

// Ledger returns the host's audit ledger (read it, verify it, export it; the
// host appends to it).
func (h *Host) Ledger() *audit.Ledger { return h.ledger }

// Session returns the id this host gives every instance's session: one per
// Host, so that an audit reader can group the events of one run.
func (h *Host) Session() string { return h.session }

// Policy returns the policy the host decides with.
func (h *Host) Policy() *policy.Policy { return h.pol }

// Watch registers fn to run after every change to the set of installed
// plugins: Install, Uninstall, and changes by other processes seen by the
// refresh. fn runs on the goroutine that made the change, after it is
// complete; it must not block for long nor call Install or Uninstall. The
// returned function unregisters fn.
func (h *Host) Watch(fn func()) (cancel func()) {
	h.mu.Lock()
	id := h.nextW
	h.nextW++
	h.watchers[id] = fn
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.watchers, id)
		h.mu.Unlock()
	}
}

func (h *Host) notify() {
	h.mu.Lock()
	fns := make([]func(), 0, len(h.watchers))
	for _, fn := range h.watchers {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Plugins returns every installed plugin, ordered by name.
func (h *Host) Plugins(ctx context.Context) ([]Plugin, error) {
	rows, err := h.st.ListPlugins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Plugin, 0, len(rows))
	for _, r := range rows {
		p := pluginOf(r)
		if m, err := manifest.Parse(r.Manifest); err == nil {
			p.Manifest = m
		}
		out = append(out, p)
	}
	return out, nil
}

func pluginOf(r store.Plugin) Plugin {
	return Plugin{Name: r.ID, Version: r.Version, Publisher: r.Publisher, PublisherKeyID: r.KeyID, State: string(r.State),
		Risk: r.Risk, Dir: r.Path, Digest: r.Digest, InstalledAt: r.InstalledAt}
}

// Close stops every instance, makes the audit events durable and closes the
// ledger, the store and the runtime. Calls in flight fail with unavailable.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	plugins := h.plugins
	h.plugins = map[string]*loaded{}
	h.mu.Unlock()
	close(h.stop)
	<-h.done
	ctx := context.Background()
	var errs []error
	for _, lp := range plugins {
		lp.close(ctx)
	}
	errs = append(errs, h.gate.Flush(ctx))
	// Last chance to log what a CLI spooled; what fails stays spooled for
	// the next writer of the ledger.
	_ = h.drainSpool(ctx)
	errs = append(errs, h.wasm.Close(ctx))
	errs = append(errs, h.ledger.Close())
	errs = append(errs, h.st.Close())
	return errors.Join(errs...)
}

// drainSpool appends the administrative events that CLI commands spooled to
// <home>/audit.spool while this host held the ledger (docs/audit-format.md
// §8), oldest first, each durably before its file is deleted. Only the
// refresh loop, New and Close call it, one after another.
func (h *Host) drainSpool(ctx context.Context) error {
	_, err := adminaudit.Drain(ctx, adminaudit.SpoolDir(h.ledger.Dir()), h.ledger, audit.Actor{Plugin: "warden"})
	return err
}

func (h *Host) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *Host) refreshLoop() {
	defer close(h.done)
	t := time.NewTicker(h.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			// An error here (a busy database) is retried at the next tick;
			// the host keeps deciding with the state it has.
			_ = h.refresh(ctx)
			_ = h.drainSpool(ctx)
			cancel()
		}
	}
}

// refresh re-reads grants, revocations and installed plugins from the store.
func (h *Host) refresh(ctx context.Context) error {
	if err := h.reloadGrants(ctx); err != nil {
		return err
	}
	revs, err := h.st.Revocations(ctx)
	if err != nil {
		return err
	}
	blocked := map[string]string{}
	for _, r := range revs {
		switch r.Kind {
		case store.RevokeToken:
			h.revs.Revoke(r.Value)
		case store.RevokePlugin:
			h.revs.RevokeSubject(r.Value, r.RevokedBefore)
		case store.RevokePublisher:
			blocked["publisher:"+r.Value] = r.Reason
		case store.RevokeKey:
			blocked["key:"+r.Value] = r.Reason
		}
	}
	rows, err := h.st.ListPlugins(ctx)
	if err != nil {
		return err
	}
	sig := ""
	byID := map[string]store.Plugin{}
	for _, r := range rows {
		sig += fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%d\x00%s\n", r.ID, r.Version, r.Digest, r.State, r.Path, r.InstalledAt.UnixNano(), r.InstallID)
		byID[r.ID] = r
	}
	h.mu.Lock()
	h.blocked = blocked
	changed := sig != h.rowsSig
	h.rowsSig = sig
	var stale []*loaded
	for name, lp := range h.plugins {
		r, ok := byID[name]
		// A new install id (an uninstall and reinstall of the same bundle
		// looks the same otherwise) or key retires the loaded copy: its
		// tokens were minted from the grants of the old install.
		if !ok || r.Version != lp.rec.Version || r.Digest != lp.rec.Digest || r.State != lp.rec.State || r.Path != lp.rec.Path ||
			r.InstallID != lp.rec.InstallID || r.KeyID != lp.rec.KeyID {
			stale = append(stale, lp)
			delete(h.plugins, name)
		}
	}
	h.mu.Unlock()
	for _, lp := range stale {
		lp.close(ctx)
	}
	if changed {
		h.notify()
	}
	return nil
}

// reloadGrants hands the policy engine a new snapshot of the active grants
// and retires the instances of every plugin whose grants changed: their
// tokens were minted from the old set. ActiveGrants returns only grants
// bound to their plugin's current install (store.Grant.BoundTo), so a
// pending grant, or one given to another publisher's plugin of that name,
// never reaches the engine.
func (h *Host) reloadGrants(ctx context.Context) error {
	rows, err := h.st.ActiveGrants(ctx, h.cfg.Now())
	if err != nil {
		return err
	}
	// A grant that no longer parses is left out (it can only deny).
	g, _ := policy.NewGrants(rows, h.resOpts)
	h.engine.SetGrants(g)
	sigs := map[string]string{}
	for _, r := range rows {
		sigs[r.Plugin] += fmt.Sprintf("%d,", r.ID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, lp := range h.plugins {
		if sigs[name] != h.grantSig[name] {
			lp.gen.Add(1)
		}
	}
	h.grantSig = sigs
	return nil
}

// trackMinted remembers the tokens minted for a plugin, so that Uninstall can
// revoke every one still alive.
func (h *Host) trackMinted(c *capability.Capability) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.minted[c.Subject]
	if m == nil {
		m = map[string]time.Time{}
		h.minted[c.Subject] = m
	}
	now := h.cfg.Now()
	if len(m) > 256 {
		for id, exp := range m {
			if now.After(exp) {
				delete(m, id)
			}
		}
	}
	m[c.ID] = c.Expires
}

// revokeMinted revokes every live token minted for plugin.
func (h *Host) revokeMinted(plugin string) int {
	h.mu.Lock()
	m := h.minted[plugin]
	delete(h.minted, plugin)
	h.mu.Unlock()
	now := h.cfg.Now()
	n := 0
	for id, exp := range m {
		if now.Before(exp) {
			h.revs.Revoke(id)
			n++
		}
	}
	return n
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
