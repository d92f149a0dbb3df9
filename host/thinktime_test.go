package host

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostapi"
)

// TestThinkTimeIsNotThePlugins (issue 13): a person who takes longer than
// the plugin's whole timeout (2 s) to answer a confirmation and says yes
// gets the call done — the plugin's deadline stops while the person is
// asked — and the ledger records the answer and how long it took. Before,
// the yes arrived after the deadline: a timeout, or a recorded deny.
func TestThinkTimeIsNotThePlugins(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	must(t, os.WriteFile(pol, []byte("version: 1\nrules:\n  - id: ask-reads\n    effect: ask\n    resource: filesystem:/**\n    actions: [read]\n"), 0o600))
	h, data := guestHost(t, Config{PolicyPath: pol})
	userGrant(t, h.st, "g", "filesystem:"+data, "read")
	must(t, h.refresh(context.Background()))
	const think = 5 * time.Second // more than the plugin's 2 s timeout
	slowYes := hostapi.ConfirmFunc(func(ctx context.Context, _ hostapi.ConfirmRequest) (bool, error) {
		select {
		case <-time.After(think):
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	res, err := h.Invoke(context.Background(), "g", "readfile", mustJSON(t, map[string]string{"path": filepath.Join(data, "f.txt")}), WithConfirmer(slowYes))
	if err != nil {
		t.Fatalf("a yes after %s: %v", think, err)
	}
	if string(res.Output) != `{"data":"granted data"}` {
		t.Fatalf("output %s", res.Output)
	}
	evs := eventsOf(t, h, res.Events)
	ev := lastOf(evs, hostapi.ActionOpen)
	if ev == nil || ev.Decision.Effect != audit.EffectAsk || ev.Decision.Answer != audit.EffectAllow {
		t.Fatalf("the open's event does not record the person's yes:%s", describe(evs))
	}
	if ms, _ := strconv.Atoi(ev.Detail["confirm_wait_ms"]); time.Duration(ms)*time.Millisecond < think {
		t.Fatalf("confirm_wait_ms %q, want at least %s:%s", ev.Detail["confirm_wait_ms"], think, describe(evs))
	}
	if inv := wantInvokeLast(t, evs); inv.Outcome != audit.OutcomeOK {
		t.Fatalf("tool.invoke %+v", inv)
	}
}

// TestConfirmTimeoutIsThePolicys: the question has its own timeout, the
// policy's confirm_timeout; nobody answering is a recorded deny ("no answer
// within 1s") that the plugin handles, not a timeout of the whole call.
func TestConfirmTimeoutIsThePolicys(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	must(t, os.WriteFile(pol, []byte("version: 1\nconfirm_timeout: 1s\nrules:\n  - id: ask-reads\n    effect: ask\n    resource: filesystem:/**\n    actions: [read]\n"), 0o600))
	h, data := guestHost(t, Config{PolicyPath: pol})
	userGrant(t, h.st, "g", "filesystem:"+data, "read")
	must(t, h.refresh(context.Background()))
	nobody := hostapi.ConfirmFunc(func(ctx context.Context, _ hostapi.ConfirmRequest) (bool, error) {
		<-ctx.Done()
		return false, ctx.Err()
	})
	res, err := h.Invoke(context.Background(), "g", "readfile", mustJSON(t, map[string]string{"path": filepath.Join(data, "f.txt")}), WithConfirmer(nobody))
	if err != nil {
		t.Fatalf("the call failed instead of the plugin seeing a refusal: %v", err)
	}
	if string(res.Output) != `{"errno":"permission"}` {
		t.Fatalf("output %s", res.Output)
	}
	evs := eventsOf(t, h, res.Events)
	ev := lastOf(evs, hostapi.ActionOpen)
	if ev == nil || ev.Decision.Answer != audit.EffectDeny || ev.Detail["confirm"] != "no answer within 1s" || ev.Error == nil || ev.Error.Code != string(hostapi.CodeDeclined) {
		t.Fatalf("the open's event does not record that nobody answered:%s", describe(evs))
	}
}
