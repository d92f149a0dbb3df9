package wasm

import (
	"bytes"
	"fmt"
	"io"

	"github.com/wardenproject/warden/hostapi"
)

// logSink captures a guest's stdout and stderr. Both streams share one byte
// cap per call, and draw on the invocation's log budget (which log.write
// shares, and the plugin's Meter across invocations); bytes past either are
// counted and dropped, never buffered, so an output flood costs the host
// nothing but the guest's own CPU time.
type logSink struct {
	log     LogFunc
	budget  int
	used    int
	dropped int // past the per-call cap
	spent   int // past the invocation's log budget
	quota   *hostapi.Budget
	streams []*logStream
}

type logStream struct {
	sink *logSink
	name string
	line []byte
}

// maxLine is where an unterminated line is cut and delivered.
const maxLine = 4096

func (s *logSink) stream(name string) io.Writer {
	ls := &logStream{sink: s, name: name}
	s.streams = append(s.streams, ls)
	return ls
}

// Write always reports success: a guest must not learn that it is being
// throttled, nor fail because of it.
func (ls *logStream) Write(p []byte) (int, error) {
	s := ls.sink
	n := len(p)
	if room := s.budget - s.used; len(p) > room {
		s.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	s.used += len(p)
	if len(p) > 0 && !s.quota.SpendLog(len(p)) {
		s.spent += len(p)
		p = nil
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			ls.line = append(ls.line, p...)
			if len(ls.line) >= maxLine {
				ls.emit()
			}
			break
		}
		ls.line = append(ls.line, p[:i]...)
		ls.emit()
		p = p[i+1:]
	}
	return n, nil
}

func (ls *logStream) emit() {
	if ls.sink.log != nil {
		ls.sink.log(ls.name, string(ls.line))
	}
	ls.line = ls.line[:0]
}

// flush delivers partial lines and says how much was dropped.
func (s *logSink) flush() {
	for _, ls := range s.streams {
		if len(ls.line) > 0 {
			ls.emit()
		}
	}
	if s.dropped > 0 && s.log != nil {
		s.log("stderr", fmt.Sprintf("[warden: %d bytes of output dropped after the %d-byte limit]", s.dropped, s.budget))
	}
	if s.spent > 0 && s.log != nil {
		s.log("stderr", fmt.Sprintf("[warden: %d bytes of output dropped: the log budget is spent]", s.spent))
	}
	s.dropped, s.spent = 0, 0
}

// reset starts a new call's cap, drawing on the invocation's budget b.
func (s *logSink) reset(b *hostapi.Budget) {
	s.used = 0
	s.dropped, s.spent = 0, 0
	s.quota = b
}
