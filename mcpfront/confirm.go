package mcpfront

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
)

// confirmer asks the person behind one MCP session, by elicitation, whether
// one host call may go ahead. It never grants anything: a yes allows that one
// call and is forgotten. It remembers its refusals so that the call's error
// can say how a person grants access outside the agent.
type confirmer struct {
	f       *Front
	session *mcp.ServerSession
	plugin  string

	mu      sync.Mutex
	refused []refusal      // asks nobody confirmed, with why
	denied  []host.Refusal // refusals the gate decided without asking
}

type refusal struct {
	req    hostapi.ConfirmRequest
	reason string
}

// elicitSchema is the form: one boolean the person must set. Accepting the
// form with allow=false, declining, cancelling, or not answering all deny.
var elicitSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"allow": map[string]any{
			"type":        "boolean",
			"title":       "Allow this one call",
			"description": "Allows only this call. To allow it every time, run `warden grant` yourself.",
		},
	},
	"required": []string{"allow"},
}

// Confirm implements hostapi.Confirmer.
func (c *confirmer) Confirm(ctx context.Context, r hostapi.ConfirmRequest) (bool, error) {
	if c.session == nil || !canElicit(c.session) {
		c.refuse(r, "this MCP client cannot ask you (it did not declare the elicitation capability), so warden denied it")
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.f.cfg.ConfirmTimeout)
	defer cancel()
	res, err := c.session.Elicit(ctx, &mcp.ElicitParams{
		Mode:            "form",
		Message:         confirmMessage(r),
		RequestedSchema: elicitSchema,
	})
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		c.refuse(r, fmt.Sprintf("nobody answered the confirmation within %s, so warden denied it", c.f.cfg.ConfirmTimeout))
		return false, nil
	case err != nil:
		c.refuse(r, "the confirmation could not be shown ("+err.Error()+"), so warden denied it")
		return false, nil
	case res.Action == "accept" && res.Content["allow"] == true:
		return true, nil
	case res.Action == "accept":
		c.refuse(r, "you did not tick allow")
	case res.Action == "cancel":
		c.refuse(r, "the confirmation was cancelled")
	default:
		c.refuse(r, "you declined")
	}
	return false, nil
}

func canElicit(ss *mcp.ServerSession) bool {
	p := ss.InitializeParams()
	return p != nil && p.Capabilities != nil && p.Capabilities.Elicitation != nil
}

func (c *confirmer) refuse(r hostapi.ConfirmRequest, reason string) {
	c.mu.Lock()
	c.refused = append(c.refused, refusal{r, reason})
	c.mu.Unlock()
}

// refusedByGate records a refusal the gate made (host.WithRefusals). An ask
// this confirmer declined is recorded by Confirm itself, with the person's
// side of the story, so it is not recorded twice.
func (c *confirmer) refusedByGate(r host.Refusal) {
	if r.Decision.Effect == audit.EffectAsk {
		return
	}
	c.mu.Lock()
	c.denied = append(c.denied, r)
	c.mu.Unlock()
}

func (c *confirmer) refusedAny() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.refused) > 0 || len(c.denied) > 0
}

// maxAdvice bounds the refusals a hint explains: a plugin refused in a loop
// must not grow one message without end.
const maxAdvice = 4

// hint tells the person, for each thing refused, what decided it and the
// one thing that would change it: a command a person (never the agent)
// runs, an answer to give when asked, or that only an administrator can.
// "" when nothing was refused.
func (c *confirmer) hint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	seen := map[string]bool{}
	total := 0
	add := func(s string) {
		if seen[s] {
			return
		}
		seen[s] = true
		total++
		if len(parts) < maxAdvice {
			parts = append(parts, s)
		}
	}
	cmd := c.f.cfg.GrantCommand
	for _, r := range c.refused {
		add(askAdvice(cmd, c.plugin, r))
	}
	for _, r := range c.denied {
		add(denyAdvice(cmd, c.plugin, r))
	}
	if total > len(parts) {
		parts = append(parts, fmt.Sprintf("(%d more refusals; the audit log has each: %s audit tail)", total-len(parts), cmd))
	}
	return strings.Join(parts, " ")
}

// askAdvice explains an ask that nobody confirmed.
func askAdvice(cmd, plugin string, r refusal) string {
	what := fmt.Sprintf("%s on %s", hostapi.Sanitize(r.req.Action, 32), hostapi.Sanitize(r.req.Resource, 200))
	by := r.req.By
	switch {
	case strings.HasPrefix(by, "always_ask:"):
		return fmt.Sprintf("%s needs a person's yes each time (the policy always asks for %s, and no grant lifts that), and %s. Answer allow when asked, in a client that shows confirmations; only an administrator can stop the question.",
			what, hostapi.Sanitize(strings.TrimPrefix(by, "always_ask:"), 64), r.reason)
	case strings.HasPrefix(by, "rule:"):
		return fmt.Sprintf("%s needs a person's yes each time (enterprise policy %s asks), and %s. Answer allow when asked, in a client that shows confirmations; only an administrator can change the rule.",
			what, hostapi.Sanitize(by, 80), r.reason)
	}
	return fmt.Sprintf("%s was not confirmed: %s. Answer allow when asked, or a person (not the agent) runs: %s grant %s %s %s",
		what, r.reason, cmd, shellQuote(plugin), shellQuote(r.req.Resource), shellQuote(r.req.Action))
}

// denyAdvice explains a refusal the gate decided without asking anyone.
func denyAdvice(cmd, plugin string, r host.Refusal) string {
	access := r.Access
	if access == "" {
		access = "access"
	}
	what := fmt.Sprintf("%s (%s) on %s", hostapi.Sanitize(r.Method, 32), hostapi.Sanitize(access, 32), hostapi.Sanitize(r.Resource, 200))
	by := r.Decision.By
	switch {
	case by == "manifest" || r.Code == hostapi.CodeNotDeclared:
		return fmt.Sprintf("%s is outside %s's manifest, and nothing outside a manifest can be granted; only a new version of the plugin that declares it could allow it.", what, shellQuote(plugin))
	case strings.HasPrefix(by, "rule:"):
		return fmt.Sprintf("%s is denied by enterprise policy %s; only an administrator can change that ('%s policy explain' shows the rule).", what, hostapi.Sanitize(by, 80), cmd)
	case by == "budget" || r.Code == hostapi.CodeQuota:
		return fmt.Sprintf("%s was refused: the call spent its budget (%s); the plugin's manifest limits and the policy set it.", what, hostapi.Sanitize(r.Message, 200))
	case strings.Contains(r.Decision.Reason, "warden's own state"):
		return fmt.Sprintf("%s reaches warden's own state; no plugin may touch it, whatever it is granted.", what)
	case r.Code == hostapi.CodeTokenInvalid || r.Code == hostapi.CodeTokenExpired:
		return fmt.Sprintf("%s was refused: %s", what, hostapi.Sanitize(r.Message, 200))
	case by == "default" || by == "gate" && r.Code == hostapi.CodeDenied:
		action := r.Access
		if i := strings.LastIndexByte(action, ','); i >= 0 {
			action = action[i+1:] // the last access decided is the one refused: read,write → write
		}
		if action == "" {
			action = "ACTIONS"
		} else {
			action = shellQuote(action)
		}
		return fmt.Sprintf("%s: no grant allows it. To allow it, a person (not the agent) runs: %s grant %s %s %s", what, cmd, shellQuote(plugin), shellQuote(r.Resource), action)
	}
	return fmt.Sprintf("%s was refused (%s).", what, hostapi.Sanitize(r.Decision.Reason, 200))
}

// confirmMessage is what the person reads: who asks to do what to which
// resource, and the data involved. Guest text is sanitised.
func confirmMessage(r hostapi.ConfirmRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "warden: plugin %q", hostapi.Sanitize(r.Plugin, 64))
	if r.Version != "" {
		fmt.Fprintf(&b, " %s", hostapi.Sanitize(r.Version, 32))
	}
	if r.Publisher != "" {
		fmt.Fprintf(&b, " (publisher %s)", hostapi.Sanitize(r.Publisher, 64))
	}
	fmt.Fprintf(&b, " asks to %s %s", hostapi.Sanitize(r.Action, 32), hostapi.Sanitize(r.Resource, 300))
	if r.Method != "" {
		fmt.Fprintf(&b, " (%s)", hostapi.Sanitize(r.Method, 64))
	}
	b.WriteString(".")
	if r.Reason != "" {
		fmt.Fprintf(&b, "\nReason given: %s", hostapi.Sanitize(r.Reason, 300))
	}
	if r.Preview != "" {
		fmt.Fprintf(&b, "\nData: %s", hostapi.Sanitize(r.Preview, 300))
		if r.Size >= 0 {
			fmt.Fprintf(&b, " (%d bytes in all)", r.Size)
		}
	}
	b.WriteString("\nAllow this one call? This does not change your grants.")
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
