// Package adminaudit turns the state store's committed changes into audit
// events and the store's revocation rows into the in-memory revocation set.
//
// It exists so that the CLI (warden grant, warden revoke) and the embedded host
// record administrative changes the same way: one mapping from store.Event to
// audit.Event, one reading of what a revocation row revokes.
package adminaudit

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/store"
)

// Appender is the part of the audit ledger the recorder needs. Administrative
// changes are appended durably: they are rare and they matter.
type Appender interface {
	Append(ctx context.Context, e *audit.Event) (uint64, error)
}

type recorder struct {
	l     Appender
	actor audit.Actor
	// revoked, when set, receives revocations as they are committed so that a
	// running host stops honouring tokens at once.
	revoked func(context.Context, store.Revocation) error
}

// Option configures the recorder.
type Option func(*recorder)

// WithActor names who made the changes: the person at the CLI is recorded as
// plugin "warden" (the default); an embedding application may name itself.
func WithActor(a audit.Actor) Option { return func(r *recorder) { r.actor = a } }

// WithRevocationHook calls fn after each committed revocation has been logged.
func WithRevocationHook(fn func(context.Context, store.Revocation) error) Option {
	return func(r *recorder) { r.revoked = fn }
}

// Recorder returns a store.Recorder that appends one audit event per committed
// grant, grant deletion, revocation and plugin state change, and per grant
// the store refused because it reaches warden's own state.
func Recorder(l Appender, opts ...Option) store.Recorder {
	r := &recorder{l: l, actor: audit.Actor{Plugin: "warden"}}
	for _, o := range opts {
		o(r)
	}
	return r
}

func (r *recorder) Record(ctx context.Context, e store.Event) error {
	ev := Event(e)
	ev.Actor = r.actor
	if _, err := r.l.Append(ctx, ev); err != nil {
		return fmt.Errorf("audit %s: %w", e.Type, err)
	}
	if e.Type == store.EventRevoked && e.Revocation != nil && r.revoked != nil {
		return r.revoked(ctx, *e.Revocation)
	}
	return nil
}

// Event maps one committed store change to its audit event (without actor).
func Event(e store.Event) *audit.Event {
	ev := &audit.Event{Outcome: audit.OutcomeOK, Detail: map[string]string{"change": string(e.Type)}}
	switch e.Type {
	case store.EventGrantAdded, store.EventGrantDeleted, store.EventGrantConfirmed:
		// A confirmed grant is logged as a grant: it is the moment a grant
		// given before the install starts to apply.
		ev.Action = audit.ActionGrant
		if e.Type == store.EventGrantDeleted {
			ev.Action = audit.ActionRevoke
		}
		if g := e.Grant; g != nil {
			ev.Resource = g.Resource
			ev.Detail["plugin"] = g.Plugin
			ev.Detail["actions"] = strings.Join(g.Actions, ",")
			ev.Detail["grant_id"] = strconv.FormatInt(g.ID, 10)
			ev.Detail["source"] = string(g.Source)
			if !g.Expires.IsZero() {
				ev.Detail["expires"] = g.Expires.UTC().Format("2006-01-02T15:04:05Z")
			}
			// Which install the grant is for: a reader can tell a grant
			// that applies from one that waits for a consent screen.
			if g.KeyID != "" {
				ev.Detail["key_id"] = g.KeyID
			}
			if g.Pending() {
				ev.Detail["pending"] = "true"
			} else {
				ev.Detail["install_id"] = g.InstallID
			}
		}
	case store.EventGrantRefused:
		ev.Action = audit.ActionGrant
		ev.Outcome = audit.OutcomeError
		ev.Decision = audit.Decision{Effect: audit.EffectDeny, By: "warden", Reason: e.Reason}
		ev.Error = &audit.Error{Code: "denied", Message: e.Reason}
		if g := e.Grant; g != nil {
			ev.Resource = g.Resource
			ev.Detail["plugin"] = g.Plugin
			ev.Detail["actions"] = strings.Join(g.Actions, ",")
			ev.Detail["source"] = string(g.Source)
		}
	case store.EventRevoked:
		ev.Action = audit.ActionRevoke
		if rv := e.Revocation; rv != nil {
			ev.Resource = string(rv.Kind) + ":" + rv.Value
			if rv.Reason != "" {
				ev.Detail["reason"] = rv.Reason
			}
		}
	case store.EventPluginStateChanged:
		ev.Action = "plugin.state"
		ev.Resource = "plugin:" + e.Plugin + "#*"
		ev.Detail["plugin"] = e.Plugin
		ev.Detail["state"] = string(e.State)
	default:
		ev.Action = "store." + string(e.Type)
	}
	return ev
}

// LoadRevocations feeds every stored revocation into set. Token revocations
// name a jti; plugin revocations cut off the plugin's tokens issued before the
// revocation; publisher and key revocations cut off every installed plugin of
// that publisher or signed by that key.
func LoadRevocations(ctx context.Context, st *store.Store, set *capability.RevocationSet) error {
	rows, err := st.Revocations(ctx)
	if err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	var plugins []store.Plugin
	for _, rv := range rows {
		if rv.Kind == store.RevokePublisher || rv.Kind == store.RevokeKey {
			if plugins, err = st.ListPlugins(ctx); err != nil {
				return fmt.Errorf("load revocations: %w", err)
			}
			break
		}
	}
	for _, rv := range rows {
		Apply(set, rv, plugins)
	}
	return nil
}

// Apply puts one revocation row into set; plugins are the installed plugins,
// consulted for publisher and key revocations.
func Apply(set *capability.RevocationSet, rv store.Revocation, plugins []store.Plugin) {
	before := rv.RevokedBefore
	if before.IsZero() {
		before = rv.Created
	}
	switch rv.Kind {
	case store.RevokeToken:
		set.Revoke(rv.Value)
	case store.RevokePlugin:
		set.RevokeSubject(rv.Value, before)
	case store.RevokePublisher, store.RevokeKey:
		for _, p := range plugins {
			if (rv.Kind == store.RevokePublisher && p.Publisher == rv.Value) ||
				(rv.Kind == store.RevokeKey && p.KeyID == rv.Value) {
				set.RevokeSubject(p.ID, before)
			}
		}
	}
}
