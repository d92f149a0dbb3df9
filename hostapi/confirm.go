package hostapi

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ConfirmRequest is what a person is asked to allow: exactly the plugin, the
// method, the concrete resource and action, and a preview of the data
// involved. Every string field is text from the host's own records or from
// the guest; a Confirmer shows it with Sanitize so that control characters
// cannot repaint a terminal.
type ConfirmRequest struct {
	Plugin    string
	Version   string
	Publisher string
	Instance  string
	Method    string // e.g. "fs.write"
	Resource  string // concrete resource name, e.g. "filesystem:/home/u/a.csv"
	// Requested is the resource name the plugin asked for when it differs
	// from Resource: Resource is where a symlink led, the place that will
	// really be touched. "" otherwise.
	Requested string
	Action    string // e.g. "write"
	// Reason is the guest's stated reason (capability.request) or the
	// policy's reason for asking.
	Reason string
	// By names what made the policy ask: "always_ask:CATEGORY" (a category
	// that always needs a person, which no grant lifts) or "rule:ID" (an
	// enterprise rule that asks), "" when the request did not come from a
	// policy decision. It lets a client tell the person what would change
	// the question, if anything.
	By string
	// Preview shows the data involved: the first bytes of a write, the
	// requested lifetime of a capability. Size is the whole data's size in
	// bytes, -1 when there is none.
	Preview string
	Size    int64
}

// Confirmer asks a person to allow one call. It returns false (declined)
// when the person says no, does not answer in time, or cannot be asked. An
// error means the confirmation could not be carried out at all; the gate
// treats it as declined.
type Confirmer interface {
	Confirm(ctx context.Context, req ConfirmRequest) (bool, error)
}

// DenyAll is the Confirmer for non-interactive hosts: every question is
// answered no, because nobody is there to say yes (docs/architecture.md: deny when
// non-interactive, never allow).
type DenyAll struct{}

// Confirm declines.
func (DenyAll) Confirm(context.Context, ConfirmRequest) (bool, error) { return false, nil }

// ConfirmFunc adapts a function to Confirmer (a desktop app's dialog, an MCP
// elicitation).
type ConfirmFunc func(ctx context.Context, req ConfirmRequest) (bool, error)

// Confirm calls f.
func (f ConfirmFunc) Confirm(ctx context.Context, req ConfirmRequest) (bool, error) {
	return f(ctx, req)
}

// Sanitize makes guest-supplied text safe to show in a terminal or dialog:
// control and bidirectional formatting characters and invalid UTF-8 are shown
// as escapes, and the text is cut to max runes with an ellipsis.
func Sanitize(s string, max int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsControl(r), r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// preview renders the first bytes of data for a ConfirmRequest.
func preview(data []byte) string {
	const max = 120
	cut := data
	if len(cut) > max {
		cut = cut[:max]
	}
	if utf8.Valid(cut) || len(data) > max && utf8.Valid(cut[:max-utf8.UTFMax]) {
		return Sanitize(string(cut), max)
	}
	return fmt.Sprintf("%d bytes of binary data, starting % x", len(data), cut[:min(len(cut), 16)])
}
