package hostapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// DefaultPromptTimeout is how long a Prompt waits for an answer before it
// declines.
const DefaultPromptTimeout = 60 * time.Second

// Prompt is the terminal Confirmer: it writes the request to Out and reads a
// line from In. Only "y" or "yes" (any case) allows; anything else, end of
// input, a cancelled context or the timeout declines. One question is asked
// at a time.
type Prompt struct {
	mu      sync.Mutex
	in      *bufio.Reader
	out     io.Writer
	timeout time.Duration
	lines   chan lineResult // answers read by the single reader goroutine
	started bool
	eof     bool // the input ended: every later question is declined at once
}

type lineResult struct {
	line string
	err  error
	at   time.Time // when the line was read
}

// NewPrompt returns a Prompt on the given terminal streams. timeout <= 0
// means DefaultPromptTimeout.
func NewPrompt(in io.Reader, out io.Writer, timeout time.Duration) *Prompt {
	if timeout <= 0 {
		timeout = DefaultPromptTimeout
	}
	return &Prompt{in: bufio.NewReader(in), out: out, timeout: timeout, lines: make(chan lineResult)}
}

// Confirm shows req and waits for the answer.
func (p *Prompt) Confirm(ctx context.Context, req ConfirmRequest) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\nwarden: plugin %s", Sanitize(req.Plugin, 128))
	if req.Version != "" {
		fmt.Fprintf(&b, " %s", Sanitize(req.Version, 64))
	}
	if req.Publisher != "" {
		fmt.Fprintf(&b, " (publisher %s)", Sanitize(req.Publisher, 128))
	}
	fmt.Fprintf(&b, " asks to %s\n", Sanitize(req.Action, 32))
	fmt.Fprintf(&b, "  resource: %s\n", Sanitize(req.Resource, 512))
	if req.Requested != "" {
		fmt.Fprintf(&b, "  asked as: %s (a symlink leads to the resource above)\n", Sanitize(req.Requested, 512))
	}
	fmt.Fprintf(&b, "  method:   %s\n", Sanitize(req.Method, 64))
	if req.Reason != "" {
		fmt.Fprintf(&b, "  reason:   %s\n", Sanitize(req.Reason, 500))
	}
	if req.Size >= 0 {
		fmt.Fprintf(&b, "  size:     %d bytes\n", req.Size)
	}
	if req.Preview != "" {
		fmt.Fprintf(&b, "  data:     %s\n", req.Preview)
	}
	fmt.Fprintf(&b, "Allow? [y/N] (declines in %s) ", p.timeout.Round(time.Second))
	if _, err := io.WriteString(p.out, b.String()); err != nil {
		return false, fmt.Errorf("confirm %s on %s: write prompt: %w", req.Method, req.Resource, err)
	}
	if p.eof {
		fmt.Fprintln(p.out, "\nwarden: no input; declined.")
		return false, nil
	}
	shown := time.Now()
	// One goroutine owns the reader for the Prompt's life, because a read
	// cannot be abandoned. A line typed while no question was showing (a
	// late answer to a question that timed out) must never answer the next
	// question, so lines read before this one was shown are dropped.
	if !p.started {
		p.started = true
		go p.readLoop()
	}
	timer := time.NewTimer(p.timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-p.lines:
			if r.err != nil {
				p.eof = true
				fmt.Fprintln(p.out, "\nwarden: no answer; declined.")
				return false, nil
			}
			if r.at.Before(shown) {
				continue
			}
			a := strings.ToLower(strings.TrimSpace(r.line))
			if a == "y" || a == "yes" {
				return true, nil
			}
			fmt.Fprintln(p.out, "warden: declined.")
			return false, nil
		case <-timer.C:
			fmt.Fprintln(p.out, "\nwarden: no answer in time; declined.")
			return false, nil
		case <-ctx.Done():
			fmt.Fprintln(p.out, "\nwarden: cancelled; declined.")
			return false, nil
		}
	}
}

func (p *Prompt) readLoop() {
	for {
		line, err := p.in.ReadString('\n')
		if err != nil && line != "" {
			err = nil // a last line without newline still counts
		}
		p.lines <- lineResult{line, err, time.Now()}
		if err != nil {
			return
		}
	}
}
