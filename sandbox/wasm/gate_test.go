package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wardenproject/warden/hostapi"
)

// testGate is a small but real gate for this package's tests: tokens name a
// directory and actions, files open through os.Root (which refuses to leave
// its directory, symlinks included), and every decision is recorded. The
// lead's integration tests run the same attacks against hostapi.Gate.
type testGate struct {
	grants map[string]testGrant // by token; guarded by mu
	issued map[string]string    // token -> instance, for capability.request

	mu     sync.Mutex
	events []testEvent
	open   atomic.Int64 // files open now
	nextID atomic.Int64
}

type testGrant struct {
	dir     string // cleaned, symlinks resolved
	actions string // e.g. "read,write"
}

type testEvent struct {
	Method, Path string
	Allowed      bool
	Code         hostapi.Code
}

func newTestGate(grants map[string]testGrant) *testGate {
	g := &testGate{grants: map[string]testGrant{}, issued: map[string]string{}}
	for tok, gr := range grants {
		if real, err := filepath.EvalSymlinks(gr.dir); err == nil {
			gr.dir = real
		}
		g.grants[tok] = gr
	}
	return g
}

func (g *testGate) record(method, path string, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, testEvent{Method: method, Path: path, Allowed: err == nil, Code: codeOrEmpty(err)})
}

func codeOrEmpty(err error) hostapi.Code {
	if err == nil {
		return ""
	}
	return hostapi.CodeOf(err)
}

func (g *testGate) denied(path string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.events {
		if !e.Allowed && e.Path == path {
			return true
		}
	}
	return false
}

// authorize finds a grant of the caller covering p for action.
func (g *testGate) authorize(c hostapi.Caller, token, p, action string) (testGrant, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	toks := c.Tokens
	if token != "" {
		own := g.issued[token] == c.Instance
		for _, t := range c.Tokens {
			own = own || t == token
		}
		if !own {
			return testGrant{}, hostapi.Errorf(hostapi.CodeTokenInvalid, "the token was not issued to instance %s", c.Instance)
		}
		toks = []string{token}
	}
	for _, t := range toks {
		gr, ok := g.grants[t]
		if !ok || !strings.Contains(","+gr.actions+",", ","+action+",") {
			continue
		}
		if p == gr.dir || strings.HasPrefix(p, gr.dir+"/") {
			return gr, nil
		}
	}
	return testGrant{}, hostapi.Errorf(hostapi.CodeDenied, "%s on %s is not granted", action, p)
}

func osCode(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &hostapi.Error{Code: hostapi.CodeNotFound, Message: "no such file", Err: err}
	case errors.Is(err, fs.ErrExist):
		return &hostapi.Error{Code: hostapi.CodeExists, Message: "exists", Err: err}
	case strings.Contains(err.Error(), "escapes"):
		return &hostapi.Error{Code: hostapi.CodeDenied, Message: "the path leaves its grant", Err: err}
	}
	return &hostapi.Error{Code: hostapi.CodeIO, Message: "io error", Err: err}
}

func (g *testGate) root(gr testGrant, p string) (*os.Root, string, error) {
	r, err := os.OpenRoot(gr.dir)
	if err != nil {
		return nil, "", osCode(err)
	}
	rel, _ := filepath.Rel(gr.dir, p)
	return r, rel, nil
}

type countedFile struct {
	*os.File
	g    *testGate
	once sync.Once
}

func (f *countedFile) Close() error {
	f.once.Do(func() { f.g.open.Add(-1) })
	return f.File.Close()
}

func (f *countedFile) CloseContext(context.Context) error { return f.Close() }

func (g *testGate) OpenFile(ctx context.Context, c hostapi.Caller, token, p string, flag int, perm fs.FileMode) (f hostapi.File, err error) {
	defer func() { g.record("fs.open", p, err) }()
	action := "read"
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		action = "write"
	}
	gr, err := g.authorize(c, token, p, action)
	if err != nil {
		return nil, err
	}
	r, rel, err := g.root(gr, p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	of, err := r.OpenFile(rel, flag, perm)
	if err != nil {
		return nil, osCode(err)
	}
	g.open.Add(1)
	return &countedFile{File: of, g: g}, nil
}

func (g *testGate) Call(ctx context.Context, c hostapi.Caller, method, token string, params json.RawMessage) (res json.RawMessage, err error) {
	var in struct {
		Path, From, To, Resource, Reason string
		Data                             []byte
		Actions                          []string
	}
	if err := json.Unmarshal(params, &in); err != nil {
		return nil, hostapi.Errorf(hostapi.CodeInvalidParams, "%v", err)
	}
	defer func() { g.record(method, in.Path+in.From, err) }()
	do := func(action string, f func(r *os.Root, rel string) error) error {
		gr, err := g.authorize(c, token, in.Path, action)
		if err != nil {
			return err
		}
		r, rel, err := g.root(gr, in.Path)
		if err != nil {
			return err
		}
		defer r.Close()
		if err := f(r, rel); err != nil {
			return osCode(err)
		}
		return nil
	}
	switch method {
	case "bench.nop":
		return json.RawMessage(`{}`), nil
	case "test.echo":
		return params, nil
	case "test.slow":
		<-ctx.Done()
		return nil, ctx.Err()
	case "fs.stat":
		var fi fs.FileInfo
		err := do("read", func(r *os.Root, rel string) (err error) { fi, err = r.Stat(rel); return })
		if err != nil {
			return nil, err
		}
		typ := "file"
		if fi.IsDir() {
			typ = "dir"
		}
		return json.Marshal(map[string]any{"name": fi.Name(), "type": typ, "size": fi.Size(), "mode": fi.Mode().Perm(), "mtime": fi.ModTime()})
	case "fs.mkdir":
		return json.RawMessage(`{}`), do("write", func(r *os.Root, rel string) error { return r.Mkdir(rel, 0o755) })
	case "fs.delete":
		return json.RawMessage(`{}`), do("write", func(r *os.Root, rel string) error { return r.Remove(rel) })
	case "fs.write":
		return json.RawMessage(`{"bytes":0,"after_hash":"sha256:0"}`), do("write", func(r *os.Root, rel string) error { return r.WriteFile(rel, in.Data, 0o644) })
	case "fs.read":
		var b []byte
		err := do("read", func(r *os.Root, rel string) (err error) { b, err = r.ReadFile(rel); return })
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"data": b, "size": len(b)})
	case "fs.rename":
		gf, err := g.authorize(c, token, in.From, "write")
		if err != nil {
			return nil, err
		}
		if _, err := g.authorize(c, token, in.To, "write"); err != nil {
			return nil, err
		}
		r, _, err := g.root(gf, in.From)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		rf, _ := filepath.Rel(gf.dir, in.From)
		rt, _ := filepath.Rel(gf.dir, in.To)
		if err := r.Rename(rf, rt); err != nil {
			return nil, osCode(err)
		}
		return json.RawMessage(`{}`), nil
	case "capability.list":
		var caps []map[string]any
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, t := range c.Tokens {
			if gr, ok := g.grants[t]; ok {
				caps = append(caps, map[string]any{"token": t, "resource": "filesystem:" + gr.dir + "/**", "actions": strings.Split(gr.actions, ","), "expires_at": "2100-01-01T00:00:00Z"})
			}
		}
		return json.Marshal(map[string]any{"capabilities": caps})
	case "capability.request":
		dir := strings.TrimSuffix(strings.TrimPrefix(in.Resource, "filesystem:"), "/**")
		for _, a := range in.Actions {
			if _, err := g.authorize(c, "", dir, a); err != nil {
				return nil, err
			}
		}
		if in.Reason == "" {
			return nil, hostapi.Errorf(hostapi.CodeInvalidParams, "a reason is required")
		}
		tok := fmt.Sprintf("req-%d", g.nextID.Add(1))
		g.mu.Lock()
		g.grants[tok] = testGrant{dir: dir, actions: strings.Join(in.Actions, ",")}
		g.issued[tok] = c.Instance
		g.mu.Unlock()
		return json.Marshal(map[string]any{"token": tok, "resource": in.Resource, "actions": in.Actions, "expires_at": "2100-01-01T00:00:00Z"})
	}
	return nil, hostapi.Errorf(hostapi.CodeUnknownMethod, "no host method %q", method)
}

// The real gate satisfies the interface this package consumes.
var _ Gate = (*hostapi.Gate)(nil)
