package export

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/internal/atomicfile"
)

// stateDir holds the cursors and the recorded configuration hash, inside the
// ledger directory.
const stateDir = "export"

// Source is the part of the ledger the exporter reads.
type Source interface {
	Read(from uint64) iter.Seq2[audit.Entry, error]
}

// Exporter runs the configured sinks. Use Once from one goroutine at a time.
type Exporter struct {
	dir   string
	cfg   Config
	sinks []sink
}

// Result says what one sink got in one run.
type Result struct {
	Sink   string `json:"sink"`
	Sent   uint64 `json:"sent"`
	Cursor uint64 `json:"cursor"` // next index to send
	Error  string `json:"error,omitempty"`
	// Rejected counts events a receiver accepted in a batch but said it
	// dropped (an OTLP partial success). They are not resent: the receiver
	// has answered for them, and resending the batch cannot change its mind.
	// Warning is the receiver's explanation, the last one of the run.
	Rejected uint64 `json:"rejected,omitempty"`
	Warning  string `json:"warning,omitempty"`
}

// New prepares the sinks of cfg; dir is the ledger directory (<home>/audit).
func New(dir string, cfg *Config) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, stateDir), 0o700); err != nil {
		return nil, fmt.Errorf("create export state directory: %w", err)
	}
	x := &Exporter{dir: dir, cfg: *cfg}
	for _, c := range cfg.Sinks {
		s, err := newSink(c)
		if err != nil {
			x.Close()
			return nil, err
		}
		x.sinks = append(x.sinks, s)
	}
	return x, nil
}

// Close releases the sinks' connections.
func (x *Exporter) Close() error {
	var errs []error
	for _, s := range x.sinks {
		errs = append(errs, s.close())
	}
	return errors.Join(errs...)
}

// Once sends every event after each sink's cursor, in batches, moving the
// cursor after each accepted batch. A failing sink stops at its cursor; the
// others go on. The error joins every sink's failure.
func (x *Exporter) Once(ctx context.Context, src Source) ([]Result, error) {
	var results []Result
	var errs []error
	for i, c := range x.cfg.Sinks {
		r, err := x.runSink(ctx, src, c, x.sinks[i])
		if err != nil {
			r.Error = err.Error()
			errs = append(errs, fmt.Errorf("sink %s: %w", c.Name, err))
		}
		results = append(results, r)
	}
	return results, errors.Join(errs...)
}

func (x *Exporter) runSink(ctx context.Context, src Source, c SinkConfig, s sink) (Result, error) {
	r := Result{Sink: c.Name}
	cur, err := x.Cursor(c.Name)
	if err != nil {
		return r, err
	}
	r.Cursor = cur
	batchSize := c.BatchSize
	if batchSize == 0 {
		batchSize = 256
	}
	format := c.Format
	batch := make([]message, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		d, err := s.send(ctx, batch)
		if err != nil {
			return err
		}
		r.Rejected += d.rejected
		if d.warning != "" {
			r.Warning = d.warning
		}
		next := batch[len(batch)-1].entry.Index + 1
		if err := x.setCursor(c.Name, next); err != nil {
			return err
		}
		r.Sent += uint64(len(batch))
		r.Cursor = next
		batch = batch[:0]
		return nil
	}
	for e, err := range src.Read(cur) {
		if err != nil {
			return r, fmt.Errorf("read audit event %d: %w", e.Index, err)
		}
		p, err := payload(format, e)
		if err != nil {
			return r, err
		}
		batch = append(batch, message{entry: e, payload: p})
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return r, err
			}
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
	}
	return r, flush()
}

func (x *Exporter) cursorPath(name string) string {
	return filepath.Join(x.dir, stateDir, name+".cursor")
}

// Cursor returns the next event index the sink will be sent.
func (x *Exporter) Cursor(name string) (uint64, error) {
	b, err := os.ReadFile(x.cursorPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor of sink %s: %w", name, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cursor of sink %s (%s) is not a number; delete it to resend everything", name, x.cursorPath(name))
	}
	return n, nil
}

func (x *Exporter) setCursor(name string, next uint64) error {
	return writeAtomic(x.cursorPath(name), []byte(strconv.FormatUint(next, 10)+"\n"))
}

// writeAtomic replaces p with data so that a crash leaves the old or the new
// content, never a mix.
func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(p, data, 0o600)
}
