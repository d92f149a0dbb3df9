package hostapi

// The capability methods. They need no capability themselves: capability.list
// shows the caller its own tokens, and capability.request either attenuates
// one of them (no person needed: narrowing never widens) or asks the policy,
// and a person where it says ask, for a token within the manifest.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
)

// DefaultRequestTTL is the lifetime of a token from capability.request that
// names no ttl.
const DefaultRequestTTL = 15 * time.Minute

// capJSON is one capability in capability.list and capability.request
// results. The token string is returned to its own holder only: the guest
// must be able to pass it explicitly (and to a facade bound to it), and a
// token is useless to any other subject or audience.
type capJSON struct {
	Token     string   `json:"token"`
	ID        string   `json:"id,omitempty"`
	Resource  string   `json:"resource"`
	Actions   []string `json:"actions"`
	ExpiresAt string   `json:"expires_at"`
}

func toCapJSON(token string, c *capability.Capability) capJSON {
	return capJSON{Token: token, ID: c.ID, Resource: c.Resource.String(), Actions: c.Actions,
		ExpiresAt: c.Expires.UTC().Format(time.RFC3339)}
}

func runCapList(_ context.Context, c *call) ([]byte, *Error) {
	expect := capability.Expect{Subject: c.caller.Plugin, Audience: c.caller.Instance}
	out := struct {
		Capabilities []capJSON `json:"capabilities"`
	}{Capabilities: []capJSON{}}
	for _, t := range c.caller.Tokens {
		capa, err := c.g.cfg.Tokens.Verify(t, expect, c.start)
		if err != nil {
			continue // expired, revoked: not a capability any more
		}
		out.Capabilities = append(out.Capabilities, toCapJSON(t, capa))
	}
	c.ev.Bytes = int64(len(out.Capabilities))
	b, err := json.Marshal(out)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "capability.list: encode result", Err: err}
	}
	return b, nil
}

func runCapRequest(ctx context.Context, c *call) ([]byte, *Error) {
	g := c.g
	if g.cfg.Issuer == nil {
		return nil, Errorf(CodeUnavailable, "capability.request: this host does not issue capabilities at run time")
	}
	pat, err := resource.ParseWith(c.args.Str("resource"), g.home)
	if err != nil {
		return nil, &Error{Code: CodeInvalidParams, Message: "capability.request: " + err.Error(), Err: err}
	}
	acts := c.args.Strs("actions")
	if err := resource.CheckActions(pat.Kind(), acts); err != nil {
		return nil, &Error{Code: CodeInvalidParams, Message: "capability.request: " + err.Error(), Err: err}
	}
	ttl := DefaultRequestTTL
	if s, ok := c.args.Int("ttl"); ok {
		ttl = time.Duration(s) * time.Second
	}
	reason := c.args.Str("reason")
	c.ev.Resource = pat.String()
	c.ev.Detail = map[string]string{"actions": strings.Join(acts, ","), "reason": Sanitize(reason, 500), "ttl_s": fmt.Sprint(int64(ttl / time.Second))}
	cl := c.caller
	expect := capability.Expect{Subject: cl.Plugin, Audience: cl.Instance}

	// A narrower token of one already held: attenuation, which can only
	// narrow, so no one needs to be asked.
	for _, t := range cl.Tokens {
		parent, err := g.cfg.Tokens.Verify(t, expect, c.start)
		if err != nil || !parent.Resource.Contains(pat) || !resource.ActionsSubset(acts, parent.Actions) {
			continue
		}
		req := capability.Request{Subject: cl.Plugin, Audience: cl.Instance, Resource: pat.String(), Actions: acts, TTL: ttl}
		if c.start.Add(ttl).After(parent.Expires) {
			req.TTL = 0 // until the parent expires
		}
		tok, capa, err := g.cfg.Issuer.Delegate(parent, req)
		if err != nil {
			return nil, &Error{Code: CodeDenied, Message: "capability.request: could not attenuate a held capability: " + capability.ErrorCode(err), Err: err}
		}
		c.ev.CapHash = parent.Hash
		c.ev.Decision = audit.Decision{Effect: audit.EffectAllow, By: "attenuation", Reason: "The requested capability lies within one the instance holds."}
		c.ev.Detail["token_hash"] = capa.Hash
		return marshalCap(tok, capa)
	}

	// An additional token: the policy decides each action on the whole
	// pattern, and a person confirms where it says ask.
	maxTTL := ttl
	asked := ""
	var askWait time.Duration
	for _, act := range acts {
		d := g.cfg.Policy.Decide(policy.Request{Publisher: cl.Publisher, PublisherKeyID: cl.PublisherKeyID, Plugin: cl.Plugin,
			Manifest: cl.Manifest, Pattern: pat, Action: act, Now: c.start})
		c.ev.Decision = audit.Decision{Effect: string(d.Effect), By: d.By, Reason: d.Reason}
		switch d.Effect {
		case policy.Allow:
		case policy.Ask:
			asked, askWait = d.Reason, d.ConfirmTimeout
		default:
			code := CodeDenied
			if d.By == "manifest" {
				code = CodeNotDeclared
			}
			return nil, &Error{Code: code, Message: d.Reason}
		}
		if d.MaxTTL > 0 && d.MaxTTL < maxTTL {
			maxTTL = d.MaxTTL
		}
	}
	if asked != "" {
		c.ev.Decision = audit.Decision{Effect: audit.EffectAsk, By: c.ev.Decision.By, Reason: asked}
		ok, err := c.confirm(ConfirmRequest{Plugin: cl.Plugin, Version: cl.Version, Publisher: cl.Publisher,
			Instance: cl.Instance, Method: c.name, Resource: pat.String(), Action: strings.Join(acts, ","),
			Reason: reason, By: c.ev.Decision.By, Preview: "a capability token valid for " + maxTTL.Round(time.Second).String(), Size: -1}, askWait)
		if !ok || err != nil {
			c.ev.Decision.Answer = audit.EffectDeny
			return nil, &Error{Code: CodeDeclined, Message: "capability.request for " + pat.String() + " was not confirmed", Err: err}
		}
		c.ev.Decision.Answer = audit.EffectAllow
	}
	maxTTL = maxTTL.Truncate(time.Second)
	if maxTTL < time.Second {
		return nil, Errorf(CodeDenied, "capability.request: the grant that allows %s expires too soon to issue a token", pat)
	}
	tok, capa, err := g.cfg.Issuer.Mint(capability.Request{Subject: cl.Plugin, Audience: cl.Instance, Resource: pat.String(), Actions: acts, TTL: maxTTL})
	if err != nil {
		code := CodeInternal
		if errors.Is(err, capability.ErrInvalidRequest) || errors.Is(err, capability.ErrTTL) {
			code = CodeInvalidParams
		}
		return nil, &Error{Code: code, Message: "capability.request: could not issue the token: " + capability.ErrorCode(err), Err: err}
	}
	c.ev.Detail["token_hash"] = capa.Hash
	return marshalCap(tok, capa)
}

func marshalCap(tok string, capa *capability.Capability) ([]byte, *Error) {
	b, err := json.Marshal(toCapJSON(tok, capa))
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "capability.request: encode result", Err: err}
	}
	return b, nil
}
