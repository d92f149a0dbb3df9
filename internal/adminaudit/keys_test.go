package adminaudit

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/store"
)

type memLedger struct{ events []*audit.Event }

func (m *memLedger) Append(_ context.Context, e *audit.Event) (uint64, error) {
	m.events = append(m.events, e)
	return uint64(len(m.events) - 1), nil
}

func TestReconcileKeysLogsCreateAndRotateOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ring, err := hostkey.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := &memLedger{}
	actions := func() []string {
		var out []string
		for _, e := range l.events {
			out = append(out, e.Action+" "+e.Resource)
		}
		return out
	}

	if err := ReconcileKeys(ctx, ring.Keys(), st, l); err != nil {
		t.Fatal(err)
	}
	first := ring.Signer().KeyID()
	if got := actions(); len(got) != 1 || got[0] != "key.create key:"+first {
		t.Fatalf("after first use: %v", got)
	}
	if err := ReconcileKeys(ctx, ring.Keys(), st, l); err != nil || len(l.events) != 1 {
		t.Fatalf("a second reconcile logged again: %v %v", err, actions())
	}
	if _, err := ring.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := ReconcileKeys(ctx, ring.Keys(), st, l); err != nil {
		t.Fatal(err)
	}
	second := ring.Signer().KeyID()
	got := actions()
	if len(got) != 3 || got[1] != "key.rotate key:"+first || got[2] != "key.create key:"+second {
		t.Fatalf("after rotation: %v", got)
	}
}
