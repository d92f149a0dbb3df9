package export

import (
	"context"
	"errors"
	"time"
)

// Follow runs Once now and then every interval until ctx is done, so that
// events reach the sinks as they are appended: against a ledger opened
// read-only, each run sees what the writer (a running host) has made durable
// since. A failed run does not stop it: the failing sink's cursor stays where
// it was and the next run resends from there, as with Once. report, when not
// nil, receives each run's results and error, for runs that sent something or
// failed. Follow returns nil once ctx is done (an interrupt is how it is meant
// to stop) and an error only for an interval that is not positive.
func (x *Exporter) Follow(ctx context.Context, src Source, interval time.Duration, report func([]Result, error)) error {
	if interval <= 0 {
		return errors.New("follow audit export: the poll interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		results, err := x.Once(ctx, src)
		if err != nil && ctx.Err() != nil {
			return nil // a batch cut short by the interrupt is resent next time
		}
		if report != nil && (err != nil || sentAny(results)) {
			report(results, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func sentAny(rs []Result) bool {
	for _, r := range rs {
		if r.Sent > 0 {
			return true
		}
	}
	return false
}
