package hostapi

import (
	"context"
	"errors"
	"testing"
	"time"
)

// hang bounds a wait that must end; it is a hang detector, never a timing
// assertion.
const hang = time.Minute

func waitDone(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(hang):
		t.Fatal("the call deadline never fired")
	}
	return nil
}

func TestCallDeadline(t *testing.T) {
	t.Run("fires after its running time", func(t *testing.T) {
		ctx, cancel := WithCallDeadline(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, ok := ctx.Deadline(); !ok {
			t.Fatal("a running call deadline reports no deadline")
		}
		if err := waitDone(t, ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("stops while paused", func(t *testing.T) {
		ctx, cancel := WithCallDeadline(context.Background(), 30*time.Millisecond)
		defer cancel()
		resume := pauseDeadline(ctx)
		resume2 := pauseDeadline(ctx) // nested: a confirmation inside a confirmation
		if _, ok := ctx.Deadline(); ok {
			t.Fatal("a paused call deadline reports a deadline")
		}
		time.Sleep(150 * time.Millisecond) // five times the running time, all paused
		resume2()
		resume2() // idempotent
		if ctx.Err() != nil {
			t.Fatalf("fired while paused: %v", ctx.Err())
		}
		time.Sleep(60 * time.Millisecond) // still paused by the outer pause
		if ctx.Err() != nil {
			t.Fatalf("fired while the outer pause holds: %v", ctx.Err())
		}
		resume()
		if err := waitDone(t, ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("after resuming: %v", err)
		}
	})
	t.Run("the parent cancels through a pause", func(t *testing.T) {
		parent, stop := context.WithCancel(context.Background())
		ctx, cancel := WithCallDeadline(parent, time.Hour)
		defer cancel()
		resume := pauseDeadline(ctx)
		defer resume()
		stop()
		if err := waitDone(t, ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := WithCallDeadline(context.Background(), time.Hour)
		cancel()
		if err := waitDone(t, ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		pauseDeadline(ctx)() // a no-op once done
	})
	t.Run("values and a timeout inside a pause", func(t *testing.T) {
		type key struct{}
		ctx, cancel := WithCallDeadline(context.WithValue(context.Background(), key{}, "v"), 20*time.Millisecond)
		defer cancel()
		if ctx.Value(key{}) != "v" {
			t.Fatal("the parent's values are lost")
		}
		resume := pauseDeadline(ctx)
		// The confirmation's own timeout, made while paused, is its own.
		q, qcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer qcancel()
		if err := waitDone(t, q); !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			t.Fatalf("the question's timeout: %v; the call: %v", err, ctx.Err())
		}
		resume()
		if err := waitDone(t, ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("after the question: %v", err)
		}
	})
	t.Run("no call deadline", func(t *testing.T) {
		pauseDeadline(context.Background())()
	})
}
