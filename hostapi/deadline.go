package hostapi

// This file holds the call deadline that stops while a person is asked.
// A plugin's timeout bounds the plugin's own work; the seconds a person
// spends reading a confirmation and deciding are not the plugin's, and
// counting them made a yes after the plugin's 5 s arrive too late (a
// timeout, or a recorded deny, though the person said yes). The sandbox
// makes each invocation's context with WithCallDeadline; the gate pauses it
// around every confirmation (pauseDeadline), and the confirmation has its
// own timeout from the policy (confirm_timeout).

import (
	"context"
	"sync"
	"time"
)

// WithCallDeadline returns a context that is done d of running time after
// now, or when parent is done. Its running time stops while a confirmation
// is open (the gate pauses it), so a person's think time never counts
// against the plugin's timeout. Deadline reports the projected deadline
// while the clock runs and none while it is paused.
func WithCallDeadline(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	c := &callDeadline{Context: parent, done: make(chan struct{}), remaining: d}
	c.mu.Lock()
	c.startLocked()
	c.mu.Unlock()
	stop := context.AfterFunc(parent, func() { c.finish(parent.Err()) })
	return c, func() {
		stop()
		c.finish(context.Canceled)
	}
}

type callDeadline struct {
	context.Context // the parent: values and its own cancellation

	mu        sync.Mutex
	done      chan struct{}
	err       error
	timer     *time.Timer
	gen       uint64        // bumps on every pause, so a stale timer fires into nothing
	paused    int           // open confirmations (nested pauses count)
	remaining time.Duration // running time left when paused (or before start)
	deadline  time.Time     // when the running time ends, while running
}

type callDeadlineKey struct{}

func (c *callDeadline) Done() <-chan struct{} { return c.done }

func (c *callDeadline) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *callDeadline) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused > 0 || c.err != nil {
		return c.Context.Deadline()
	}
	if pd, ok := c.Context.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

func (c *callDeadline) Value(key any) any {
	if key == (callDeadlineKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// startLocked starts the running clock with what remains.
func (c *callDeadline) startLocked() {
	c.gen++
	gen := c.gen
	c.deadline = time.Now().Add(c.remaining)
	c.timer = time.AfterFunc(c.remaining, func() {
		c.mu.Lock()
		stale := gen != c.gen
		c.mu.Unlock()
		if !stale {
			c.finish(context.DeadlineExceeded)
		}
	})
}

func (c *callDeadline) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.timer != nil {
		c.timer.Stop()
	}
	close(c.done)
}

// pause stops the running clock until the returned resume is called. It is
// a no-op (and resume too) once the context is done.
func (c *callDeadline) pause() (resume func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return func() {}
	}
	c.paused++
	if c.paused == 1 {
		c.gen++
		c.timer.Stop()
		c.remaining = max(time.Until(c.deadline), 0)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.paused--
			if c.paused == 0 && c.err == nil {
				c.startLocked()
			}
		})
	}
}

// pauseDeadline stops the call deadline of ctx, if it has one, until resume
// is called.
func pauseDeadline(ctx context.Context) (resume func()) {
	if c, ok := ctx.Value(callDeadlineKey{}).(*callDeadline); ok {
		return c.pause()
	}
	return func() {}
}
