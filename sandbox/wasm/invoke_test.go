package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/hostapi"
)

type guestKind struct {
	name string
	wasm func(testing.TB) []byte
}

var bothGuests = []guestKind{{"go", goGuest}, {"wat", watGuest}}

func TestEcho(t *testing.T) {
	for _, g := range bothGuests {
		t.Run(g.name, func(t *testing.T) {
			inst := instantiate(t, compile(t, g.wasm(t)), InstanceConfig{})
			for _, in := range []string{`{"a":1}`, `"x"`, `[1,2,3]`, strings.Repeat(`"`+strings.Repeat("z", 1000)+`",`, 0) + `null`} {
				out, err := inst.Invoke(context.Background(), "echo", []byte(in))
				must(t, err)
				if string(out) != in {
					t.Fatalf("echo %s = %s", in, out)
				}
			}
		})
	}
}

func TestToolErrors(t *testing.T) {
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{})
	err := invokeJSON(t, inst, "fail", map[string]string{"Code": "bad_sheet", "Message": "no rows"}, nil)
	var te *ToolError
	if !errors.As(err, &te) || te.Code != "bad_sheet" || te.Message != "no rows" {
		t.Fatalf("got %v, want ToolError bad_sheet", err)
	}
	err = invokeJSON(t, inst, "fail", map[string]string{"Message": "plain"}, nil)
	if !errors.As(err, &te) || te.Code != "tool_error" {
		t.Fatalf("got %v, want ToolError tool_error", err)
	}
	err = invokeJSON(t, inst, "no-such-tool", nil, nil)
	if !errors.As(err, &te) || te.Code != "unknown_tool" {
		t.Fatalf("got %v, want unknown_tool", err)
	}
	_, err = inst.Invoke(context.Background(), "echo", []byte(`{not json`))
	if !errors.As(err, &te) || te.Code != "invalid_params" {
		t.Fatalf("got %v, want invalid_params", err)
	}
	if !inst.Healthy() {
		t.Fatal("a tool error must leave the instance healthy")
	}
	// WAT guest: unknown tool.
	w := instantiate(t, compile(t, watGuest(t)), InstanceConfig{})
	if _, err := w.Invoke(context.Background(), "zzz", nil); !errors.As(err, &te) || te.Code != "unknown_tool" {
		t.Fatalf("wat: got %v", err)
	}
}

func TestNoEnvNoArgsRealClock(t *testing.T) {
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{})
	var out struct {
		Env  []string `json:"env"`
		Args []string `json:"args"`
	}
	must(t, invokeJSON(t, inst, "env", struct{}{}, &out))
	if len(out.Env) != 0 || len(out.Args) != 0 {
		t.Fatalf("guest sees env %v args %v; want none", out.Env, out.Args)
	}
	granted := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Env: map[string]string{"LANG": "C"}})
	must(t, invokeJSON(t, granted, "env", struct{}{}, &out))
	if len(out.Env) != 1 || out.Env[0] != "LANG=C" {
		t.Fatalf("granted env: %v", out.Env)
	}
}

// Host calls from the Go guest through the pdk: results, typed errors,
// malformed params, and tokens that are not the instance's.
func TestHostCall(t *testing.T) {
	g := newTestGate(map[string]testGrant{"tok-a": {dir: t.TempDir(), actions: "read"}})
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Gate: g, Caller: caller("tok-a")})
	type res struct {
		Result   json.RawMessage `json:"result"`
		Code     string          `json:"code"`
		IsDenied bool            `json:"is_denied"`
	}
	host := func(method, params, token string) res {
		t.Helper()
		var r res
		must(t, invokeJSON(t, inst, "host", map[string]any{"method": method, "params": json.RawMessage(params), "token": token}, &r))
		return r
	}
	if r := host("test.echo", `{"x":[1,2]}`, ""); string(r.Result) != `{"x":[1,2]}` {
		t.Fatalf("test.echo: %+v", r)
	}
	if r := host("no.such", `{}`, ""); r.Code != "unknown_method" {
		t.Fatalf("unknown method: %+v", r)
	}
	if r := host("fs.stat", `{"path":"/etc/passwd"}`, ""); r.Code != "denied" || !r.IsDenied {
		t.Fatalf("stat outside grants: %+v", r)
	}
	// Attack: a token of another instance or plugin.
	if r := host("fs.stat", `{"path":"/etc/passwd"}`, "tok-of-another-instance"); r.Code != "token_invalid" {
		t.Fatalf("foreign token: %+v", r)
	}
	// A large result comes back through warden.result.
	big := `{"s":"` + strings.Repeat("b", 10000) + `"}`
	if r := host("test.echo", big, ""); string(r.Result) != big {
		t.Fatalf("large result lost: %d bytes", len(r.Result))
	}
}

// rawcall drives warden.call with hand-made pointers. Offsets at or above
// 1<<31 are relative to a 256-byte guest buffer holding Method at 0 and
// Params at 128.
const rel = 1 << 31

func TestHostCallABIAttacks(t *testing.T) {
	g := newTestGate(nil)
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Gate: g, Caller: caller()})
	type out struct {
		N        uint32 `json:"n"`
		M        uint32 `json:"m"`
		Envelope string `json:"envelope"`
	}
	method := "test.echo"
	for _, tc := range []struct {
		name string
		args map[string]any
		code string
	}{
		{"method out of bounds", map[string]any{"MethodPtr": 0xFFFFFF00, "MethodLen": 64, "ParamsPtr": rel + 128, "ParamsLen": 2, "Params": "{}"}, "invalid_params"},
		{"params length wraps", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": len(method), "ParamsPtr": rel + 128, "ParamsLen": 0xFFFFFFF0}, "too_large"},
		{"params beyond memory", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": len(method), "ParamsPtr": 0x7FFFFFF0, "ParamsLen": 1000}, "invalid_params"},
		{"token out of bounds", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": len(method), "ParamsPtr": rel + 128, "ParamsLen": 2, "Params": "{}", "TokenPtr": 0xFFFFFFFF, "TokenLen": 10}, "invalid_params"},
		{"huge method", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": 1 << 20, "ParamsPtr": rel + 128, "ParamsLen": 2, "Params": "{}"}, "invalid_params"},
		{"output overlaps params", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": len(method), "ParamsPtr": rel + 128, "ParamsLen": 2, "Params": "{}", "OutPtr": rel + 120, "OutCap": 100}, "invalid_params"},
		{"output out of bounds", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": len(method), "ParamsPtr": rel + 128, "ParamsLen": 2, "Params": "{}", "OutPtr": 0xFFFFFFF0, "OutCap": 4096}, "invalid_params"},
		{"malformed JSON", map[string]any{"Method": method, "MethodPtr": rel, "MethodLen": len(method), "ParamsPtr": rel + 128, "ParamsLen": 5, "Params": `{"a":`}, "invalid_params"},
		{"not UTF-8 method", map[string]any{"Method": "\xff\xfe", "MethodPtr": rel, "MethodLen": 2, "ParamsPtr": rel + 128, "ParamsLen": 2, "Params": "{}"}, "invalid_params"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o out
			must(t, invokeJSON(t, inst, "rawcall", tc.args, &o))
			var env struct {
				Error *hostapi.Error `json:"error"`
			}
			if err := json.Unmarshal([]byte(o.Envelope), &env); err != nil || env.Error == nil || string(env.Error.Code) != tc.code {
				t.Fatalf("envelope %q (n=%d m=%d), want error %s", o.Envelope, o.N, o.M, tc.code)
			}
		})
	}
	if !inst.Healthy() {
		t.Fatal("ABI abuse must not break the instance or the host")
	}
	// The host keeps serving the same instance.
	res, err := inst.Invoke(context.Background(), "echo", []byte(`1`))
	if err != nil || string(res) != "1" {
		t.Fatalf("after attacks: %s %v", res, err)
	}
}

func TestHostCallABIAttacksWAT(t *testing.T) {
	inst := instantiate(t, compile(t, watGuest(t)), InstanceConfig{Gate: newTestGate(nil)})
	for _, tc := range []struct{ tool, input, want string }{
		{"h", `test.echo {"k":"v"}`, `{"result":{"k":"v"}}`},
		{"h", `test.echo {"k":`, `"code":"invalid_params"`},
		{"h", `fs.stat {"path":"/etc/passwd"}`, `"code":"denied"`},
		{"o", ``, `"code":"invalid_params"`},
		{"O", ``, `"code":"invalid_params"`},
		{"H", ``, `"code":"too_large"`},
	} {
		out, err := inst.Invoke(context.Background(), tc.tool, []byte(tc.input))
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Fatalf("%s %q: %s %v; want %s", tc.tool, tc.input, out, err, tc.want)
		}
	}
}

func TestLogCapture(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	logf := func(stream, line string) {
		mu.Lock()
		lines = append(lines, stream+": "+line)
		mu.Unlock()
	}
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Log: logf, Limits: Limits{MaxLogBytes: 8 << 10}})
	// Attack: an output flood of 2 × 1000 KiB is cut at 8 KiB, and the call
	// still completes.
	must(t, invokeJSON(t, inst, "stdout_flood", map[string]int{"n": 1000}, nil))
	mu.Lock()
	defer mu.Unlock()
	total := 0
	for _, l := range lines[:len(lines)-1] {
		total += len(l)
	}
	if total > 9<<10 || len(lines) < 4 {
		t.Fatalf("captured %d bytes in %d lines; want about 8 KiB", total, len(lines))
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "dropped") {
		t.Fatalf("no note of dropped output: %q", last)
	}
	if !strings.HasPrefix(lines[0], "stdout: xxx") || !strings.HasPrefix(lines[1], "stderr: xxx") {
		t.Fatalf("streams: %q %q", lines[0][:12], lines[1][:12])
	}
}

// The deadline is enforced even when the guest sleeps in a host function.
func TestTimeoutDuringHostCall(t *testing.T) {
	inst := instantiate(t, compile(t, goGuest(t)), InstanceConfig{Limits: Limits{Timeout: 200 * time.Millisecond}})
	var r map[string]any
	start := time.Now()
	err := invokeJSON(t, inst, "host", map[string]any{"method": "test.slow", "params": json.RawMessage(`{}`)}, &r)
	if time.Since(start) > 5*time.Second {
		t.Fatal("deadline not enforced")
	}
	// The gate returned after the deadline; the guest either got a timeout
	// envelope and returned, or was stopped on its way out.
	if err == nil && r["code"] != "timeout" {
		t.Fatalf("got %v", r)
	}
}
