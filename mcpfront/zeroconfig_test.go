package mcpfront

import (
	"context"
	"strings"
	"testing"

	"github.com/wardenproject/warden/hostapi"
)

// The zero Config cannot be built: it has no host, and the error names the
// field.
func TestZeroConfigFrontRefused(t *testing.T) {
	f, err := New(context.Background(), Config{})
	if err == nil {
		f.Close()
		t.Fatal("New with the zero Config succeeded")
	}
	if !strings.Contains(err.Error(), "Config.Host") {
		t.Fatalf("New with the zero Config: %v; want an error naming Config.Host", err)
	}
}

// Attack (issue 11): a front built from nothing but its host is bounded.
// Every limit takes its default (none is "unlimited"), arguments past the
// default cap are refused before the host sees them, and a call that needs a
// person's yes, from a client that cannot ask one, is declined. (With the
// real host and its ledger, TestRealHostElicitation's no-elicitation case
// runs the same zero Config and finds the refusal audited.)
func TestZeroConfigFrontIsBounded(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.front.cfg
	if c.MaxArgumentBytes != DefaultMaxArgumentBytes || c.ProgressAfter != DefaultProgressAfter || c.ConfirmTimeout != DefaultConfirmTimeout ||
		c.LogRate != DefaultLogRate || c.LogBurst != DefaultLogBurst || c.MaxLogLine != DefaultMaxLogLine || c.Logger == nil {
		t.Fatalf("the zero Config became %+v; want every bound at its default", c)
	}
	cs := e.connect(t, nil) // no elicitation handler: nobody to ask
	before := len(e.host.calls)
	wantErrorCode(t, call(t, cs, "echo__echo", map[string]any{"msg": strings.Repeat("a", DefaultMaxArgumentBytes)}), hostapi.CodeTooLarge)
	if len(e.host.calls) != before {
		t.Fatalf("arguments past the default cap reached the host: %v", e.host.calls[before:])
	}
	wantErrorCode(t, call(t, cs, "echo__write", map[string]any{}), hostapi.CodeDeclined)
}
