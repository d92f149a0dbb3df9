package host

import (
	"context"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/sandbox/wasm"
)

// cacheRejected records a compilation cache entry the engine refused (its
// MAC failed, or it was not a private regular file) as a cache.reject event.
// The module was compiled afresh and nothing of the entry ran, so the event
// is evidence, not a failure: an append error is not the compile's error.
func (h *Host) cacheRejected(r wasm.CacheRejection) {
	detail := map[string]string{"digest": r.Digest}
	if r.SHA256 != "" {
		detail["entry_sha256"] = r.SHA256
	}
	ev := &audit.Event{Time: h.cfg.Now(), Actor: audit.Actor{Plugin: "warden"}, Session: h.session,
		Action: audit.ActionCacheReject, Resource: "filesystem:" + r.Entry, Outcome: audit.OutcomeError,
		Decision: audit.Decision{Effect: audit.EffectDeny, By: "wasm engine", Reason: r.Reason},
		Error:    &audit.Error{Code: "tampered", Message: "compilation cache entry refused: " + r.Reason},
		Detail:   detail}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = h.ledger.Append(ctx, ev)
}
