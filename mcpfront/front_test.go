//lint:file-ignore SA1019 MCP logging is deprecated only from protocol 2026-07-28, which warden does not negotiate (see doc.go); the brief requires plugin log lines as MCP logging notifications.

package mcpfront

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
)

func listTools(t *testing.T, cs *mcp.ClientSession) map[string]*mcp.Tool {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*mcp.Tool{}
	for _, tl := range res.Tools {
		out[tl.Name] = tl
	}
	return out
}

func text(t *testing.T, r *mcp.CallToolResult) string {
	t.Helper()
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	r, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return r
}

func TestToolsListed(t *testing.T) {
	e := newEnv(t, Config{})
	cs := e.connect(t, nil)
	tools := listTools(t, cs)
	if len(tools) != 4 {
		t.Fatalf("got %d tools, want 4: %v", len(tools), tools)
	}
	echo := tools["echo__echo"]
	if echo == nil {
		t.Fatalf("no echo__echo in %v", tools)
	}
	in, _ := json.Marshal(echo.InputSchema)
	if !strings.Contains(string(in), `"required":["msg"]`) {
		t.Errorf("input schema lost: %s", in)
	}
	if echo.OutputSchema == nil {
		t.Error("output schema lost")
	}
	a := echo.Annotations
	if a == nil || !a.ReadOnlyHint || a.OpenWorldHint == nil || *a.OpenWorldHint || a.Title != "Echo" {
		t.Errorf("annotations lost: %+v", a)
	}
	if w := tools["echo__write"].Annotations; w == nil || w.DestructiveHint == nil || !*w.DestructiveHint {
		t.Errorf("destructive hint lost: %+v", w)
	}
}

func TestCallStructured(t *testing.T) {
	e := newEnv(t, Config{})
	cs := e.connect(t, nil)
	r := call(t, cs, "echo__echo", map[string]any{"msg": "hi"})
	if r.IsError {
		t.Fatalf("error result: %s", text(t, r))
	}
	if got := text(t, r); got != `{"msg":"hi"}` {
		t.Errorf("text content %q", got)
	}
	sc, _ := json.Marshal(r.StructuredContent)
	if string(sc) != `{"msg":"hi"}` {
		t.Errorf("structured content %s", sc)
	}
	// A tool without an output schema gets text only.
	r = call(t, cs, "echo__logs", map[string]any{})
	if r.IsError || r.StructuredContent != nil {
		t.Errorf("logs: %+v", r)
	}
}

func wantErrorCode(t *testing.T, r *mcp.CallToolResult, code hostapi.Code) string {
	t.Helper()
	if !r.IsError {
		t.Fatalf("want isError with %s, got %s", code, text(t, r))
	}
	txt := text(t, r)
	if !strings.HasPrefix(txt, string(code)+": ") {
		t.Fatalf("text %q does not start with %s", txt, code)
	}
	meta, _ := json.Marshal(r.Meta[ErrorMetaKey])
	var s struct{ Code, Message string }
	if err := json.Unmarshal(meta, &s); err != nil || s.Code != string(code) || s.Message == "" {
		t.Fatalf("_meta %s: %s", ErrorMetaKey, meta)
	}
	if r.StructuredContent != nil {
		sc, _ := json.Marshal(r.StructuredContent)
		var s struct{ Code, Message string }
		if err := json.Unmarshal(sc, &s); err != nil || s.Code != string(code) || s.Message == "" {
			t.Fatalf("structured error %s", sc)
		}
	}
	return txt
}

// TestErrorResultsConformToOutputSchema: an error result of a tool that
// declares an output schema carries no structured content (which would not
// conform to the schema, and which clients validate); the code is in _meta.
// A tool without an output schema keeps {code, message} as structured
// content too.
func TestErrorResultsConformToOutputSchema(t *testing.T) {
	e := newEnv(t, Config{})
	cs := e.connect(t, nil)
	r := call(t, cs, "echo__echo", map[string]any{})
	wantErrorCode(t, r, hostapi.CodeInvalidParams)
	if r.StructuredContent != nil {
		t.Fatalf("error result of a tool with an output schema carries structured content %v", r.StructuredContent)
	}
	r = call(t, cs, "echo__write", []int{1})
	wantErrorCode(t, r, hostapi.CodeInvalidParams)
	if r.StructuredContent == nil {
		t.Fatal("error result of a tool without an output schema lost its structured content")
	}
}

func TestBadCalls(t *testing.T) {
	e := newEnv(t, Config{MaxArgumentBytes: 1 << 10})
	cs := e.connect(t, nil)
	// Unknown tool: a JSON-RPC error naming it.
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo__nope", Arguments: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), `unknown tool "echo__nope"`) {
		t.Errorf("unknown tool: %v", err)
	}
	// Schema-invalid arguments never reach the host.
	before := len(e.host.calls)
	txt := wantErrorCode(t, call(t, cs, "echo__echo", map[string]any{"msg": 7}), hostapi.CodeInvalidParams)
	if !strings.Contains(txt, "input schema") {
		t.Errorf("invalid params text %q", txt)
	}
	wantErrorCode(t, call(t, cs, "echo__echo", map[string]any{"msg": "x", "extra": 1}), hostapi.CodeInvalidParams)
	wantErrorCode(t, call(t, cs, "echo__echo", nil), hostapi.CodeInvalidParams) // msg required
	// Oversized arguments.
	txt = wantErrorCode(t, call(t, cs, "echo__echo", map[string]any{"msg": strings.Repeat("a", 2<<10)}), hostapi.CodeTooLarge)
	if !strings.Contains(txt, "at most 1024 bytes") {
		t.Errorf("too large text %q", txt)
	}
	if len(e.host.calls) != before {
		t.Errorf("bad calls reached the host: %v", e.host.calls[before:])
	}
	// The session still works afterwards.
	if r := call(t, cs, "echo__echo", map[string]any{"msg": "ok"}); r.IsError {
		t.Fatal(text(t, r))
	}
}

func TestHostErrorKeepsCode(t *testing.T) {
	e := newEnv(t, Config{})
	e.host.add(Plugin{Name: "bad", State: "active", Manifest: &manifest.Manifest{Name: "bad", Tools: []manifest.Tool{{Name: "t", InputSchema: json.RawMessage(`{"type":"object"}`)}, {Name: "u"}}}},
		map[string]toolFunc{
			"t": func(_ context.Context, _ json.RawMessage, c Call) (json.RawMessage, error) {
				// What the gate reports when no grant covers a call.
				c.Refused(host.Refusal{Method: "net.fetch", Resource: "net:https://x.example/", Access: "get", Code: hostapi.CodeDenied,
					Decision: audit.Decision{Effect: audit.EffectDeny, By: "default", Reason: "no grant"}})
				return nil, hostapi.Errorf(hostapi.CodeDenied, "the policy denies net:https://x.example/")
			},
			"u": func(context.Context, json.RawMessage, Call) (json.RawMessage, error) { return nil, errors.New("boom") },
		})
	if err := e.front.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs := e.connect(t, nil)
	txt := wantErrorCode(t, call(t, cs, "bad__t", nil), hostapi.CodeDenied)
	if !strings.Contains(txt, "warden grant bad net:https://x.example/ get") {
		t.Errorf("denial does not say how to grant: %q", txt)
	}
	wantErrorCode(t, call(t, cs, "bad__u", nil), hostapi.CodeInternal) // no input schema: {"type":"object"}
}

func TestListFollowsInstalls(t *testing.T) {
	e := newEnv(t, Config{})
	changed := make(chan struct{}, 8)
	cs := e.connect(t, &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} }})
	e.host.add(Plugin{Name: "second", State: "active", Manifest: echoManifest("second")}, nil)
	<-changed
	waitFor(t, func() bool { return listTools(t, cs)["second__echo"] != nil })
	e.host.remove("second")
	<-changed
	waitFor(t, func() bool { return listTools(t, cs)["second__echo"] == nil })
	// A quarantined plugin's tools are hidden.
	e.host.add(Plugin{Name: "third", State: StateQuarantined, Manifest: echoManifest("third")}, nil)
	if err := e.front.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if listTools(t, cs)["third__echo"] != nil {
		t.Error("quarantined plugin's tool is listed")
	}
}

// waitFor polls cond: the refresh runs on its own goroutine after the
// notification, so the list may lag by a moment. No timing threshold.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNamesAndConflicts(t *testing.T) {
	for _, tc := range []struct {
		in           string
		plugin, tool string
		ok           bool
	}{
		{"hello__greet", "hello", "greet", true},
		{"sheet-gen__make__it", "sheet-gen", "make__it", true},
		{"a_b__c", "", "", false},
		{"__x", "", "", false},
		{"x__", "", "", false},
		{"plain", "", "", false},
	} {
		p, tl, ok := SplitToolName(tc.in)
		if p != tc.plugin || tl != tc.tool || ok != tc.ok {
			t.Errorf("SplitToolName(%q) = %q %q %v", tc.in, p, tl, ok)
		}
	}
	h := newFakeHost()
	long := strings.Repeat("p", 64)
	h.add(Plugin{Name: "one", Manifest: &manifest.Manifest{Tools: []manifest.Tool{{Name: "Greet"}, {Name: "greet"}}}}, nil)
	h.add(Plugin{Name: long, Manifest: &manifest.Manifest{Tools: []manifest.Tool{{Name: strings.Repeat("t", 64)}}}}, nil)
	_, err := New(context.Background(), Config{Host: h})
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 2 {
		t.Fatalf("want 2 conflicts at start, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"one__Greet", "plugin one tool greet", "130 characters long"} {
		if !strings.Contains(msg, want) {
			t.Errorf("conflict report lacks %q:\n%s", want, msg)
		}
	}
}

func TestProgressAndLogs(t *testing.T) {
	e := newEnv(t, Config{ProgressAfter: 5 * time.Millisecond})
	progress := make(chan *mcp.ProgressNotificationParams, 64)
	logs := make(chan *mcp.LoggingMessageParams, 8)
	cs := e.connect(t, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *mcp.ProgressNotificationClientRequest) {
			select {
			case progress <- r.Params:
			default:
			}
		},
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) { logs <- r.Params },
	})
	done := make(chan *mcp.CallToolResult)
	go func() {
		r, _ := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo__slow", Arguments: map[string]any{}, Meta: mcp.Meta{"progressToken": "tok-1"}})
		done <- r
	}()
	p := <-progress
	if p.ProgressToken != "tok-1" || p.Progress < 1 || !strings.Contains(p.Message, "still running") {
		t.Errorf("progress %+v", p)
	}
	close(e.release)
	if r := <-done; r == nil || r.IsError {
		t.Fatalf("slow call failed: %+v", r)
	}

	if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	call(t, cs, "echo__logs", nil)
	l1, l2, l3, l4 := <-logs, <-logs, <-logs, <-logs
	if l1.Logger != "echo" || l1.Level != "info" || l2.Level != "warning" || l3.Level != "error" || l4.Level != "debug" {
		t.Errorf("log notifications %+v %+v %+v %+v", l1, l2, l3, l4)
	}
	d, _ := json.Marshal(l1.Data)
	if !strings.Contains(string(d), "first line") {
		t.Errorf("log data %s", d)
	}
}

// TestLogLevelFilter: a client that asks for warnings and worse gets the
// plugin's stderr and its log.write errors, not its info and debug lines
// (every line was info once, so `setLevel warning` dropped plugin errors).
func TestLogLevelFilter(t *testing.T) {
	e := newEnv(t, Config{})
	logs := make(chan *mcp.LoggingMessageParams, 8)
	cs := e.connect(t, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, r *mcp.LoggingMessageRequest) { logs <- r.Params },
	})
	if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "warning"}); err != nil {
		t.Fatal(err)
	}
	call(t, cs, "echo__logs", nil)
	// A second call's lines mark the end of the first's: notifications of
	// one session arrive in order.
	call(t, cs, "echo__logs", nil)
	var got []string
	for len(got) < 4 {
		select {
		case l := <-logs:
			d, _ := json.Marshal(l.Data)
			got = append(got, string(l.Level)+" "+string(d))
		case <-time.After(time.Minute): // a hang detector, not a timing assertion
			t.Fatalf("notifications at level warning: %q, want 4 (2 stderr, 2 errors)", got)
		}
	}
	want := []string{"warning", "error", "warning", "error"}
	for i, g := range got {
		if !strings.HasPrefix(g, want[i]+" ") {
			t.Fatalf("notifications at level warning: %q, want levels %v", got, want)
		}
	}
	if !strings.Contains(got[1], "third line") {
		t.Fatalf("the error line: %s", got[1])
	}
}

func TestCancellationStopsCall(t *testing.T) {
	e := newEnv(t, Config{})
	cs := e.connect(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo__slow", Arguments: map[string]any{}})
		errc <- err
	}()
	<-e.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client saw %v", err)
	}
	if err := <-e.slowErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the call's context ended with %v, want cancelled", err)
	}
}

func TestDisconnectMidCall(t *testing.T) {
	e := newEnv(t, Config{})
	c1, c2 := net.Pipe()
	ss, err := e.front.Server().Connect(context.Background(), &mcp.IOTransport{Reader: c2, Writer: c2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c"}, nil).Connect(context.Background(), &mcp.IOTransport{Reader: c1, Writer: c1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() {
		_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo__slow", Arguments: map[string]any{}})
		errc <- err
	}()
	<-e.started
	c1.Close() // the client's end of the pipe goes away mid-call, as a killed process's would
	if err := <-e.slowErr; err == nil {
		t.Error("the call kept running after its client left")
	}
	if err := <-errc; err == nil {
		t.Error("the client's call succeeded on a closed connection")
	}
	ss.Wait()
	cs.Close()
	// goleak in TestMain checks that nothing the call started is left.
}

func TestNoPermissionSurface(t *testing.T) {
	e := newEnv(t, Config{})
	cs := e.connect(t, nil)
	for name := range listTools(t, cs) {
		p, _, ok := SplitToolName(name)
		if !ok || p != "echo" {
			t.Errorf("tool %q is not a plugin tool", name)
		}
	}
	caps := cs.InitializeResult().Capabilities
	if caps.Resources != nil || caps.Prompts != nil || caps.Completions != nil {
		t.Errorf("server offers more than tools and logging: %+v", caps)
	}
	if r, err := cs.ListResources(context.Background(), nil); err == nil && len(r.Resources) > 0 {
		t.Errorf("resources offered: %v", r.Resources)
	}
	if r, err := cs.ListPrompts(context.Background(), nil); err == nil && len(r.Prompts) > 0 {
		t.Errorf("prompts offered: %v", r.Prompts)
	}
	if r, err := cs.ListResourceTemplates(context.Background(), nil); err == nil && len(r.ResourceTemplates) > 0 {
		t.Errorf("resource templates offered: %v", r.ResourceTemplates)
	}
}
