package main

import (
	"context"
	"fmt"

	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/internal/adminaudit"
	"github.com/wardenproject/warden/store"
)

// Administrative changes made from the CLI (grant, revoke) are logged in the
// audit ledger, and token verification sees what the store has revoked.
func init() {
	auditRecorder = func(_ *app, homeDir string) store.Recorder { return ledgerRecorder{home: homeDir} }
	tokenRevocations = func(_ *app, homeDir string) (*capability.RevocationSet, error) {
		ctx := context.Background()
		st, err := store.Open(ctx, store.Path(homeDir))
		if err != nil {
			return nil, err
		}
		defer st.Close()
		set := capability.NewRevocationSet()
		return set, adminaudit.LoadRevocations(ctx, st, set)
	}
}

// ledgerRecorder opens the ledger for each change: a CLI command makes one or
// two changes, and holding the ledger open would lock out a running host.
type ledgerRecorder struct{ home string }

func (r ledgerRecorder) Record(ctx context.Context, e store.Event) error {
	l, err := openLedger(r.home)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := adminaudit.Recorder(l).Record(ctx, e); err != nil {
		return fmt.Errorf("%w (if 'warden mcp' or another host is running on this --home it holds the ledger; the change is saved and takes effect, but restart that host to log it)", err)
	}
	return nil
}
