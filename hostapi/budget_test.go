package hostapi

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
)

// budgetEvents returns the events of the test instance that are budget
// summaries, and how many events the instance has in all.
func (e *env) budgetEvents() (summaries []*audit.Event, total int) {
	for _, ev := range e.events() {
		if ev.Instance != testInstance {
			continue
		}
		total++
		if strings.HasPrefix(ev.Action, "budget.") {
			summaries = append(summaries, ev)
		}
	}
	return summaries, total
}

// A loop of host calls past the event budget ends in quota_exceeded; the
// ledger holds the bound and one summary, however long the loop goes on.
func TestBudgetBoundsEventsOfOneInvocation(t *testing.T) {
	e := newEnv(t)
	const bound = 40
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{Events: bound}, nil)
	p := filepath.Join(e.data, "a.csv")
	ok, refused := 0, 0
	for range 500 {
		_, err := e.call("fs.stat", "", map[string]any{"path": p})
		if err == nil {
			ok++
			continue
		}
		wantCode(t, err, CodeQuota)
		refused++
	}
	if ok != bound || refused != 500-bound {
		t.Fatalf("%d calls allowed and %d refused; want %d and %d", ok, refused, bound, 500-bound)
	}
	// Every kind of call is refused now, an unknown method and a file open
	// included: each would need an event.
	_, err := e.call("no.such", "", map[string]any{})
	wantCode(t, err, CodeQuota)
	_, err = e.gate.OpenFile(context.Background(), e.caller, "", p, os.O_RDONLY, 0)
	wantCode(t, err, CodeQuota)

	sums, total := e.budgetEvents()
	if len(sums) != 1 || total != bound+1 {
		t.Fatalf("%d summaries, %d events of the invocation; want 1 and %d", len(sums), total, bound+1)
	}
	s := sums[0]
	if s.Action != ActionBudgetEvents || s.Outcome != audit.OutcomeError || s.Error.Code != string(CodeQuota) ||
		s.Decision.Effect != audit.EffectDeny || s.Decision.By != "budget" || s.Detail["scope"] != "invocation" || s.Detail["limit"] != "40" {
		t.Fatalf("summary event %+v", s)
	}
	u := e.caller.Budget.Usage()
	if u.Events != bound || u.Refused != 500-bound+2 || len(u.Hit) != 1 || u.Hit[0] != ActionBudgetEvents {
		t.Fatalf("usage %+v", u)
	}

	// The next invocation has a budget of its own.
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{Events: bound}, nil)
	must(t, err2(e.call("fs.stat", "", map[string]any{"path": p})))
}

// An effect reserves its intent and its outcome, so the bound holds for
// writes too, and the intent of an admitted call is never left without room
// for its outcome.
func TestBudgetReservesIntentAndOutcome(t *testing.T) {
	e := newEnv(t)
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{Events: 5}, nil)
	p := filepath.Join(e.data, "w.txt")
	for i := range 2 {
		must(t, err2(e.call("fs.write", "", map[string]any{"path": p, "data": base64.StdEncoding.EncodeToString([]byte{byte('a' + i)})})))
	}
	_, err := e.call("fs.write", "", map[string]any{"path": p, "data": "eA=="})
	wantCode(t, err, CodeQuota)
	if b, _ := os.ReadFile(p); string(b) != "b" {
		t.Fatalf("file holds %q after the refused write", b)
	}
	// Spent is spent: a call that would fit the one event left is refused
	// too, so the invocation's fate does not hang on the order of its calls.
	_, err = e.call("fs.stat", "", map[string]any{"path": p})
	wantCode(t, err, CodeQuota)
	sums, total := e.budgetEvents()
	if len(sums) != 1 || total != 5 {
		t.Fatalf("%d summaries, %d events; want 1 and 5", len(sums), total)
	}
}

// Writes draw on the byte budget whichever door they take: fs.write, a file
// opened through the capability filesystem, and the growth of a file by
// Truncate. One summary records the hit.
func TestBudgetBoundsWrittenBytes(t *testing.T) {
	e := newEnv(t)
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{WriteBytes: 1000}, nil)
	ctx := context.Background()
	p := filepath.Join(e.data, "big.bin")
	chunk := base64.StdEncoding.EncodeToString(make([]byte, 300))
	for range 3 {
		must(t, err2(e.call("fs.write", "", map[string]any{"path": p, "data": chunk, "append": true})))
	}
	_, err := e.call("fs.write", "", map[string]any{"path": p, "data": chunk, "append": true})
	wantCode(t, err, CodeQuota)

	f, err := e.gate.OpenFile(ctx, e.caller, "", filepath.Join(e.data, "f.bin"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	must(t, err)
	// The write that does not fit is refused whole: no partial data.
	if n, err := f.Write(make([]byte, 200)); n != 0 {
		t.Fatalf("Write past the budget wrote %d bytes (%v)", n, err)
	} else {
		wantCode(t, err, CodeQuota)
	}
	// Once hit, every later write is refused, even one that would fit; so is
	// growth by Truncate. Shrinking costs nothing.
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("a write after the budget was spent went through")
	}
	if err := f.Truncate(1 << 40); err == nil {
		t.Fatal("an 1 TiB sparse truncate went through past the budget")
	}
	must(t, f.Truncate(0))
	must(t, f.Close())
	if fi, _ := os.Stat(filepath.Join(e.data, "f.bin")); fi.Size() != 0 {
		t.Fatalf("f.bin is %d bytes", fi.Size())
	}
	sums, _ := e.budgetEvents()
	if len(sums) != 1 || sums[0].Action != ActionBudgetWrite || sums[0].Resource != "filesystem:"+p || sums[0].Bytes != 900 {
		t.Fatalf("summaries %+v", sums)
	}
	// The file's close event is written: its open's intent needs its outcome.
	if ev := e.last(ActionClose); ev.Resource != "filesystem:"+filepath.Join(e.data, "f.bin") {
		t.Fatalf("close event %+v", ev)
	}
}

func TestBudgetTruncateGrowthCounts(t *testing.T) {
	e := newEnv(t)
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{WriteBytes: 1 << 20}, nil)
	f, err := e.gate.OpenFile(context.Background(), e.caller, "", filepath.Join(e.data, "sparse.bin"), os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	defer f.Close()
	must(t, f.Truncate(512<<10)) // half the budget
	must(t, f.Truncate(0))       // shrinking gives nothing back
	must(t, f.Truncate(512<<10)) // growth again: the other half
	if err := f.Truncate(512<<10 + 1); err == nil {
		t.Fatal("growth past the budget went through")
	} else {
		wantCode(t, err, CodeQuota)
	}
}

// A write past the end leaves a hole the size of the gap: it is charged like
// the growth of a truncate, unless the file appends (the kernel writes at
// its end whatever the offset).
func TestBudgetSeekPastTheEndCountsTheHole(t *testing.T) {
	e := newEnv(t)
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{WriteBytes: 1 << 20}, nil)
	ctx := context.Background()
	p := filepath.Join(e.data, "holes.bin")
	f, err := e.gate.OpenFile(ctx, e.caller, "", p, os.O_WRONLY|os.O_CREATE, 0o644)
	must(t, err)
	_, err = f.Seek(8<<40, 0)
	must(t, err)
	if n, err := f.Write([]byte("x")); n != 0 || err == nil {
		t.Fatalf("one byte at 8 TiB: wrote %d (%v)", n, err)
	} else {
		wantCode(t, err, CodeQuota)
	}
	must(t, f.Close())
	if fi, _ := os.Stat(p); fi.Size() != 0 {
		t.Fatalf("holes.bin is %d bytes", fi.Size())
	}

	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{WriteBytes: 1 << 20}, nil)
	f, err = e.gate.OpenFile(ctx, e.caller, "", p, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.Seek(8<<40, 0)
	must(t, err)
	if _, err := f.Write([]byte("appended")); err != nil {
		t.Fatalf("an append after a seek past the end: %v", err)
	}
	must(t, f.Close())
	if u := e.caller.Budget.Usage(); u.WriteBytes != 8 {
		t.Fatalf("the append was charged %d bytes, want 8", u.WriteBytes)
	}
}

func TestBudgetBoundsLogBytes(t *testing.T) {
	e := newEnv(t)
	e.caller.Budget = e.gate.NewBudget(e.caller, Quota{LogBytes: 1000}, nil)
	msg := strings.Repeat("x", 400)
	for range 2 {
		must(t, err2(e.call("log.write", "", map[string]any{"level": "info", "message": msg})))
	}
	for range 50 {
		_, err := e.call("log.write", "", map[string]any{"level": "info", "message": msg})
		wantCode(t, err, CodeQuota)
	}
	// Other calls go on.
	must(t, err2(e.call("fs.stat", "", map[string]any{"path": e.data})))
	if e.caller.Budget.SpendLog(1) {
		t.Fatal("captured output was accepted after the log budget was spent")
	}
	sums, total := e.budgetEvents()
	if len(sums) != 1 || sums[0].Action != ActionBudgetLog || total != 4 {
		t.Fatalf("%d summaries (%+v), %d events; want 1 budget.log and 4 events", len(sums), sums, total)
	}
}

// Many invocations of one plugin at once share the plugin's Meter: running
// them in parallel does not multiply what the plugin may spend, and the
// bucket refills with time.
func TestPluginMeterBoundsParallelInvocations(t *testing.T) {
	// The meter runs on the gate's clock, stopped here (the tokens last an
	// hour from now).
	now := time.Now()
	var mu sync.Mutex
	e := newEnv(t, func(_ *env, c *Config) { c.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return now } })
	m := NewMeter(PluginQuota{Window: time.Minute, Quota: Quota{Events: 100}})
	p := filepath.Join(e.data, "a.csv")
	params := []byte(`{"path":"` + p + `"}`)
	var wg sync.WaitGroup
	var okMu sync.Mutex
	ok, hit := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.caller
			c.Budget = e.gate.NewBudget(c, Quota{Events: 1000}, m)
			refused := false
			for range 50 {
				_, err := e.gate.Call(context.Background(), c, "fs.stat", "", params)
				okMu.Lock()
				if err == nil {
					ok++
				} else if CodeOf(err) != CodeQuota {
					t.Error(err)
				} else if !refused {
					refused = true
					hit++
				}
				okMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 100 {
		t.Fatalf("%d calls allowed across 8 invocations; the plugin's budget is 100", ok)
	}
	sums, _ := e.budgetEvents()
	if len(sums) != hit || hit < 6 {
		t.Fatalf("%d summaries, want one per invocation refused (%d)", len(sums), hit)
	}
	for _, s := range sums {
		if s.Detail["scope"] != "plugin" || s.Detail["limit"] != "100" || s.Detail["window"] != "1m0s" {
			t.Fatalf("summary %+v", s)
		}
	}
	// Half a window later, half the budget is back.
	mu.Lock()
	now = now.Add(30 * time.Second)
	mu.Unlock()
	c := e.caller
	c.Budget = e.gate.NewBudget(c, Quota{}, m)
	n := 0
	for range 100 {
		if _, err := e.gate.Call(context.Background(), c, "fs.stat", "", params); err == nil {
			n++
		}
	}
	if n != 50 {
		t.Fatalf("%d calls allowed after half a window; want 50", n)
	}
}

// BenchmarkGateCallBudget is what the budget adds to a host call: the same
// calls as BenchmarkGateCall's null-ledger ones, without a budget (as an
// embedding program calls the gate) and with an invocation's budget and its
// plugin's Meter (as the host's sandbox calls it), in one run so that a
// loaded machine shifts both alike.
func BenchmarkGateCallBudget(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	cfg := e.gate.cfg
	cfg.Audit = nullAuditor{}
	ng, err := NewGate(cfg)
	must(b, err)
	statParams := []byte(`{"path":"` + filepath.Join(e.data, "a.csv") + `"}`)
	logParams := []byte(`{"level":"debug","message":"tick"}`)
	const huge = 1 << 60
	budgeted := e.caller
	budgeted.Budget = ng.NewBudget(budgeted, Quota{WriteBytes: huge, Events: huge, LogBytes: huge},
		NewMeter(PluginQuota{Window: time.Minute, Quota: Quota{WriteBytes: huge, Events: huge, LogBytes: huge}}))
	for _, bc := range []struct {
		name   string
		caller Caller
		method string
		params []byte
	}{
		{"log.write/null-ledger", e.caller, "log.write", logParams},
		{"log.write/null-ledger-budget", budgeted, "log.write", logParams},
		{"fs.stat/null-ledger", e.caller, "fs.stat", statParams},
		{"fs.stat/null-ledger-budget", budgeted, "fs.stat", statParams},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ng.Call(ctx, bc.caller, bc.method, "", bc.params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The draw alone; the gate passes the time it read for the call anyway.
	b.Run("charge-only", func(b *testing.B) {
		bu := budgeted.Budget
		now := time.Now()
		for b.Loop() {
			if _, ok := bu.take(kindEvents, 1, now); !ok {
				b.Fatal("refused")
			}
		}
	})
}
