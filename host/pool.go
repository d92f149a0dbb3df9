package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/sandbox/wasm"
	"github.com/wardenproject/warden/store"
)

// loaded is an installed plugin ready to run: its parsed manifest, compiled
// input schemas, compiled module and instance pool.
type loaded struct {
	h      *Host
	rec    store.Plugin
	man    *manifest.Manifest
	perms  *policy.Manifest
	tools  map[string]*jsonschema.Schema // input schemas
	outs   map[string]*jsonschema.Schema // output schemas, where a tool declares one
	limits wasm.Limits
	quota  hostapi.Quota // each invocation's budget
	gen    atomic.Uint64 // bumped when the plugin's grants change

	modOnce sync.Mutex
	mod     *wasm.Module

	sem    chan struct{}
	mu     sync.Mutex
	idle   []*instance
	closed bool
}

// instance is one pooled guest with the tokens minted for it.
type instance struct {
	id      string
	inst    *wasm.Instance
	gen     uint64
	expires time.Time // the earliest expiry of its tokens

	mu      sync.Mutex
	events  []uint64
	log     func(stream, line string) // the current call's sink
	refused func(Refusal)             // the current call's refusal sink
}

func (in *instance) addEvent(idx uint64, ev *audit.Event) {
	in.mu.Lock()
	in.events = append(in.events, idx)
	refused := in.refused
	in.mu.Unlock()
	if refused != nil && ev.Outcome == audit.OutcomeError && (ev.Decision.Effect == audit.EffectDeny || ev.Decision.Answer == audit.EffectDeny) {
		r := Refusal{Method: ev.Action, Resource: ev.Resource, Access: ev.Detail["access"], Decision: ev.Decision}
		if ev.Error != nil {
			r.Code, r.Message = hostapi.Code(ev.Error.Code), ev.Error.Message
		}
		refused(r)
	}
}

func (in *instance) takeEvents() []uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	ev := in.events
	in.events = nil
	return ev
}

// newLoaded parses what the store recorded for a plugin.
func (h *Host) newLoaded(rec store.Plugin) (*loaded, error) {
	m, err := manifest.Parse(rec.Manifest)
	if err != nil {
		return nil, hostErr(hostapi.CodeUnavailable, err, "plugin %s: its recorded manifest does not parse; reinstall it", rec.ID)
	}
	if m.Runtime != manifest.RuntimeWasm {
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "plugin %s has runtime %q; this host runs only wasm plugins", rec.ID, m.Runtime)
	}
	perms, err := policyManifest(m, h.resOpts)
	if err != nil {
		return nil, hostErr(hostapi.CodeUnavailable, err, "plugin %s: its permissions do not parse; reinstall it", rec.ID)
	}
	tools, err := compileSchemas(m, "input_schema", func(t manifest.Tool) json.RawMessage { return t.InputSchema })
	if err != nil {
		return nil, hostErr(hostapi.CodeUnavailable, err, "plugin %s", rec.ID)
	}
	outs, err := compileSchemas(m, "output_schema", func(t manifest.Tool) json.RawMessage { return t.OutputSchema })
	if err != nil {
		return nil, hostErr(hostapi.CodeUnavailable, err, "plugin %s", rec.ID)
	}
	lim := m.Limits.Effective()
	return &loaded{
		h: h, rec: rec, man: m, perms: perms, tools: tools, outs: outs,
		limits: wasm.Limits{MemoryMB: lim.MemoryMB, Timeout: time.Duration(lim.TimeoutMS) * time.Millisecond, MaxOutputBytes: lim.MaxOutputBytes},
		quota:  quotaOf(m.Limits, h.pol),
		sem:    make(chan struct{}, h.cfg.PoolSize),
	}, nil
}

func policyManifest(m *manifest.Manifest, o resource.Options) (*policy.Manifest, error) {
	perms := make([]policy.Permission, len(m.Permissions))
	for i, p := range m.Permissions {
		perms[i] = policy.Permission{Resource: p.Resource, Actions: p.Actions}
	}
	return policy.NewManifest(perms, o)
}

// compileSchemas compiles one schema field (input_schema or output_schema) of
// each tool with no URL loader, so a $ref never fetches anything. A tool that
// does not declare the field maps to nil.
func compileSchemas(m *manifest.Manifest, field string, get func(manifest.Tool) json.RawMessage) (map[string]*jsonschema.Schema, error) {
	out := make(map[string]*jsonschema.Schema, len(m.Tools))
	for _, t := range m.Tools {
		raw := get(t)
		if len(raw) == 0 {
			out[t.Name] = nil
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("tool %s: %s is not JSON: %w", t.Name, field, err)
		}
		url := "mem:///tools/" + t.Name + "/" + field + ".json"
		c := jsonschema.NewCompiler()
		c.UseLoader(jsonschema.SchemeURLLoader{})
		c.DefaultDraft(jsonschema.Draft2020)
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("tool %s: %s: %w", t.Name, field, err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("tool %s: %s: %w", t.Name, field, err)
		}
		out[t.Name] = sch
	}
	return out, nil
}

// validateInput checks input against the tool's input schema.
func (lp *loaded) validateInput(tool string, input []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(input))
	if err != nil {
		return hostapi.Errorf(hostapi.CodeInvalidParams, "the input of %s.%s is not JSON: %v", lp.rec.ID, tool, err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return hostapi.Errorf(hostapi.CodeInvalidParams, "the input of %s.%s must be a JSON object", lp.rec.ID, tool)
	}
	s := lp.tools[tool]
	if s == nil {
		return nil
	}
	if err := s.Validate(doc); err != nil {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		msg = strings.ReplaceAll(msg, "mem:///tools/"+tool+"/input_schema.json", "input_schema")
		return &hostapi.Error{Code: hostapi.CodeInvalidParams, Message: fmt.Sprintf("the input of %s.%s does not match its input_schema: %s", lp.rec.ID, tool, msg), Err: err}
	}
	return nil
}

// validateOutput checks a tool's result against its declared output_schema:
// an MCP client takes structured content on the schema's word, so a plugin
// that breaks its own contract gets an error, not a pass-through.
func (lp *loaded) validateOutput(tool string, out []byte) error {
	sch := lp.outs[tool]
	if sch == nil {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err == nil {
		err = sch.Validate(doc)
	}
	if err != nil {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		msg = strings.ReplaceAll(msg, "mem:///tools/"+tool+"/output_schema.json", "output_schema")
		return &hostapi.Error{Code: CodeInvalidOutput, Message: fmt.Sprintf("%s.%s returned a result that does not match its output_schema: %s", lp.rec.ID, tool, msg), Err: err}
	}
	return nil
}

// module compiles the plugin's entry once. A failure is not remembered, so
// a fixed file is picked up by the next call.
//
// The entry is hashed once, by the engine, beside its compile (see
// wasm.Engine.Compile): the cold start pays for one SHA-256 of the entry, not
// one here and one there.
func (lp *loaded) module(ctx context.Context) (*wasm.Module, error) {
	lp.modOnce.Lock()
	defer lp.modOnce.Unlock()
	if lp.mod != nil {
		return lp.mod, nil
	}
	data, err := readEntryBytes(lp.rec.Path, lp.man.Entry)
	if err != nil {
		return nil, hostErr(hostapi.CodeUnavailable, err, "plugin %s: read its entry", lp.rec.ID)
	}
	// A plugin installed from a directory recorded its entry's digest, which
	// the engine checks; one installed from a bundle recorded the bundle's
	// digest, verified at install, and lives in the private plugins directory.
	want := ""
	if lp.fromDir() {
		want = lp.rec.Digest
	}
	mod, err := lp.h.wasm.Compile(ctx, data, want)
	var derr *wasm.DigestError
	if errors.As(err, &derr) {
		return nil, &hostapi.Error{Code: hostapi.CodeUnavailable, Err: err, Message: fmt.Sprintf(
			"plugin %s: %s changed since it was installed (now %s, installed %s); install it again", lp.rec.ID, lp.man.Entry, derr.Got, derr.Want)}
	}
	if err != nil {
		return nil, hostErr(hostapi.CodeUnavailable, err, "plugin %s", lp.rec.ID)
	}
	lp.mod = mod
	return mod, nil
}

func (lp *loaded) fromDir() bool {
	rel, err := filepath.Rel(filepath.Join(lp.h.cfg.Home, "plugins"), lp.rec.Path)
	return err != nil || !filepath.IsLocal(rel)
}

// readEntry reads the entry through os.Root, so that a symbolic link cannot
// make the host load a file from outside the plugin directory, and hashes it.
func readEntry(dir, entry string) ([]byte, string, error) {
	data, err := readEntryBytes(dir, entry)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	return data, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// readEntryBytes is readEntry without the hash, for callers that hand the
// bytes to wasm.Engine.Compile, which hashes them itself.
func readEntryBytes(dir, entry string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return root.ReadFile(filepath.FromSlash(entry))
}

// get returns a warm instance whose tokens outlive the call, or a new one.
func (lp *loaded) get(ctx context.Context) (*instance, error) {
	select {
	case lp.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctxErr(ctx, "plugin "+lp.rec.ID+": no instance became free")
	}
	for {
		lp.mu.Lock()
		if lp.closed {
			lp.mu.Unlock()
			<-lp.sem
			return nil, hostapi.Errorf(hostapi.CodeUnavailable, "plugin %s was uninstalled or replaced", lp.rec.ID)
		}
		n := len(lp.idle)
		if n == 0 {
			lp.mu.Unlock()
			break
		}
		in := lp.idle[n-1]
		lp.idle = lp.idle[:n-1]
		lp.mu.Unlock()
		if lp.fresh(in) {
			return in, nil
		}
		lp.discard(in)
	}
	in, err := lp.spawn(ctx)
	if err != nil {
		<-lp.sem
		return nil, err
	}
	return in, nil
}

// fresh reports whether in may take another call: same grants as now, and
// tokens that outlive one more call.
func (lp *loaded) fresh(in *instance) bool {
	return in.gen == lp.gen.Load() && lp.h.cfg.Now().Add(lp.limits.Timeout+time.Second).Before(in.expires) && in.inst.Healthy()
}

func (lp *loaded) put(in *instance) {
	defer func() { <-lp.sem }()
	lp.mu.Lock()
	if !lp.closed && lp.fresh(in) {
		lp.idle = append(lp.idle, in)
		lp.mu.Unlock()
		return
	}
	lp.mu.Unlock()
	lp.discard(in)
}

func (lp *loaded) discard(in *instance) {
	lp.h.instances.Delete(in.id)
	_ = in.inst.Close(context.Background())
}

// close refuses new calls and closes the idle instances; busy ones are
// closed as they come back.
func (lp *loaded) close(ctx context.Context) {
	lp.mu.Lock()
	idle := lp.idle
	lp.idle = nil
	lp.closed = true
	lp.mu.Unlock()
	for _, in := range idle {
		lp.discard(in)
	}
	lp.modOnce.Lock()
	if lp.mod != nil {
		_ = lp.mod.Close(ctx)
	}
	lp.modOnce.Unlock()
}

// spawn creates an instance and mints its tokens: one per active grant of the
// plugin that lies within its manifest, for this instance alone.
func (lp *loaded) spawn(ctx context.Context) (*instance, error) {
	mod, err := lp.module(ctx)
	if err != nil {
		return nil, err
	}
	h := lp.h
	in := &instance{id: lp.rec.ID + "-" + randomHex(6), gen: lp.gen.Load()}
	tokens, expires, err := lp.mint(in.id)
	if err != nil {
		return nil, err
	}
	in.expires = expires
	caller := hostapi.Caller{
		Plugin: lp.rec.ID, Version: lp.rec.Version, Publisher: lp.rec.Publisher, PublisherKeyID: lp.rec.KeyID,
		Instance: in.id, Session: h.session, Tokens: tokens, Manifest: lp.perms,
	}
	h.instances.Store(in.id, in)
	inst, err := mod.Instantiate(ctx, wasm.InstanceConfig{
		Caller: caller, Gate: h.gate, Limits: lp.limits,
		Log: func(stream, line string) {
			in.mu.Lock()
			sink := in.log
			in.mu.Unlock()
			if h.cfg.Log != nil {
				h.cfg.Log(lp.rec.ID, stream, line)
			}
			if sink != nil {
				sink(stream, line)
			}
		},
	})
	if err != nil {
		h.instances.Delete(in.id)
		return nil, invokeErr(err)
	}
	in.inst = inst
	return in, nil
}

// mint issues the instance's tokens. Their lifetime is the policy's maximum,
// shortened to a grant's expiry, but at least one call's timeout.
func (lp *loaded) mint(aud string) ([]string, time.Time, error) {
	h := lp.h
	now := h.cfg.Now()
	// Only the grants bound to this install (its install id and publisher
	// key) become tokens: never a grant given before the install, to a
	// plugin of the same name from another key, or to an earlier install.
	rows, err := h.st.ActiveGrantsOf(context.Background(), lp.rec, now)
	if err != nil {
		return nil, time.Time{}, hostErr(hostapi.CodeUnavailable, err, "plugin %s: read its grants", lp.rec.ID)
	}
	expires := now.Add(h.maxTTL)
	var tokens []string
	for _, g := range rows {
		pat, err := resource.ParseWith(g.Resource, h.resOpts)
		if err != nil {
			continue // a grant the host cannot read grants nothing
		}
		if ok, _ := lp.perms.Covers(pat, g.Actions); !ok {
			continue // outside the manifest: never a token
		}
		ttl := h.maxTTL
		if !g.Expires.IsZero() {
			ttl = min(ttl, g.Expires.Sub(now))
		}
		ttl = max(ttl, min(lp.limits.Timeout+time.Second, h.maxTTL), time.Second)
		tok, c, err := h.issuer.Mint(capability.Request{Subject: lp.rec.ID, Audience: aud, Resource: pat.String(), Actions: g.Actions, TTL: ttl.Truncate(time.Second)})
		if err != nil {
			return nil, time.Time{}, hostErr(hostapi.CodeInternal, err, "plugin %s: mint a token for grant %d", lp.rec.ID, g.ID)
		}
		h.trackMinted(c)
		tokens = append(tokens, tok)
		if c.Expires.Before(expires) {
			expires = c.Expires
		}
	}
	return slices.Clip(tokens), expires, nil
}

// hostErr wraps err in a *hostapi.Error with code and a formatted prefix.
func hostErr(code hostapi.Code, err error, format string, args ...any) *hostapi.Error {
	return &hostapi.Error{Code: code, Message: fmt.Sprintf(format, args...) + ": " + err.Error(), Err: err}
}

func ctxErr(ctx context.Context, what string) *hostapi.Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &hostapi.Error{Code: hostapi.CodeTimeout, Message: what + " before the deadline", Err: ctx.Err()}
	}
	return &hostapi.Error{Code: CodeCancelled, Message: what + " before the call was cancelled", Err: ctx.Err()}
}

// emptyObject is the input of a call that passes none.
var emptyObject = json.RawMessage("{}")
