package hostapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi/internal/fsprov"
	"github.com/wardenproject/warden/internal/home"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// Default caps of a Gate.
const (
	DefaultMaxRead  = 16 << 20 // bytes one fs.read may return
	DefaultMaxWrite = 16 << 20 // bytes one fs.write may carry
)

// Config is everything a Gate needs. Tokens, Policy and Audit are required,
// and NewGate refuses their absence naming the field; every other field's
// zero value is the confined one (nobody to confirm, so asks are denied; no
// issuer, so capability.request is refused; no KV store; the default read
// and write caps; warden's known homes protected). NewGate copies it:
// changing a Config after NewGate has no effect on the Gate.
type Config struct {
	Tokens TokenVerifier // verifies capability tokens (*capability.Verifier)
	Policy Decider       // decides allow, deny or ask (*policy.Engine)
	Audit  Auditor       // the audit ledger (*audit.Ledger)

	// Confirm asks a person when the policy says ask; nil means DenyAll.
	Confirm Confirmer
	// Issuer mints tokens for capability.request; nil refuses every request
	// with CodeUnavailable.
	Issuer TokenIssuer
	// KV is the plugins' key-value storage; nil makes kv.* unavailable.
	KV KVStore
	// Logger receives log.write lines; nil discards them.
	Logger *slog.Logger
	// Home expands "~" in patterns given to capability.request; "" means
	// the user's home directory.
	Home string
	// Clock is the time source for token checks and events; nil means
	// time.Now.
	Clock func() time.Time
	// MaxRead and MaxWrite cap the bytes of one fs.read / fs.write; 0 means
	// the defaults.
	MaxRead, MaxWrite int64
	// Protected lists absolute host paths (directories or files) that no
	// call may touch, whatever a token, a grant or the policy says: warden's
	// own state directory (--home: grants database, policy, audit ledger,
	// keys) and its compilation cache. A path is refused when it, or the
	// path a symlink resolves it to, is one of them or lies under one;
	// each is also matched in its symlink-resolved spelling, taken at
	// NewGate. A folder on the way to one may be read and listed but not
	// created, removed, moved or replaced. NewGate also records the device
	// and inode of each and of every existing folder on the way to it, and
	// the provider refuses them under any name (see resolved.go). The
	// homes warden knows without being told (home.Known: $WARDEN_HOME and
	// the default home) are protected even when Protected is empty, as the
	// store protects them, so that the zero value protects what it can;
	// the gate cannot guess the rest, so the host passes it (host.New
	// passes its home, its cache directory and its policy file).
	Protected []string

	// extra holds methods registered by tests (see gate_ext_test.go): the
	// proof that a new method needs no change to the gate.
	extra []methodDef
}

// Gate is the single door between a sandboxed plugin and the host. Every host
// call — an explicit one from a guest's host import, or one the capability
// filesystem makes on a guest's behalf — passes Call (or OpenFile), which
// verifies the caller's token, checks it covers what the call touches, asks
// the policy (and a person where the policy says so), performs the call
// through a provider and records an audit event, whether the call was allowed
// or not. A Gate is safe for concurrent use.
type Gate struct {
	cfg     Config
	methods map[string]*method
	now     func() time.Time
	home    resource.Options
	// protected holds the clean Protected paths and their resolved
	// spellings, prot their identities and those of the folders on the way
	// to them; bases caches, per grant base, its symlink-resolved form.
	protected []string
	prot      *fsprov.Protection
	bases     baseCache
	// revs and grantSrc tell an open file when to re-check (fileAuth);
	// nil when cfg.Tokens or cfg.Policy cannot say.
	revs     *capability.RevocationSet
	grantSrc grantSource
}

// NewGate builds a Gate. It compiles and checks the method catalogue, so a
// catalogue whose schema and decoder disagree fails here, not on a call.
func NewGate(cfg Config) (*Gate, error) {
	switch {
	case cfg.Tokens == nil:
		return nil, errors.New("hostapi: new gate: Config.Tokens is nil; pass the host's *capability.Verifier")
	case cfg.Policy == nil:
		return nil, errors.New("hostapi: new gate: Config.Policy is nil; pass the host's *policy.Engine")
	case cfg.Audit == nil:
		return nil, errors.New("hostapi: new gate: Config.Audit is nil; pass the host's *audit.Ledger")
	}
	if cfg.Confirm == nil {
		cfg.Confirm = DenyAll{}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.MaxRead <= 0 {
		cfg.MaxRead = DefaultMaxRead
	}
	if cfg.MaxWrite <= 0 {
		cfg.MaxWrite = DefaultMaxWrite
	}
	want := slices.Clone(cfg.Protected)
	for _, k := range home.Known() {
		want = append(want, k.Path)
	}
	protected, err := protectedPaths(want)
	if err != nil {
		return nil, fmt.Errorf("hostapi: new gate: %w", err)
	}
	cfg.Protected = append([]string(nil), cfg.Protected...)
	defs := append(append([]methodDef(nil), builtins...), cfg.extra...)
	methods, err := compileCatalogue(defs)
	if err != nil {
		return nil, fmt.Errorf("hostapi: new gate: %w", err)
	}
	g := &Gate{cfg: cfg, methods: methods, now: cfg.Clock, home: resource.Options{Home: cfg.Home}, protected: protected,
		prot: fsprov.NewProtection(protected)}
	if rs, ok := cfg.Tokens.(revocationSource); ok {
		g.revs = rs.Revocations()
	}
	if gs, ok := cfg.Policy.(grantSource); ok {
		g.grantSrc = gs
	}
	return g, nil
}

// Flush makes every audit event of calls that have returned durable. The host
// calls it at the invocation boundary, before a tool's result goes back to
// its caller (docs/architecture.md, "Where durability is paid"); it is the ledger's Sync.
func (g *Gate) Flush(ctx context.Context) error {
	if err := g.cfg.Audit.Sync(ctx); err != nil {
		return fmt.Errorf("hostapi: flush audit events: %w", err)
	}
	return nil
}

// call is the state of one host call as it passes the gate.
type call struct {
	g       *Gate
	ctx     context.Context
	caller  *Caller
	m       *method
	name    string // method name as asked (for unknown methods, sanitised)
	args    args
	acc     []Access
	accBuf  [3]Access
	caps    [3]*capability.Capability // the capability that covered acc[i]
	start   time.Time
	ev      audit.Event
	decided bool
	// chk are the resolved-path checkers handed to the filesystem provider
	// (one per path of the call), kept here so that passing one allocates
	// nothing.
	chk [2]resolvedCheck
}

var callPool = sync.Pool{New: func() any { return new(call) }}

// Call performs one host call for caller: method with params (a JSON object),
// authorised by token, or by any of caller.Tokens when token is "". It
// returns the result JSON or an *Error; never another error type.
func (g *Gate) Call(ctx context.Context, caller Caller, method string, token string, params json.RawMessage) (json.RawMessage, error) {
	c := callPool.Get().(*call)
	*c = call{g: g, ctx: ctx, caller: &caller, start: g.now()}
	res, herr := c.do(method, token, params)
	c.ev = audit.Event{}
	c.caller = nil
	callPool.Put(c)
	if herr != nil {
		return nil, herr
	}
	return res, nil
}

func (c *call) do(name, token string, params json.RawMessage) ([]byte, *Error) {
	g := c.g
	m := g.methods[name]
	events := callEvents(m)
	if herr := c.admit(events); herr != nil {
		return nil, herr // refused by the invocation's budget, before any event
	}
	if m == nil {
		c.name = "unknown"
		err := Errorf(CodeUnknownMethod, "no host method %q; the methods are listed in docs/host-api.md", Sanitize(name, 64))
		return nil, c.refuse(err, "gate", "unknown method")
	}
	c.m, c.name = m, name
	if perr := decodeParams(params, &c.args); perr != nil {
		return nil, c.refuse(Errorf(CodeInvalidParams, "%s params: %s", name, perr), "gate", "invalid params")
	}
	if perr := m.params.validate(&c.args); perr != nil {
		return nil, c.refuse(Errorf(CodeInvalidParams, "%s params: %s", name, perr), "gate", "invalid params")
	}
	acc, herr := m.access(&c.args)
	if herr != nil {
		return nil, c.refuse(herr, "gate", "invalid params")
	}
	c.acc = append(c.accBuf[:0], acc...)
	if len(c.acc) > 0 {
		c.ev.Resource = c.acc[0].Name
	}
	if herr := c.spend(events); herr != nil {
		return nil, herr
	}
	if herr := c.authorize(token); herr != nil {
		return nil, herr // authorize audits its own refusals
	}
	if err := c.ctx.Err(); err != nil {
		return nil, c.fail(ctxError(err, name))
	}
	res, herr := m.run(c.ctx, c)
	if herr != nil {
		return nil, c.fail(herr)
	}
	if herr := c.outcome(audit.OutcomeOK, nil); herr != nil {
		return nil, herr
	}
	return res, nil
}

// authorize finds, for every access of the call, a capability that covers
// it, then asks the policy and, where it says ask, a person.
func (c *call) authorize(token string) *Error {
	if len(c.g.protected) > 0 {
		for i := range c.acc {
			a := &c.acc[i]
			if a.Kind != resource.Filesystem {
				continue
			}
			if how := c.g.protectedName(a.Path, a.Action); how >= 0 {
				c.ev.Resource = a.Name
				return c.refuse(protectedError(c.name, a.Path, how), "gate", reasonProtected)
			}
		}
	}
	for i := range c.acc {
		a := &c.acc[i]
		capa, herr := c.cover(token, a)
		if herr != nil {
			if token != "" {
				c.ev.CapHash = capability.TokenHash(token)
			}
			if herr.Code == CodeDenied {
				return c.refuseUncovered(herr, a)
			}
			return c.refuse(herr, "gate", "no capability covers the call")
		}
		c.caps[i] = capa
		if i == 0 {
			c.ev.CapHash = capa.Hash
		}
		// A grant whose literal base passes through a symlink reaches the
		// protected state under another spelling with no symlink below the
		// base for the provider to see.
		if len(c.g.protected) > 0 && a.Kind == resource.Filesystem {
			if how := c.g.protectsVia(capa.Resource.Base(), a.Path, a.Action); how >= 0 {
				if how == protIs {
					how = protViaLink
				}
				c.ev.Resource = a.Name
				return c.refuse(protectedError(c.name, a.Path, how), "gate", reasonProtected)
			}
		}
	}
	for i := range c.acc {
		if herr := c.decide(&c.acc[i]); herr != nil {
			return herr
		}
	}
	return nil
}

// cover returns a verified capability of the caller that grants a.
func (c *call) cover(token string, a *Access) (*capability.Capability, *Error) {
	expect := capability.Expect{Subject: c.caller.Plugin, Audience: c.caller.Instance}
	now := c.start
	if token != "" {
		capa, err := c.g.cfg.Tokens.Verify(token, expect, now)
		if err != nil {
			return nil, tokenError(err)
		}
		if !permits(capa, a) {
			return nil, Errorf(CodeDenied, "the token (%s: %s) does not grant %s on %s; request a capability that covers it with capability.request",
				capa.Resource, strings.Join(capa.Actions, ","), a.Action, a.Name)
		}
		return capa, nil
	}
	var firstErr error
	valid := 0
	for _, t := range c.caller.Tokens {
		capa, err := c.g.cfg.Tokens.Verify(t, expect, now)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		valid++
		if permits(capa, a) {
			return capa, nil
		}
	}
	if valid == 0 && firstErr != nil {
		return nil, tokenError(firstErr)
	}
	return nil, Errorf(CodeDenied, "no capability of this instance grants %s on %s; request one with capability.request", a.Action, a.Name)
}

// permits reports whether capa covers a, switching a to its alternative
// action when only that one is granted.
func permits(capa *capability.Capability, a *Access) bool {
	if capa.PermitsName(a.Name, a.Action) {
		return true
	}
	if a.Alt != "" && capa.PermitsName(a.Name, a.Alt) {
		a.Action, a.Alt = a.Alt, ""
		return true
	}
	return false
}

// tokenError maps a capability verification error to its stable code.
func tokenError(err error) *Error {
	switch {
	case errors.Is(err, capability.ErrExpired):
		return &Error{Code: CodeTokenExpired, Message: "the capability token has expired; request a new one with capability.request", Err: err}
	default:
		return &Error{Code: CodeTokenInvalid, Message: "the capability token was refused (" + capability.ErrorCode(err) + ")", Err: err}
	}
}

// decide asks the policy about a, and a person when it says ask.
func (c *call) decide(a *Access) *Error {
	cl := c.caller
	d := c.g.cfg.Policy.Decide(policy.Request{
		Publisher: cl.Publisher, PublisherKeyID: cl.PublisherKeyID, Plugin: cl.Plugin, Manifest: cl.Manifest,
		Resource: a.Name, Action: a.Action, Now: c.start,
	})
	c.decided = true
	c.ev.Decision = audit.Decision{Effect: string(d.Effect), By: d.By, Reason: d.Reason}
	switch d.Effect {
	case policy.Allow:
		return nil
	case policy.Ask:
		req := ConfirmRequest{Plugin: cl.Plugin, Version: cl.Version, Publisher: cl.Publisher, Instance: cl.Instance,
			Method: c.name, Resource: a.Name, Action: a.Action, Reason: d.Reason, By: d.By, Size: -1}
		if c.m != nil && c.m.preview != nil {
			req.Preview, req.Size = c.m.preview(&c.args)
		}
		ok, err := c.confirm(req, d.ConfirmTimeout)
		if ok && err == nil {
			c.ev.Decision.Answer = audit.EffectAllow
			return nil
		}
		c.ev.Decision.Answer = audit.EffectDeny
		herr := Errorf(CodeDeclined, "%s on %s was not confirmed: the person declined, did not answer in time, or could not be asked", a.Action, a.Name)
		herr.Err = err
		return c.refuseDecided(herr)
	default:
		code := CodeDenied
		if d.By == "manifest" {
			code = CodeNotDeclared
		}
		return c.refuseDecided(&Error{Code: code, Message: d.Reason})
	}
}

// decideResolved asks the policy about a's resolved resource name real (a
// symlink led there), and a person when it says ask: the same decision as
// decide, on the place the call will really touch. Its decision is the
// call's: a deny or an unconfirmed ask refuses the call, whatever was decided
// on the requested name. Only an allow keeps an earlier person's answer on
// the record, since that answer was the stricter check. Messages to the guest
// name the requested path only, never where the symlink leads; the person
// asked and the ledger see both.
func (c *call) decideResolved(a *Access, real string) *Error {
	cl := c.caller
	d := c.g.cfg.Policy.Decide(policy.Request{
		Publisher: cl.Publisher, PublisherKeyID: cl.PublisherKeyID, Plugin: cl.Plugin, Manifest: cl.Manifest,
		Resource: real, Action: a.Action, Now: c.start,
	})
	switch d.Effect {
	case policy.Allow:
		if c.ev.Decision.Effect != string(policy.Ask) {
			c.ev.Decision = audit.Decision{Effect: string(d.Effect), By: d.By, Reason: d.Reason}
		}
		return nil
	case policy.Ask:
		c.ev.Decision = audit.Decision{Effect: string(d.Effect), By: d.By, Reason: d.Reason}
		req := ConfirmRequest{Plugin: cl.Plugin, Version: cl.Version, Publisher: cl.Publisher, Instance: cl.Instance,
			Method: c.name, Resource: real, Requested: a.Name, Action: a.Action, Reason: d.Reason, By: d.By, Size: -1}
		if c.m != nil && c.m.preview != nil {
			req.Preview, req.Size = c.m.preview(&c.args)
		}
		ok, err := c.confirm(req, d.ConfirmTimeout)
		if ok && err == nil {
			c.ev.Decision.Answer = audit.EffectAllow
			return nil
		}
		c.ev.Decision.Answer = audit.EffectDeny
		herr := Errorf(CodeDeclined, "%s on %s was not confirmed: the person declined, did not answer in time, or could not be asked", a.Action, a.Name)
		herr.Err = err
		return herr
	default:
		c.ev.Decision = audit.Decision{Effect: audit.EffectDeny, By: d.By, Reason: d.Reason}
		code := CodeDenied
		if d.By == "manifest" {
			code = CodeNotDeclared
		}
		return Errorf(code, "%s: %s resolves through a symlink to a path where the policy does not allow %s (%s); where it leads is not shown",
			c.name, Sanitize(a.Path, 512), a.Action, d.By)
	}
}

// confirm asks a person about req. The call's deadline stops meanwhile (a
// person's think time is not the plugin's), and the question has its own
// timeout, the policy's confirm_timeout. The event records how long the
// person took and, when nobody answered in time, that too.
func (c *call) confirm(req ConfirmRequest, timeout time.Duration) (bool, error) {
	if timeout <= 0 {
		timeout = policy.DefaultConfirmTimeout
	}
	resume := pauseDeadline(c.ctx)
	defer resume()
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	start := time.Now()
	ok, err := c.g.cfg.Confirm.Confirm(ctx, req)
	c.setDetail("confirm_wait_ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	if !ok && errors.Is(ctx.Err(), context.DeadlineExceeded) && c.ctx.Err() == nil {
		c.setDetail("confirm", "no answer within "+timeout.String())
	}
	return ok, err
}

// refuseUncovered records a call no capability of the caller covers. The
// refusal stands whatever the policy says, but the policy is asked what it
// would decide so that the record (and the person reading the refusal)
// learns why there is no capability: the manifest does not declare it, an
// enterprise rule denies it, or no grant allows it. When the policy would
// allow or ask, the plugin simply holds no capability for it yet (it must
// request one), and the gate's own reason stands.
func (c *call) refuseUncovered(herr *Error, a *Access) *Error {
	cl := c.caller
	d := c.g.cfg.Policy.Decide(policy.Request{
		Publisher: cl.Publisher, PublisherKeyID: cl.PublisherKeyID, Plugin: cl.Plugin, Manifest: cl.Manifest,
		Resource: a.Name, Action: a.Action, Now: c.start,
	})
	if d.Effect != policy.Deny {
		return c.refuse(herr, "gate", "no capability covers the call")
	}
	c.ev.Decision = audit.Decision{Effect: audit.EffectDeny, By: d.By, Reason: d.Reason}
	return c.refuseDecided(herr)
}

// refuse records a call refused before the policy was asked.
func (c *call) refuse(herr *Error, by, reason string) *Error {
	c.ev.Decision = audit.Decision{Effect: audit.EffectDeny, By: by, Reason: reason}
	return c.refuseDecided(herr)
}

func (c *call) refuseDecided(herr *Error) *Error {
	if aerr := c.outcome(audit.OutcomeError, herr); aerr != nil {
		return aerr
	}
	return herr
}

// fail records a call that was allowed but failed. A provider that refuses
// (a path that resolves outside the grant) turns the decision into a deny by
// the gate, so the event reads as the denial it is.
func (c *call) fail(herr *Error) *Error {
	switch {
	case errors.Is(herr.Err, fsprov.ErrProtected):
		// The provider found warden's state by identity: the same
		// decision as the gate's refusal by name.
		c.ev.Decision = decisionDeny("gate", reasonProtected)
	case errors.Is(herr.Err, fsprov.ErrNotRegular):
		c.ev.Decision = decisionDeny("gate", reasonNotRegular)
	case herr.Code == CodeDenied && c.ev.Decision.Effect != audit.EffectDeny:
		// A refusal already decided on a resolved path keeps its rule.
		c.ev.Decision = audit.Decision{Effect: audit.EffectDeny, By: "gate", Reason: herr.Message}
	}
	if aerr := c.outcome(audit.OutcomeError, herr); aerr != nil {
		return aerr
	}
	return herr
}

// fillEvent sets the fields every event of the call shares.
func (c *call) fillEvent(ev *audit.Event) {
	cl := c.caller
	ev.Actor = audit.Actor{Plugin: cl.Plugin, Version: cl.Version, Publisher: cl.Publisher}
	ev.Session = cl.Session
	ev.Instance = cl.Instance
	ev.Action = c.name
}

// outcome enqueues the call's event. If the ledger refuses it, the call fails
// closed: its result is not returned.
func (c *call) outcome(outcome string, herr *Error) *Error {
	ev := &c.ev
	c.fillEvent(ev)
	ev.Outcome = outcome
	if herr != nil {
		ev.Error = &audit.Error{Code: string(herr.Code), Message: herr.Message}
	}
	ev.Time = c.g.now()
	ev.DurationNS = max(ev.Time.Sub(c.start).Nanoseconds(), 0)
	if _, err := c.g.cfg.Audit.Enqueue(ev); err != nil {
		return ledgerError("the audit ledger refused the call's event, so the call's result is withheld", err)
	}
	return nil
}

// intent appends the durable intent event of an effect that leaves the
// sandbox. No effect may happen unless it returns nil.
func (c *call) intent(resource, before string, bytes int64, detail map[string]string) *Error {
	ev := &audit.Event{Resource: resource, CapHash: c.ev.CapHash, Decision: c.ev.Decision, Outcome: audit.OutcomeIntent,
		BeforeHash: before, Bytes: bytes, Detail: detail}
	c.fillEvent(ev)
	ev.Time = c.g.now()
	if _, err := c.g.cfg.Audit.Append(c.ctx, ev); err != nil {
		if ce := c.ctx.Err(); ce != nil {
			return ctxError(ce, c.name)
		}
		return &Error{Code: CodeUnavailable, Message: "the audit ledger could not make the intent durable, so the effect was not performed", Err: err}
	}
	return nil
}

// ledgerError is the refusal of a call whose event the ledger did not take.
// A ledger out of disk space recovers by itself (audit.ErrStalled); any
// other failure needs the host restarted.
func ledgerError(what string, err error) *Error {
	if errors.Is(err, audit.ErrStalled) {
		return &Error{Code: CodeUnavailable, Message: what + "; the ledger is waiting for room on its disk and resumes by itself", Err: err}
	}
	return &Error{Code: CodeUnavailable, Message: what + "; the host must be restarted", Err: err}
}

func ctxError(err error, method string) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeTimeout, Message: method + ": the call's deadline passed", Err: err}
	}
	return &Error{Code: CodeUnavailable, Message: method + ": the call was cancelled", Err: err}
}
