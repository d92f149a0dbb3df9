package mcpfront

// This file bounds the log notifications one MCP session receives. A
// plugin's log lines are already bounded per invocation and per plugin by
// the host's budget (hostapi.Budget); this is the client's side of it: an
// agent with several calls in flight, or many plugins logging at once, must
// not be flooded faster than it can read.

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// logLimiter is one session's token bucket of log notifications.
type logLimiter struct {
	rate, burst float64

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	dropped int64
}

// take asks for one notification at now. When lines were dropped before,
// it asks for two (the line and the notice of the drop) and returns how many
// were dropped; false means this line is dropped too.
func (l *logLimiter) take(now time.Time) (dropped int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if dt := now.Sub(l.last); dt > 0 {
		l.tokens = min(l.tokens+dt.Seconds()*l.rate, l.burst)
		l.last = now
	}
	need := 1.0
	if l.dropped > 0 {
		need = 2
	}
	if l.tokens < need {
		l.dropped++
		return 0, false
	}
	l.tokens -= need
	dropped, l.dropped = l.dropped, 0
	return dropped, true
}

// logLimiter returns the session's limiter, made full on first use and
// forgotten when the session ends.
func (f *Front) logLimiter(ss *mcp.ServerSession) *logLimiter {
	if v, ok := f.logLimits.Load(ss); ok {
		return v.(*logLimiter)
	}
	l := &logLimiter{rate: f.cfg.LogRate, burst: float64(f.cfg.LogBurst), tokens: float64(f.cfg.LogBurst), last: f.now()}
	v, loaded := f.logLimits.LoadOrStore(ss, l)
	if !loaded {
		go func() {
			_ = ss.Wait()
			f.logLimits.Delete(ss)
		}()
	}
	return v.(*logLimiter)
}

// cutLine shortens line to at most max bytes, on a UTF-8 boundary, saying
// how much was cut.
func cutLine(line string, max int) string {
	if len(line) <= max {
		return line
	}
	i := max
	for i > 0 && !utf8.RuneStart(line[i]) {
		i--
	}
	return line[:i] + fmt.Sprintf(" [warden: %d bytes cut]", len(line)-i)
}
