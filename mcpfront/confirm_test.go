package mcpfront

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/hostapi"
)

func TestElicitationRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error)
		allowed bool
		reason  string
	}{
		{"accept", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"allow": true}}, nil
		}, true, ""},
		{"accept-unticked", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"allow": false}}, nil
		}, false, "did not tick allow"},
		{"decline", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		}, false, "you declined"},
		{"cancel", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "cancel"}, nil
		}, false, "cancelled"},
		{"timeout", func(ctx context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}, false, "nobody answered"},
		{"no-elicitation", nil, false, "did not declare the elicitation capability"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{ConfirmTimeout: 50 * time.Millisecond})
			asked := make(chan *mcp.ElicitParams, 1)
			opts := &mcp.ClientOptions{}
			if tc.handler != nil {
				opts.ElicitationHandler = func(ctx context.Context, r *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					asked <- r.Params
					return tc.handler(ctx, r)
				}
			}
			cs := e.connect(t, opts)
			r := call(t, cs, "echo__write", map[string]any{})
			if tc.allowed {
				if r.IsError {
					t.Fatalf("accepted call failed: %s", text(t, r))
				}
			} else {
				txt := wantErrorCode(t, r, hostapi.CodeDeclined)
				for _, want := range []string{tc.reason, "a person (not the agent) runs: warden grant echo filesystem:/home/u/notes.txt write"} {
					if !strings.Contains(txt, want) {
						t.Errorf("denial %q lacks %q", txt, want)
					}
				}
			}
			if tc.handler == nil {
				return
			}
			p := <-asked
			for _, want := range []string{`plugin "echo"`, "write filesystem:/home/u/notes.txt", "fs.write", `Data: hello\u001b[2J`, "7 bytes", "does not change your grants"} {
				if !strings.Contains(p.Message, want) {
					t.Errorf("elicitation message lacks %q:\n%s", want, p.Message)
				}
			}
			if strings.ContainsRune(p.Message, 0x1b) {
				t.Error("a raw escape character reached the person's screen")
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"filesystem:/a/b.txt": "filesystem:/a/b.txt",
		"read,write":          "read,write",
		"/a b/c":              "'/a b/c'",
		"x'; rm -rf ~":        `'x'\''; rm -rf ~'`,
		"":                    "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
