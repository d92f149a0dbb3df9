package store

import (
	"context"
	"errors"
	"fmt"
)

// EventType names a change the store reports to its Recorder.
type EventType string

// The changes the store reports. They are the ones a security review asks about:
// who was given what, what was taken away, what was quarantined.
const (
	EventGrantAdded   EventType = "grant.added"
	EventGrantDeleted EventType = "grant.deleted"
	// EventGrantConfirmed: a pending grant was confirmed on a consent screen
	// and bound to an install; from now on it applies.
	EventGrantConfirmed     EventType = "grant.confirmed"
	EventRevoked            EventType = "revoked"
	EventPluginStateChanged EventType = "plugin.state_changed"
	// EventGrantRefused is a grant the store would not keep because it
	// reaches warden's own state (home.ErrProtected); nothing changed.
	EventGrantRefused EventType = "grant.refused"
)

// Event is one committed change, or one refused (grant.refused). Exactly one
// of the pointer fields is set, matching Type.
type Event struct {
	Type       EventType
	Grant      *Grant      // grant.added, grant.deleted, grant.confirmed, grant.refused
	Reason     string      // grant.refused: why
	Revocation *Revocation // revoked
	Plugin     string      // plugin.state_changed
	State      PluginState // plugin.state_changed
}

// Recorder receives every Event after its change has committed. The audit ledger
// implements it; until it is wired (see WithRecorder), nothing is recorded.
//
// Record is called synchronously on the caller's goroutine. Its error is
// returned to the caller wrapped in ErrNotRecorded; the change itself stays
// committed, because undoing a revocation because a log write failed would be
// the worse failure.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, e Event) error

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }

// ErrNotRecorded wraps a Recorder's error: the change committed but was not
// recorded.
var ErrNotRecorded = errors.New("change committed but not recorded")

func (s *Store) record(ctx context.Context, e Event) error {
	if s.cfg.recorder == nil {
		return nil
	}
	if err := s.cfg.recorder.Record(ctx, e); err != nil {
		return fmt.Errorf("record %s: %w: %w", e.Type, ErrNotRecorded, err)
	}
	return nil
}
