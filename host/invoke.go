package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/sandbox/wasm"
	"github.com/wardenproject/warden/store"
)

// Codes Invoke adds to the gate's (see the package documentation).
const (
	// CodeTrapped: the guest trapped, panicked, exited or ran out of memory
	// or stack. Its instance was discarded; the next call gets a fresh one.
	CodeTrapped hostapi.Code = "trapped"
	// CodeCancelled: the caller cancelled the call's context.
	CodeCancelled hostapi.Code = "cancelled"
	// CodeInvalidOutput: the tool returned a result that does not match the
	// output_schema its manifest declares; the result is withheld.
	CodeInvalidOutput hostapi.Code = "invalid_output"
)

// ActionInvoke is the audit action of the event Invoke appends for each tool
// call, whatever its outcome; its resource is "plugin:NAME#TOOL".
const ActionInvoke = "tool.invoke"

// Result is what one tool call produced.
type Result struct {
	Output json.RawMessage
	// Events are the ledger indexes of the audit events this call appended,
	// in order: every host call and file access of the guest, and the
	// tool.invoke event last. They are durable when Invoke returns.
	Events   []uint64
	Duration time.Duration
}

// InvokeOption changes one call.
type InvokeOption func(*invokeOptions)

type invokeOptions struct {
	confirmer hostapi.Confirmer
	log       func(stream, line string)
	refused   func(Refusal)
}

// Refusal is one host call of an invocation that the gate refused: what was
// asked and what decided it, as the call's audit event records it. A plugin
// may handle a refusal itself and still succeed; the person should still
// learn what was refused and how it could be allowed.
type Refusal struct {
	Method   string // the host method (fs.read, fs.open, capability.request…)
	Resource string // the resource name, e.g. filesystem:/home/u/a.txt
	Access   string // the action or actions decided (detail.access when several)
	Code     hostapi.Code
	// Decision is the policy's or the gate's: By names the rule
	// ("rule:ID", "default", "manifest", "always_ask:net", "grant:N",
	// "gate", "budget"), Answer is the person's for an ask.
	Decision audit.Decision
	Message  string
}

// WithRefusals calls fn for each host call of this invocation the gate
// refuses, as it is recorded. fn runs on the goroutine making the host call;
// it must not block.
func WithRefusals(fn func(Refusal)) InvokeOption {
	return func(o *invokeOptions) { o.refused = fn }
}

// WithConfirmer asks c instead of the host's Confirmer when the policy says
// ask during this call (an MCP elicitation, a dialog for this window).
func WithConfirmer(c hostapi.Confirmer) InvokeOption {
	return func(o *invokeOptions) { o.confirmer = c }
}

// WithLog also sends this call's log lines (stdout, stderr, log) to fn, besides
// Config.Log. fn runs on the invoking goroutine.
func WithLog(fn func(stream, line string)) InvokeOption {
	return func(o *invokeOptions) { o.log = fn }
}

// Invoke runs tool of plugin on input (a JSON object; empty means {}).
// Errors are *hostapi.Error with a stable code; see the package doc. When
// the call got as far as the plugin (it is installed and active), the Result
// is returned with the error too, without Output, so that a caller can show
// the audit events of a failed call.
func (h *Host) Invoke(ctx context.Context, plugin, tool string, input json.RawMessage, opts ...InvokeOption) (*Result, error) {
	start := time.Now()
	var o invokeOptions
	for _, f := range opts {
		f(&o)
	}
	if h.isClosed() {
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "the host is closed")
	}
	lp, err := h.lookup(ctx, plugin)
	if err != nil {
		return nil, err
	}
	if _, ok := lp.tools[tool]; !ok {
		return nil, hostapi.Errorf(hostapi.CodeNotFound, "plugin %s has no tool %s; its tools are listed in its manifest", plugin, hostapi.Sanitize(tool, 64))
	}
	if len(bytes.TrimSpace(input)) == 0 {
		input = emptyObject
	}
	ctx = context.WithValue(ctx, callKey{}, &o)

	var (
		out    []byte
		in     *instance
		events []uint64
		budget *hostapi.Budget
	)
	err = lp.validateInput(tool, input)
	if err == nil {
		in, err = lp.get(ctx)
	}
	if err == nil {
		in.mu.Lock()
		in.log, in.refused, in.events = o.log, o.refused, nil
		in.mu.Unlock()
		budget = h.gate.NewBudget(in.inst.Caller(), lp.quota, h.meter(lp.rec.ID))
		out, err = in.inst.Invoke(hostapi.WithBudget(ctx, budget), tool, input)
		in.mu.Lock()
		in.log, in.refused = nil, nil
		in.mu.Unlock()
		events = in.takeEvents()
		lp.put(in)
		err = invokeErr(err)
		if err == nil {
			err = lp.validateOutput(tool, out)
		}
	}

	// The call's own event, whatever happened, then one fsync for all of the
	// call's events: nothing is returned before its trail is durable.
	ev := &audit.Event{
		Time:     h.cfg.Now(),
		Actor:    audit.Actor{Plugin: lp.rec.ID, Version: lp.rec.Version, Publisher: lp.rec.Publisher},
		Session:  h.session,
		Action:   ActionInvoke,
		Resource: "plugin:" + lp.rec.ID + "#" + tool,
		Outcome:  audit.OutcomeOK,
		Bytes:    int64(len(out)),
	}
	if in != nil {
		ev.Instance = in.id
	}
	noteBudget(ev, budget)
	var herr *hostapi.Error
	if errors.As(err, &herr) {
		ev.Outcome = audit.OutcomeError
		ev.Error = &audit.Error{Code: string(herr.Code), Message: herr.Message}
	}
	ev.DurationNS = time.Since(start).Nanoseconds()
	idx, aerr := h.ledger.Enqueue(ev)
	if aerr == nil {
		events = append(events, idx)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	ferr := h.gate.Flush(fctx)
	cancel()
	if aerr != nil || ferr != nil {
		// Fail closed: a result whose audit trail is not durable is withheld.
		lerr := errors.Join(aerr, ferr)
		msg := "the audit ledger could not record the call, so its result is withheld"
		if errors.Is(lerr, audit.ErrStalled) {
			msg += "; the ledger is waiting for room on its disk and resumes by itself"
		}
		return nil, &hostapi.Error{Code: hostapi.CodeUnavailable, Message: msg, Err: lerr}
	}
	slices.Sort(events)
	res := &Result{Output: out, Events: events, Duration: time.Since(start)}
	if err != nil {
		res.Output = nil
		return res, err
	}
	return res, nil
}

// invokeErr maps the sandbox's three kinds of error to *hostapi.Error.
func invokeErr(err error) error {
	if err == nil {
		return nil
	}
	var (
		te   *wasm.ToolError
		trap *wasm.TrapError
		he   *hostapi.Error
	)
	switch {
	case errors.As(err, &te):
		return &hostapi.Error{Code: hostapi.Code(te.Code), Message: te.Message, Err: err}
	case errors.As(err, &he):
		return err
	case errors.As(err, &trap):
		return &hostapi.Error{Code: CodeTrapped, Message: trap.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return &hostapi.Error{Code: CodeCancelled, Message: err.Error(), Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &hostapi.Error{Code: hostapi.CodeTimeout, Message: err.Error(), Err: err}
	}
	return &hostapi.Error{Code: hostapi.CodeInternal, Message: err.Error(), Err: err}
}

// lookup returns the loaded plugin, loading it on first use, or a not_found
// or unavailable error.
func (h *Host) lookup(ctx context.Context, name string) (*loaded, error) {
	h.mu.Lock()
	lp := h.plugins[name]
	h.mu.Unlock()
	if lp == nil {
		rec, err := h.st.GetPlugin(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, hostapi.Errorf(hostapi.CodeNotFound, "no plugin %s is installed; 'warden list' shows the installed plugins", hostapi.Sanitize(name, 64))
		}
		if err != nil {
			return nil, hostErr(hostapi.CodeUnavailable, err, "look up plugin %s", name)
		}
		if lp, err = h.newLoaded(rec); err != nil {
			return nil, err
		}
		h.mu.Lock()
		if cur := h.plugins[name]; cur != nil {
			lp = cur
		} else if !h.closed {
			h.plugins[name] = lp
		}
		h.mu.Unlock()
	}
	if lp.rec.State != store.StateActive {
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "plugin %s is %s; it stays installed for inspection but does not run", name, lp.rec.State)
	}
	h.mu.Lock()
	why, blocked := "", false
	if lp.rec.Publisher != "" {
		why, blocked = h.blocked["publisher:"+lp.rec.Publisher]
	}
	if !blocked && lp.rec.KeyID != "" {
		why, blocked = h.blocked["key:"+lp.rec.KeyID]
	}
	h.mu.Unlock()
	if blocked {
		return nil, hostapi.Errorf(hostapi.CodeUnavailable, "plugin %s: its publisher or publisher key was revoked (%s)", name, why)
	}
	return lp, nil
}
