package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
)

// The budget attacks (issue 10, findings 7 and 8) run the real test guest
// through Host.Invoke: a loop of 60,000 host calls, 100 MiB of log.write,
// 1 GiB written through the WASI filesystem, an 8 TiB sparse truncate and a
// byte written 8 TiB past the end,
// and parallel invocations that try to multiply the plugin's budget. Each
// must end at its bound with quota_exceeded, leave exactly one summary
// event per bound in the ledger, and leave the host serving.

var budgetTools = []string{"echo", "hostloop", "logflood", "bigwrite", "stdout_flood"}

type budgetEnv struct {
	h       *Host
	granted string
	logs    *lineLog
}

func newBudgetEnv(t *testing.T, cfg Config) *budgetEnv {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	e := &budgetEnv{granted: filepath.Join(base, "granted"), logs: &lineLog{}}
	must(t, os.MkdirAll(e.granted, 0o755))
	must(t, os.WriteFile(filepath.Join(e.granted, "ok.txt"), []byte("fine"), 0o644))
	cfg.Log = e.logs.add
	e.h = newTestHost(t, cfg)
	return e
}

// install installs the test guest as plugin name with limits, granted
// read, write and list on the granted directory.
func (e *budgetEnv) install(t *testing.T, name string, limits map[string]any) {
	t.Helper()
	tools := make([]map[string]any, len(budgetTools))
	for i, tl := range budgetTools {
		tools[i] = map[string]any{"name": tl, "description": "test tool " + tl, "input_schema": map[string]any{"type": "object"}}
	}
	man := map[string]any{
		"name": name, "version": "1.0.0", "description": "A guest that floods its budget.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher":   map[string]any{"name": "tests", "key_id": "ed25519:0123456789abcdef"},
		"permissions": []map[string]any{{"resource": "filesystem:" + e.granted, "actions": []string{"read", "write", "list"}, "reason": "test"}},
		"tools":       tools, "limits": limits,
	}
	dir := pluginDir(t, guestWasm(t, attackSrc), man)
	_, err := e.h.Install(context.Background(), dir, InstallOptions{Grants: []Grant{
		{Resource: "filesystem:" + e.granted, Actions: []string{"read", "write", "list"}},
	}})
	must(t, err)
}

func (e *budgetEnv) invoke(t *testing.T, plugin, tool string, in any) (map[string]any, []*audit.Event) {
	t.Helper()
	b, err := json.Marshal(in)
	must(t, err)
	res, err := e.h.Invoke(context.Background(), plugin, tool, b)
	if err != nil {
		t.Fatalf("%s.%s: %v", plugin, tool, err)
	}
	var out map[string]any
	if len(res.Output) > 0 && res.Output[0] == '{' {
		must(t, json.Unmarshal(res.Output, &out))
	}
	return out, eventsOf(t, e.h, res.Events)
}

// countActions counts evs by action.
func countActions(evs []*audit.Event) map[string]int {
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.Action]++
	}
	return n
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func TestAttackHostCallFloodEndsAtTheEventBudget(t *testing.T) {
	e := newBudgetEnv(t, Config{})
	const bound = 2000
	e.install(t, "flood", map[string]any{"max_events": bound, "timeout_ms": 120000})
	stat := map[string]any{"method": "fs.stat", "params": map[string]string{"path": filepath.Join(e.granted, "ok.txt")}, "n": 60000}
	out, evs := e.invoke(t, "flood", "hostloop", stat)
	if num(out["ok"]) != bound || num(out[string(hostapi.CodeQuota)]) != 60000-bound {
		t.Fatalf("the guest saw %v; want %d calls through and the rest quota_exceeded", out, bound)
	}
	n := countActions(evs)
	if len(evs) != bound+2 || n["fs.stat"] != bound || n[hostapi.ActionBudgetEvents] != 1 || n[ActionInvoke] != 1 {
		t.Fatalf("the invocation left %d events (%v); want %d fs.stat, one budget.events and tool.invoke", len(evs), n, bound)
	}
	for _, ev := range evs {
		switch ev.Action {
		case hostapi.ActionBudgetEvents:
			if ev.Error == nil || ev.Error.Code != string(hostapi.CodeQuota) || ev.Decision.By != "budget" ||
				ev.Detail["scope"] != "invocation" || ev.Detail["limit"] != fmt.Sprint(bound) || ev.Actor.Plugin != "flood" {
				t.Fatalf("summary event %+v", ev)
			}
		case ActionInvoke:
			if ev.Detail["budget_hit"] != hostapi.ActionBudgetEvents || ev.Detail["budget_refused"] != fmt.Sprint(60000-bound) {
				t.Fatalf("tool.invoke %+v", ev)
			}
		}
	}
	// The next invocation has its own budget: the host still serves.
	stat["n"] = 10
	if out, _ := e.invoke(t, "flood", "hostloop", stat); num(out["ok"]) != 10 {
		t.Fatalf("after the flood: %v", out)
	}
}

func TestAttackLogFloodIsBounded(t *testing.T) {
	e := newBudgetEnv(t, Config{})
	const bound = 4 << 20
	e.install(t, "chatty", map[string]any{"max_log_bytes": bound, "timeout_ms": 120000})
	// 100 MiB of log.write in one call, in lines of the largest size a
	// line may have (8 KiB).
	const lines, size = 12800, 8192
	out, evs := e.invoke(t, "chatty", "logflood", map[string]int{"n": lines, "size": size})
	if through := int64(bound / size); num(out["ok"]) != through || num(out[string(hostapi.CodeQuota)]) != lines-through {
		t.Fatalf("the guest saw %v; want %d lines through and the rest quota_exceeded", out, through)
	}
	n := countActions(evs)
	if len(evs) != bound/size+2 || n["log.write"] != bound/size || n[hostapi.ActionBudgetLog] != 1 {
		t.Fatalf("the invocation left %d events (%v); want %d log.write, one budget.log and tool.invoke", len(evs), n, bound/size)
	}
	total := 0
	for _, l := range e.logs.take() {
		total += len(strings.TrimPrefix(l, "chatty log info: "))
	}
	if total > bound {
		t.Fatalf("%d bytes reached the host's log; the budget is %d", total, bound)
	}

	// Captured stdout and stderr draw on the same budget.
	e.install(t, "quiet", map[string]any{"max_log_bytes": 8192})
	_, evs = e.invoke(t, "quiet", "stdout_flood", map[string]int{"n": 100})
	total = 0
	note := false
	for _, l := range e.logs.take() {
		if strings.Contains(l, "[warden: ") {
			note = note || strings.Contains(l, "the log budget is spent")
			continue
		}
		total += len(strings.TrimPrefix(strings.TrimPrefix(l, "quiet stdout "), "quiet stderr "))
	}
	if total > 8192 || !note {
		t.Fatalf("%d bytes of output delivered (budget 8192), note of the drop %v", total, note)
	}
	if n := countActions(evs); n[hostapi.ActionBudgetLog] != 1 {
		t.Fatalf("stdout flood left %v; want one budget.log", n)
	}
}

func TestAttackWriteFloodEndsAtTheWriteBudget(t *testing.T) {
	e := newBudgetEnv(t, Config{})
	const bound = 4 << 20
	e.install(t, "writer", map[string]any{"max_write_bytes": bound, "timeout_ms": 120000})
	big := filepath.Join(e.granted, "big.bin")
	// 1 GiB in 1 MiB writes, then an 8 TiB sparse truncate.
	out, evs := e.invoke(t, "writer", "bigwrite", map[string]any{"path": big, "size": 1 << 30, "chunk": 1 << 20, "grow": 8 << 40})
	if num(out["written"]) != bound || !strings.HasSuffix(fmt.Sprint(out["err"]), "I/O error") ||
		!strings.HasSuffix(fmt.Sprint(out["truncate_err"]), "I/O error") {
		t.Fatalf("the guest saw %v; want %d bytes written, then EIO for the write and the truncate", out, bound)
	}
	if fi, err := os.Stat(big); err != nil || fi.Size() != bound {
		t.Fatalf("big.bin: %v %v", fi, err)
	}
	n := countActions(evs)
	if n[hostapi.ActionBudgetWrite] != 1 || n[ActionInvoke] != 1 {
		t.Fatalf("the invocation left %v; want one budget.write", n)
	}
	for _, ev := range evs {
		if ev.Action == hostapi.ActionBudgetWrite && (ev.Resource != "filesystem:"+big || ev.Bytes != bound || ev.Detail["limit"] != fmt.Sprint(bound)) {
			t.Fatalf("summary event %+v", ev)
		}
		if ev.Action == hostapi.ActionClose && ev.Detail["written"] != fmt.Sprint(bound) {
			t.Fatalf("close event %+v", ev)
		}
	}
	// One os.WriteFile of 8 MiB: refused whole, nothing written.
	whole := filepath.Join(e.granted, "whole.bin")
	out, evs = e.invoke(t, "writer", "bigwrite", map[string]any{"path": whole, "size": 8 << 20})
	if !strings.HasSuffix(fmt.Sprint(out["err"]), "I/O error") {
		t.Fatalf("os.WriteFile past the budget: %v", out)
	}
	if fi, err := os.Stat(whole); err != nil || fi.Size() != 0 {
		t.Fatalf("whole.bin: %v %v", fi, err)
	}
	if n := countActions(evs); n[hostapi.ActionBudgetWrite] != 1 {
		t.Fatalf("the invocation left %v; want one budget.write", n)
	}
	// One byte written 8 TiB past the end: the hole counts.
	holes := filepath.Join(e.granted, "holes.bin")
	out, evs = e.invoke(t, "writer", "bigwrite", map[string]any{"path": holes, "size": 1, "chunk": 1, "seek": 8 << 40})
	if num(out["written"]) != 0 || !strings.HasSuffix(fmt.Sprint(out["err"]), "I/O error") {
		t.Fatalf("a write 8 TiB past the end: %v", out)
	}
	if fi, err := os.Stat(holes); err != nil || fi.Size() != 0 {
		t.Fatalf("holes.bin: %v %v", fi, err)
	}
	if n := countActions(evs); n[hostapi.ActionBudgetWrite] != 1 {
		t.Fatalf("the invocation left %v; want one budget.write", n)
	}
	// A write within the budget goes through.
	out, _ = e.invoke(t, "writer", "bigwrite", map[string]any{"path": whole, "size": 1 << 20, "chunk": 1 << 16})
	if num(out["written"]) != 1<<20 || out["err"] != nil {
		t.Fatalf("a write within the budget: %v", out)
	}
}

// Parallel invocations draw on one plugin budget (the policy's
// plugin_budget): four calls that could each make 2000 host calls make
// 3000 together.
func TestAttackParallelInvocationsShareThePluginBudget(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	must(t, os.WriteFile(pol, []byte("version: 1\nplugin_budget: {window: 24h, events: 3000}\n"), 0o600))
	e := newBudgetEnv(t, Config{PolicyPath: pol, PoolSize: 4})
	e.install(t, "many", map[string]any{"max_events": 2000, "timeout_ms": 120000})
	stat := map[string]any{"method": "fs.stat", "params": map[string]string{"path": filepath.Join(e.granted, "ok.txt")}, "n": 2000}
	var mu sync.Mutex
	ok, summaries := int64(0), 0
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, evs := e.invoke(t, "many", "hostloop", stat)
			mu.Lock()
			defer mu.Unlock()
			ok += num(out["ok"])
			for _, ev := range evs {
				if ev.Action == hostapi.ActionBudgetEvents {
					summaries++
					if ev.Detail["scope"] != "plugin" || ev.Detail["window"] != "24h0m0s" {
						t.Errorf("summary %+v", ev)
					}
				}
			}
		}()
	}
	wg.Wait()
	// The bucket refills at 3000 a day while the test runs: a few calls at
	// most, never the 8000 the four budgets would allow.
	if ok < 3000 || ok >= 3125 {
		t.Fatalf("%d host calls went through across 4 parallel invocations; the plugin's budget is 3000", ok)
	}
	if summaries == 0 {
		t.Fatal("no budget.events summary")
	}
}
