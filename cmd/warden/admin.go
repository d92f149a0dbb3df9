package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/internal/adminaudit"
	"github.com/wardenproject/warden/store"
)

// Administrative changes made from the CLI (grant, revoke) are logged in the
// audit ledger, and token verification sees what the store has revoked.
func init() {
	auditRecorder = func(a *app, homeDir string) store.Recorder {
		r := ledgerRecorder{home: homeDir}
		if a != nil {
			r.notice = a.errOut
		}
		return r
	}
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
// When a running host holds the ledger, the event goes to the spool
// (<home>/audit.spool) instead, and the host appends it within one refresh
// interval; the notice says so. The change is never missing from the trail.
type ledgerRecorder struct {
	home   string
	notice io.Writer
}

func (r ledgerRecorder) Record(ctx context.Context, e store.Event) error {
	return r.append(ctx, adminaudit.Event(e), string(e.Type))
}

// append logs one administrative event made by the person at the CLI: in the
// ledger when this process can open it, else in the spool.
func (r ledgerRecorder) append(ctx context.Context, ev *audit.Event, what string) error {
	ev.Actor = audit.Actor{Plugin: "warden"}
	l, _, err := openWritableLedger(r.home)
	if errors.Is(err, audit.ErrLocked) {
		return r.spool(ev, what)
	}
	if err != nil {
		return withHint(err, ledgerHint(err))
	}
	defer l.Close()
	if n, _ := adminaudit.Pending(adminaudit.SpoolDir(auditDir(r.home))); n > 0 {
		// Older events are still spooled (the drain failed): this one goes
		// after them, so that the trail keeps the order of the changes.
		return r.spool(ev, what)
	}
	_, err = l.Append(ctx, ev)
	return err
}

func (r ledgerRecorder) spool(ev *audit.Event, what string) error {
	dir := adminaudit.SpoolDir(auditDir(r.home))
	id, err := adminaudit.Spool(dir, ev)
	if err != nil {
		return withHint(err, "the change is saved and takes effect; stop the running host and run 'warden audit verify' so that the next change is logged")
	}
	if r.notice != nil {
		fmt.Fprintf(r.notice, "notice: a running host holds the audit ledger; the %s event was spooled (%s/%s.json) and the host will log it\n", what, dir, id)
	}
	return nil
}
