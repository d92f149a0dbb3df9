package mcpfront

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/hostapi"
	"github.com/wardenproject/warden/manifest"
)

// toolFunc is a fake plugin tool.
type toolFunc func(ctx context.Context, input json.RawMessage, call Call) (json.RawMessage, error)

// fakeHost is a Host whose plugins are Go functions, for testing the front
// without a sandbox.
type fakeHost struct {
	mu       sync.Mutex
	plugins  []Plugin
	funcs    map[string]toolFunc // "plugin/tool"
	watchers map[int]func()
	next     int
	calls    []string
}

func newFakeHost() *fakeHost {
	return &fakeHost{funcs: map[string]toolFunc{}, watchers: map[int]func(){}}
}

func (h *fakeHost) add(p Plugin, funcs map[string]toolFunc) {
	h.mu.Lock()
	h.plugins = append(h.plugins, p)
	for t, fn := range funcs {
		h.funcs[p.Name+"/"+t] = fn
	}
	ws := h.watcherList()
	h.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

func (h *fakeHost) remove(name string) {
	h.mu.Lock()
	var kept []Plugin
	for _, p := range h.plugins {
		if p.Name != name {
			kept = append(kept, p)
		}
	}
	h.plugins = kept
	ws := h.watcherList()
	h.mu.Unlock()
	for _, w := range ws {
		w()
	}
}

func (h *fakeHost) watcherList() []func() {
	var ws []func()
	for _, w := range h.watchers {
		ws = append(ws, w)
	}
	return ws
}

func (h *fakeHost) Plugins(context.Context) ([]Plugin, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Plugin(nil), h.plugins...), nil
}

func (h *fakeHost) Invoke(ctx context.Context, plugin, tool string, input json.RawMessage, call Call) (json.RawMessage, error) {
	h.mu.Lock()
	fn := h.funcs[plugin+"/"+tool]
	h.calls = append(h.calls, plugin+"/"+tool)
	h.mu.Unlock()
	if fn == nil {
		return nil, hostapi.Errorf(hostapi.CodeNotFound, "no tool %s in plugin %s", tool, plugin)
	}
	return fn(ctx, input, call)
}

func (h *fakeHost) Watch(fn func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.watchers[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.watchers, id)
		h.mu.Unlock()
	}
}

func ptr[T any](v T) *T { return &v }

// echoPlugin declares: echo (object in, object out with output schema),
// write (asks for confirmation), slow (runs until released or cancelled),
// logs (writes log lines).
func echoManifest(name string) *manifest.Manifest {
	return &manifest.Manifest{
		Name: name, Version: "1.0.0", Runtime: "wasm",
		Tools: []manifest.Tool{
			{
				Name: "echo", Description: "Echo a message.",
				InputSchema:  json.RawMessage(`{"type":"object","properties":{"msg":{"type":"string","maxLength":10000000}},"required":["msg"],"additionalProperties":false}`),
				OutputSchema: json.RawMessage(`{"type":"object","properties":{"msg":{"type":"string"}},"required":["msg"]}`),
				Annotations:  &manifest.Annotations{Title: "Echo", ReadOnlyHint: ptr(true), OpenWorldHint: ptr(false)},
			},
			{Name: "write", Description: "Write a file.", InputSchema: json.RawMessage(`{"type":"object"}`),
				Annotations: &manifest.Annotations{DestructiveHint: ptr(true)}},
			{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)},
			{Name: "logs", InputSchema: json.RawMessage(`{"type":"object"}`)},
		},
	}
}

// writeRequest is what the fake "write" tool asks to confirm.
var writeRequest = hostapi.ConfirmRequest{
	Plugin: "echo", Version: "1.0.0", Method: "fs.write",
	Resource: "filesystem:/home/u/notes.txt", Action: "write",
	Preview: "hello\x1b[2J", Size: 7,
}

type env struct {
	host    *fakeHost
	front   *Front
	release chan struct{} // closes to let "slow" finish
	started chan struct{} // "slow" signals it started
	slowErr chan error    // what "slow" saw
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{host: newFakeHost(), release: make(chan struct{}), started: make(chan struct{}, 8), slowErr: make(chan error, 8)}
	e.host.add(Plugin{Name: "echo", Version: "1.0.0", State: "active", Manifest: echoManifest("echo")}, map[string]toolFunc{
		"echo": func(_ context.Context, in json.RawMessage, _ Call) (json.RawMessage, error) { return in, nil },
		"write": func(ctx context.Context, _ json.RawMessage, call Call) (json.RawMessage, error) {
			ok, err := call.Confirmer.Confirm(ctx, writeRequest)
			if err != nil || !ok {
				return nil, hostapi.Errorf(hostapi.CodeDeclined, "fs.write: the person did not allow write on filesystem:/home/u/notes.txt")
			}
			return json.RawMessage(`{"written":7}`), nil
		},
		"slow": func(ctx context.Context, _ json.RawMessage, _ Call) (json.RawMessage, error) {
			e.started <- struct{}{}
			select {
			case <-e.release:
				return json.RawMessage(`{"done":true}`), nil
			case <-ctx.Done():
				e.slowErr <- ctx.Err()
				return nil, hostapi.Errorf(hostapi.CodeUnavailable, "cancelled")
			}
		},
		"logs": func(_ context.Context, _ json.RawMessage, call Call) (json.RawMessage, error) {
			call.Log("stdout", "first line")
			call.Log("stderr", "second line")
			call.Log("log", "error: third line") // log.write at slog's error level
			call.Log("log", "debug: fourth line")
			return json.RawMessage(`{}`), nil
		},
	})
	cfg.Host = e.host
	f, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	e.front = f
	return e
}

// connect connects a go-sdk client to the front in process.
func (e *env) connect(t *testing.T, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := e.front.Server().Connect(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, opts)
	cs, err := c.Connect(context.Background(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(); ss.Wait() })
	return cs
}
