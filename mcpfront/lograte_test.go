//lint:file-ignore SA1019 MCP logging is deprecated only from protocol 2026-07-28, which warden does not negotiate (see doc.go).

package mcpfront

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/manifest"
)

// A plugin that logs 10,000 lines in one call (issue 10, finding 8: one
// log.write loop pushed 87 MB of notifications) reaches the MCP client as a
// burst of notifications and, once the session's budget refills, one notice
// with the count of the lines dropped.
func TestLogNotificationsAreRateLimited(t *testing.T) {
	const burst, lines = 50, 10_000
	e := newEnv(t, Config{LogBurst: burst, LogRate: 1, MaxLogLine: 100})
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	e.front.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e.host.add(Plugin{Name: "noisy", Version: "1.0.0", State: "active", Manifest: &manifest.Manifest{
		Name: "noisy", Version: "1.0.0", Runtime: "wasm",
		Tools: []manifest.Tool{{Name: "flood", InputSchema: json.RawMessage(`{"type":"object"}`)}},
	}}, map[string]toolFunc{
		"flood": func(_ context.Context, _ json.RawMessage, call Call) (json.RawMessage, error) {
			for range lines {
				call.Log("log", "info: "+strings.Repeat("x", 1000))
			}
			return json.RawMessage(`{}`), nil
		},
	})
	must(t, e.front.Refresh(context.Background()))

	var got []*mcp.LoggingMessageParams
	var gotMu sync.Mutex
	cs := e.connect(t, &mcp.ClientOptions{LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) {
		gotMu.Lock()
		got = append(got, r.Params)
		gotMu.Unlock()
	}})
	must(t, cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "debug"}))
	call(t, cs, "noisy__flood", nil)

	// Two seconds later the bucket holds two: the notice of the drop and
	// one line go out, the second line of "logs" is dropped again.
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	call(t, cs, "echo__logs", nil)
	count := func() int { gotMu.Lock(); defer gotMu.Unlock(); return len(got) }
	waitFor(t, func() bool { return count() >= burst+2 })

	gotMu.Lock()
	defer gotMu.Unlock()
	if len(got) != burst+2 {
		t.Fatalf("%d notifications for %d lines; want the burst of %d, a notice and one line", len(got), lines+2, burst)
	}
	var notice *mcp.LoggingMessageParams
	for _, g := range got {
		d, _ := json.Marshal(g.Data)
		switch {
		case g.Logger == "warden":
			notice = g
		case g.Logger == "noisy" && !strings.Contains(string(d), "[warden: 906 bytes cut]"):
			t.Errorf("a 1006-byte line was not cut to 100 bytes: %s", d)
		}
	}
	if notice == nil {
		t.Fatal("no notice of the dropped lines")
	}
	d, _ := json.Marshal(notice.Data)
	var nd struct {
		Dropped int64 `json:"dropped"`
	}
	must(t, json.Unmarshal(d, &nd))
	if nd.Dropped != lines-burst || notice.Level != "warning" {
		t.Fatalf("notice %s (level %s); want %d lines dropped", d, notice.Level, lines-burst)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
