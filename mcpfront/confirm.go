package mcpfront

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

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
	refused []refusal
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

func (c *confirmer) refusedAny() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.refused) > 0
}

// hint tells the person how to allow what was refused, outside the agent.
func (c *confirmer) hint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := c.f.cfg.GrantCommand
	if len(c.refused) == 0 {
		return "If it should be allowed, a person (not the agent) runs: " + cmd + " grant " + shellQuote(c.plugin) + " RESOURCE ACTIONS"
	}
	var b strings.Builder
	for i, r := range c.refused {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %s on %s: %s. To allow it, a person (not the agent) runs: %s grant %s %s %s",
			hostapi.Sanitize(r.req.Plugin, 64), hostapi.Sanitize(r.req.Action, 32), hostapi.Sanitize(r.req.Resource, 200), r.reason,
			cmd, shellQuote(c.plugin), shellQuote(r.req.Resource), shellQuote(r.req.Action))
	}
	return b.String()
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
