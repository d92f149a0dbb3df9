package host

// The adapters the host puts between the gate and the real ledger, issuer,
// confirmer and logger, so that per-call options and per-call audit indexes
// work without the gate knowing about calls.

import (
	"context"
	"log/slog"
	"strings"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi"
)

// eventTap is the gate's Auditor: the ledger, plus attribution of every
// appended event to the invocation running on the event's instance, which is
// how Result.Events lists exactly the events one call produced.
type eventTap struct{ h *Host }

func (t eventTap) Enqueue(ev *audit.Event) (uint64, error) {
	idx, err := t.h.ledger.Enqueue(ev)
	if err == nil {
		t.h.attribute(ev, idx)
	}
	return idx, err
}

func (t eventTap) Append(ctx context.Context, ev *audit.Event) (uint64, error) {
	idx, err := t.h.ledger.Enqueue(ev)
	if err != nil {
		return 0, err
	}
	t.h.attribute(ev, idx)
	// Durable before returning: the same wait Ledger.Append does.
	return idx, t.h.ledger.Sync(ctx)
}

func (t eventTap) Sync(ctx context.Context) error { return t.h.ledger.Sync(ctx) }

func (h *Host) attribute(ev *audit.Event, idx uint64) {
	if ev.Instance == "" {
		return
	}
	if v, ok := h.instances.Load(ev.Instance); ok {
		v.(*instance).addEvent(idx, ev)
	}
}

// callKey carries a call's options in its context, down through the sandbox
// to the gate's confirmer and logger.
type callKey struct{}

func callOf(ctx context.Context) *invokeOptions {
	o, _ := ctx.Value(callKey{}).(*invokeOptions)
	return o
}

// callConfirmer asks the call's own confirmer (WithConfirmer, e.g. an MCP
// elicitation) when there is one, else the host's.
type callConfirmer struct{ h *Host }

func (c callConfirmer) Confirm(ctx context.Context, req hostapi.ConfirmRequest) (bool, error) {
	if o := callOf(ctx); o != nil && o.confirmer != nil {
		return o.confirmer.Confirm(ctx, req)
	}
	return c.h.cfg.Confirmer.Confirm(ctx, req)
}

// trackingIssuer mints and delegates for capability.request and remembers
// what it minted, so that Uninstall can revoke it.
type trackingIssuer struct{ h *Host }

func (t trackingIssuer) Mint(req capability.Request) (string, *capability.Capability, error) {
	tok, c, err := t.h.issuer.Mint(req)
	if err == nil {
		t.h.trackMinted(c)
	}
	return tok, c, err
}

func (t trackingIssuer) Delegate(parent *capability.Capability, req capability.Request) (string, *capability.Capability, error) {
	tok, c, err := t.h.issuer.Delegate(parent, req)
	if err == nil {
		t.h.trackMinted(c)
	}
	return tok, c, err
}

// logHandler turns the gate's log.write records into Log lines: stream
// "log", line "LEVEL: message". The plugin name comes from the record's
// "plugin" attribute, which the gate sets from the caller, never from the
// guest.
type logHandler struct {
	h     *Host
	attrs []slog.Attr
}

func (l logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	plugin := ""
	find := func(a slog.Attr) bool {
		if a.Key == "plugin" {
			plugin = a.Value.String()
			return false
		}
		return true
	}
	for _, a := range l.attrs {
		find(a)
	}
	r.Attrs(find)
	line := strings.ToLower(r.Level.String()) + ": " + r.Message
	l.h.emitLog(ctx, plugin, "log", line)
	return nil
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h: l.h, attrs: append(append([]slog.Attr(nil), l.attrs...), attrs...)}
}

func (l logHandler) WithGroup(string) slog.Handler { return l }

// emitLog hands one line to the host's Log and to the call's own sink.
func (h *Host) emitLog(ctx context.Context, plugin, stream, line string) {
	if h.cfg.Log != nil {
		h.cfg.Log(plugin, stream, line)
	}
	if o := callOf(ctx); o != nil && o.log != nil {
		o.log(stream, line)
	}
}
