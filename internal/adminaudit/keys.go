package adminaudit

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/store"
)

// ReconcileKeys logs host key creation and rotation. The keyring creates its
// first key on first use, wherever that happens, so instead of logging at
// every place that might open it, whoever holds the ledger compares the ring
// with the keys the store has seen: a key the store does not know is logged as
// key.create, a key retired since is logged as key.rotate, and the store is
// updated so that each fact is logged once.
func ReconcileKeys(ctx context.Context, ring []hostkey.KeyInfo, st *store.Store, l Appender) error {
	byID, err := knownKeys(ctx, st)
	if err != nil {
		return err
	}
	for _, k := range ring {
		action := keyAction(k, byID)
		if action == "" {
			continue
		}
		ev := &audit.Event{
			Action:   action,
			Actor:    audit.Actor{Plugin: "warden"},
			Resource: "key:" + k.ID,
			Outcome:  audit.OutcomeOK,
			Detail:   map[string]string{"kind": string(store.KeyHost), "created": k.Created.UTC().Format(time.RFC3339)},
		}
		if !k.Retired.IsZero() {
			ev.Detail["retired"] = k.Retired.UTC().Format(time.RFC3339)
		}
		// Log first, then record: a crash in between logs the fact twice,
		// never not at all.
		if _, err := l.Append(ctx, ev); err != nil {
			return fmt.Errorf("reconcile host key %s: %w", k.ID, err)
		}
		if err := st.PutKey(ctx, store.Key{ID: k.ID, Kind: store.KeyHost, PublicKey: k.Public, Created: k.Created, Retired: k.Retired}); err != nil {
			return fmt.Errorf("reconcile host key %s: %w", k.ID, err)
		}
	}
	return nil
}

// KeysPending reports whether ReconcileKeys has anything to log, without
// touching the ledger (so a caller can avoid opening it for nothing).
func KeysPending(ctx context.Context, ring []hostkey.KeyInfo, st *store.Store) bool {
	byID, err := knownKeys(ctx, st)
	if err != nil {
		return true
	}
	for _, k := range ring {
		if keyAction(k, byID) != "" {
			return true
		}
	}
	return false
}

func knownKeys(ctx context.Context, st *store.Store) (map[string]store.Key, error) {
	known, err := st.ListKeys(ctx, store.KeyHost)
	if err != nil {
		return nil, fmt.Errorf("reconcile host keys: %w", err)
	}
	byID := make(map[string]store.Key, len(known))
	for _, k := range known {
		byID[k.ID] = k
	}
	return byID, nil
}

// keyAction is the event a ring key calls for: key.create for a key the store
// has not seen, key.rotate for one retired since, "" for none.
func keyAction(k hostkey.KeyInfo, known map[string]store.Key) string {
	seen, ok := known[k.ID]
	switch {
	case !ok:
		return audit.ActionKeyCreate
	case !k.Retired.IsZero() && seen.Retired.IsZero():
		return audit.ActionKeyRotate
	}
	return ""
}
