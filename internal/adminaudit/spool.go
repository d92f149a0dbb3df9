package adminaudit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/internal/atomicfile"
)

// The spool (docs/audit-format.md §8) holds administrative events that could
// not be appended because another process — a running host — holds the
// ledger. The ledger has exactly one writer per home, so a CLI command cannot
// append while a host runs; it writes the event here and whoever next opens
// the ledger for writing (the host at start and on every refresh, or the CLI)
// appends it and deletes the file.
//
// One file per event in a directory, not a table in the state store: the
// spool must keep working when the store is the thing that is busy, its
// writes are independent single-file renames that need no schema, and the
// drainer needs nothing but the ledger and the directory.

// SpoolDir is the spool next to a ledger directory: <home>/audit.spool for
// <home>/audit, as the witness is <home>/audit.witness.
func SpoolDir(ledgerDir string) string { return filepath.Clean(ledgerDir) + ".spool" }

// Detail keys a drained event carries, so that it can be told from an event
// appended directly and a re-delivery can be recognised.
const (
	DetailSpoolID   = "spool_id"   // the spool file's id, unique per spooled event
	DetailSpooledAt = "spooled_at" // when the change happened (RFC 3339, UTC, nanoseconds)
)

// ActionSpoolBad is logged when a spool file cannot be read as an event; the
// file is kept, renamed with the suffix ".bad", for a person to inspect.
const ActionSpoolBad = "ledger.spool_bad"

const (
	spoolExt    = ".json"
	drainingExt = ".draining-" // <id>.json.draining-<ledger length before the append>
	badExt      = ".bad"
	tmpPrefix   = ".tmp-"
)

// ErrSpoolFile is wrapped by errors about one spool file's contents.
var ErrSpoolFile = errors.New("spool file is not an audit event")

var (
	stampMu   sync.Mutex
	lastStamp int64
)

// newSpoolID returns a name that sorts by time: 20 digits of Unix
// nanoseconds, strictly increasing within this process, then 16 random hex
// digits so that two processes never collide.
func newSpoolID(now time.Time) string {
	stampMu.Lock()
	n := now.UnixNano()
	if n <= lastStamp {
		n = lastStamp + 1
	}
	lastStamp = n
	stampMu.Unlock()
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("%020d-%s", n, hex.EncodeToString(r[:]))
}

// validSpoolID reports whether id is what newSpoolID makes.
func validSpoolID(id string) bool {
	if len(id) != 37 || id[20] != '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case i == 20:
		case i < 20 && c >= '0' && c <= '9':
		case i > 20 && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f'):
		default:
			return false
		}
	}
	return true
}

// Spool writes ev durably to the spool directory dir (created 0700) and
// returns its spool id. The file holds ev's canonical encoding with ID set
// to the spool id and Time set (to now, if zero): written to a temporary
// name, fsynced, renamed into place and the directory fsynced, so a crash
// leaves either the whole event or nothing under a spool name.
func Spool(dir string, ev *audit.Event) (string, error) {
	e := *ev
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.ID = newSpoolID(e.Time)
	data, err := e.AppendCanonical(nil)
	if err != nil {
		return "", fmt.Errorf("spool audit event %s: %w", ev.Action, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("spool audit event: create %s: %w", dir, err)
	}
	final := filepath.Join(dir, e.ID+spoolExt)
	tmp := filepath.Join(dir, tmpPrefix+e.ID+spoolExt)
	if err := writeSynced(tmp, data); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("spool audit event %s: %w", ev.Action, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("spool audit event %s: %w", ev.Action, err)
	}
	if err := syncDir(dir); err != nil {
		return "", fmt.Errorf("spool audit event %s: %w", ev.Action, err)
	}
	return e.ID, nil
}

func writeSynced(path string, data []byte) error {
	return atomicfile.WriteSynced(path, data, os.O_CREATE|os.O_EXCL)
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// ParseSpooled decodes one spool file's contents into the event to append:
// the spool id and the original time move into Detail (DetailSpoolID,
// DetailSpooledAt), ID is cleared and Time is left zero so that the ledger
// stamps the append. It never panics and refuses anything the ledger would.
func ParseSpooled(data []byte) (*audit.Event, error) {
	if len(data) > audit.MaxEventSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrSpoolFile, len(data), audit.MaxEventSize)
	}
	ev, err := audit.ParseEvent(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpoolFile, err)
	}
	if !validSpoolID(ev.ID) {
		return nil, fmt.Errorf("%w: id %q is not a spool id", ErrSpoolFile, ev.ID)
	}
	if ev.Time.IsZero() {
		return nil, fmt.Errorf("%w: time is missing", ErrSpoolFile)
	}
	// Encoding it checks every field the ledger checks, so that a spooled
	// event the ledger would refuse is found here, not half-way through.
	if _, err := ev.AppendCanonical(nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpoolFile, err)
	}
	d := make(map[string]string, len(ev.Detail)+2)
	for k, v := range ev.Detail {
		d[k] = v
	}
	d[DetailSpoolID] = ev.ID
	d[DetailSpooledAt] = ev.Time.UTC().Format(time.RFC3339Nano)
	ev.Detail = d
	ev.ID, ev.Time = "", time.Time{}
	return ev, nil
}

// Ledger is the part of the audit ledger Drain needs: it appends durably and
// reads back what it appended, to see whether an interrupted drain already
// appended an event.
type Ledger interface {
	Appender
	Len() uint64
	Read(from uint64) iter.Seq2[audit.Entry, error]
}

// spoolEntry is one event file found in the spool.
type spoolEntry struct {
	id   string
	name string // file name as found
	mark int64  // ledger length recorded before an interrupted append, or -1
}

// list returns the spool's event files in spool-id order. Temporary files
// (a writer's unfinished or crashed write) and .bad files are skipped.
func list(dir string) ([]spoolEntry, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit spool %s: %w", dir, err)
	}
	var out []spoolEntry
	for _, de := range des {
		name := de.Name()
		if !de.Type().IsRegular() || strings.HasPrefix(name, ".") {
			continue
		}
		id, rest, ok := strings.Cut(name, spoolExt)
		if !ok || !validSpoolID(id) {
			continue
		}
		e := spoolEntry{id: id, name: name, mark: -1}
		switch {
		case rest == "":
		case strings.HasPrefix(rest, drainingExt):
			n, err := strconv.ParseInt(rest[len(drainingExt):], 10, 64)
			if err != nil || n < 0 {
				continue
			}
			e.mark = n
		default:
			continue // .bad and anything unknown
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b spoolEntry) int { return strings.Compare(a.id, b.id) })
	return out, nil
}

// Pending returns how many events wait in the spool directory dir.
func Pending(dir string) (int, error) {
	es, err := list(dir)
	return len(es), err
}

// testHookAfterAppend, when set, is called after each spooled event is
// appended and before its file is deleted; returning true stops the drain
// there, as a crash would.
var testHookAfterAppend func() bool

// Drain appends every event in the spool directory dir to l, oldest first,
// and deletes each file once its event is durable. It returns how many events
// it appended.
//
// Delivery is at least once and in practice exactly once: before appending,
// the file is renamed to record the ledger's length, so a drain interrupted
// between append and delete finds the event already in the ledger (by its
// DetailSpoolID, from that length on) and only deletes the file. Should an
// event be appended twice all the same, both copies carry the same
// DetailSpoolID. A file that is not an event is logged as ActionSpoolBad and
// kept as <name>.bad. Only the ledger's writer may drain: the ledger's lock
// is what keeps two drains apart.
func Drain(ctx context.Context, dir string, l Ledger, actor audit.Actor) (int, error) {
	es, err := list(dir)
	if err != nil || len(es) == 0 {
		return 0, err
	}
	n := 0
	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		cur, appended, err := drainOne(ctx, dir, l, e, actor)
		if appended {
			n++
		}
		if err != nil {
			return n, err
		}
		if appended && testHookAfterAppend != nil && testHookAfterAppend() {
			return n, nil
		}
		if cur == "" {
			continue
		}
		if err := os.Remove(filepath.Join(dir, cur)); err != nil {
			return n, fmt.Errorf("drain audit spool: remove %s: %w", cur, err)
		}
	}
	return n, syncDir(dir)
}

// drainOne appends e's event unless an interrupted drain already did. It
// returns the file's name now, for the caller to delete once the event is in
// the ledger, or "" when there is nothing to delete.
func drainOne(ctx context.Context, dir string, l Ledger, e spoolEntry, actor audit.Actor) (cur string, appended bool, err error) {
	path := filepath.Join(dir, e.name)
	data, err := readLimited(path)
	if err != nil {
		return "", false, fmt.Errorf("drain audit spool: %w", err)
	}
	ev, perr := ParseSpooled(data)
	if perr != nil {
		bad := &audit.Event{Action: ActionSpoolBad, Outcome: audit.OutcomeError, Actor: actor,
			Error:  &audit.Error{Code: "spool_bad", Message: perr.Error()},
			Detail: map[string]string{"file": e.name}}
		if _, err := l.Append(ctx, bad); err != nil {
			return "", false, fmt.Errorf("drain audit spool: log bad file %s: %w", e.name, err)
		}
		if err := os.Rename(path, filepath.Join(dir, e.id+spoolExt+badExt)); err != nil {
			return "", false, fmt.Errorf("drain audit spool: keep bad file %s: %w", e.name, err)
		}
		return "", false, syncDir(dir)
	}
	if e.mark >= 0 {
		found, err := inLedger(l, uint64(e.mark), e.id)
		if err != nil {
			return "", false, fmt.Errorf("drain audit spool: look for %s: %w", e.id, err)
		}
		if found {
			return e.name, false, nil
		}
	}
	marked := e.id + spoolExt + drainingExt + strconv.FormatUint(l.Len(), 10)
	if marked != e.name {
		if err := os.Rename(path, filepath.Join(dir, marked)); err != nil {
			return "", false, fmt.Errorf("drain audit spool: mark %s: %w", e.name, err)
		}
		if err := syncDir(dir); err != nil {
			return "", false, fmt.Errorf("drain audit spool: %w", err)
		}
	}
	if _, err := l.Append(ctx, ev); err != nil {
		return "", false, fmt.Errorf("drain audit spool: append %s: %w", e.id, err)
	}
	return marked, true, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, audit.MaxEventSize+1))
}

// inLedger reports whether an event carrying spool id id was appended at or
// after index from.
func inLedger(l Ledger, from uint64, id string) (bool, error) {
	if from >= l.Len() {
		return false, nil
	}
	for ent, err := range l.Read(from) {
		if err != nil {
			return false, err
		}
		if ent.Event.Detail[DetailSpoolID] == id {
			return true, nil
		}
	}
	return false, nil
}
