package export

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wardenproject/warden/audit"
)

// message is one event ready for a sink.
type message struct {
	entry   audit.Entry
	payload []byte
}

// sink delivers batches; send returns nil only once the batch is accepted in
// the sink's sense (see the package doc).
type sink interface {
	send(ctx context.Context, msgs []message) (delivery, error)
	close() error
}

// delivery is what a receiver said about an accepted batch: an OTLP
// collector may accept a batch and still reject some of its records
// ("partial success"), which must not be resent and must not go unnoticed.
type delivery struct {
	rejected uint64
	warning  string
}

func newSink(c SinkConfig) (sink, error) {
	switch c.Type {
	case "file":
		return &fileSink{path: c.Path}, nil
	case "syslog":
		host := c.Hostname
		if host == "" {
			host, _ = os.Hostname()
		}
		app := c.AppName
		if app == "" {
			app = "warden"
		}
		network := c.Network
		if network == "" {
			network = "tcp"
		}
		return &syslogSink{network: network, address: c.Address, hostname: sdName(host, 255), app: sdName(app, 48)}, nil
	case "otlp":
		return newOTLPSink(c), nil
	}
	return nil, fmt.Errorf("%w: unknown sink type %q", ErrConfig, c.Type)
}

// fileSink appends NDJSON lines and fsyncs.
type fileSink struct{ path string }

func (s *fileSink) send(_ context.Context, msgs []message) (delivery, error) {
	return delivery{}, s.write(msgs)
}

func (s *fileSink) write(msgs []message) error {
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open export file: %w", err)
	}
	var buf []byte
	for _, m := range msgs {
		buf = append(append(buf, m.payload...), '\n')
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("write export file %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync export file %s: %w", s.path, err)
	}
	return f.Close()
}

func (s *fileSink) close() error { return nil }

// syslogSink writes RFC 5424 messages: over TCP framed by octet counting
// (RFC 6587 section 3.4.1), over UDP one message per datagram (RFC 5426).
type syslogSink struct {
	network, address, hostname, app string
	conn                            net.Conn
}

// Facility 13 is "log audit" (RFC 5424 table 1).
const facilityLogAudit = 13

// sdID is the structured-data id: the private enterprise number 32473 is the
// one RFC 5612 reserves for documentation and examples.
const sdID = "warden@32473"

func formatSyslog(hostname, app string, m message) []byte {
	ev := m.entry.Event
	sev := 6 // informational
	if ev.Outcome == audit.OutcomeError || effective(ev.Decision) == audit.EffectDeny {
		sev = 4 // warning
	}
	b := make([]byte, 0, 256+len(m.payload))
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(facilityLogAudit*8+sev), 10)
	b = append(b, ">1 "...)
	b = ev.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z") // RFC 5424 allows six fraction digits
	b = append(b, ' ')
	b = append(b, hostname...)
	b = append(b, ' ')
	b = append(b, app...)
	b = append(b, " - "...)
	b = append(b, sdName(ev.Action, 32)...)
	b = append(b, " ["+sdID+" id=\""...)
	b = append(b, sdEscape(ev.ID)...)
	b = append(b, "\" index=\""...)
	b = strconv.AppendUint(b, m.entry.Index, 10)
	b = append(b, "\"] "...)
	return append(b, m.payload...)
}

// sdName makes s a valid header field: printable US-ASCII without spaces.
func sdName(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

func sdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(s)
}

func (s *syslogSink) send(ctx context.Context, msgs []message) (delivery, error) {
	return delivery{}, s.write(ctx, msgs)
}

func (s *syslogSink) write(ctx context.Context, msgs []message) error {
	if s.conn == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, s.network, s.address)
		if err != nil {
			return fmt.Errorf("connect to syslog %s %s: %w", s.network, s.address, err)
		}
		s.conn = c
	}
	if dl, ok := ctx.Deadline(); ok {
		s.conn.SetWriteDeadline(dl)
	} else {
		s.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	}
	var buf []byte
	for _, m := range msgs {
		msg := formatSyslog(s.hostname, s.app, m)
		if s.network == "udp" {
			if _, err := s.conn.Write(msg); err != nil {
				return s.broken(err)
			}
			continue
		}
		buf = strconv.AppendInt(buf, int64(len(msg)), 10)
		buf = append(buf, ' ')
		buf = append(buf, msg...)
	}
	if len(buf) > 0 {
		if _, err := s.conn.Write(buf); err != nil {
			return s.broken(err)
		}
	}
	return nil
}

func (s *syslogSink) broken(err error) error {
	s.conn.Close()
	s.conn = nil
	return fmt.Errorf("send to syslog %s %s: %w", s.network, s.address, err)
}

func (s *syslogSink) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
