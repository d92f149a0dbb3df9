package export

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"

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
	send(ctx context.Context, msgs []message) error
	close() error
}

func newSink(ctx context.Context, c SinkConfig) (sink, error) {
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
		opts := []otlploghttp.Option{otlploghttp.WithEndpointURL(c.Endpoint),
			// Retries happen at the cursor: a failed batch is resent on the next run.
			otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
			otlploghttp.WithTimeout(30 * time.Second)}
		if len(c.Headers) > 0 {
			opts = append(opts, otlploghttp.WithHeaders(c.Headers))
		}
		exp, err := otlploghttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", c.Name, err)
		}
		return newOTLPSink(exp), nil
	}
	return nil, fmt.Errorf("%w: unknown sink type %q", ErrConfig, c.Type)
}

// fileSink appends NDJSON lines and fsyncs.
type fileSink struct{ path string }

func (s *fileSink) send(_ context.Context, msgs []message) error {
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

func (s *syslogSink) send(ctx context.Context, msgs []message) error {
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

// otlpSink exports log records with the OpenTelemetry SDK's OTLP/HTTP
// exporter, synchronously, so a nil error means the collector answered 2xx.
// Records go through a LoggerProvider (resource, scope and attribute limits
// as the SDK sets them) into a collecting processor, and the batch is then
// exported in one request: the SDK's batch processor would acknowledge before
// delivery, which at-least-once cannot use.
type otlpSink struct {
	exp    *otlploghttp.Exporter
	coll   *collector
	logger log.Logger
	prov   *sdklog.LoggerProvider
}

func newOTLPSink(exp *otlploghttp.Exporter) *otlpSink {
	coll := &collector{}
	prov := sdklog.NewLoggerProvider(sdklog.WithProcessor(coll),
		sdklog.WithResource(resource.NewSchemaless(attribute.String("service.name", "warden"))))
	return &otlpSink{exp: exp, coll: coll, prov: prov, logger: prov.Logger("github.com/wardenproject/warden/audit/export")}
}

// collector is an sdklog.Processor that keeps what is emitted.
type collector struct{ recs []sdklog.Record }

func (c *collector) OnEmit(_ context.Context, r *sdklog.Record) error {
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *collector) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (c *collector) Shutdown(context.Context) error                         { return nil }
func (c *collector) ForceFlush(context.Context) error                       { return nil }

func (s *otlpSink) send(ctx context.Context, msgs []message) error {
	s.coll.recs = s.coll.recs[:0]
	now := time.Now()
	for _, m := range msgs {
		ev := m.entry.Event
		var r log.Record
		r.SetTimestamp(ev.Time)
		r.SetObservedTimestamp(now)
		r.SetEventName("warden.audit." + ev.Action)
		sev, text := log.SeverityInfo, "INFO"
		if ev.Outcome == audit.OutcomeError || effective(ev.Decision) == audit.EffectDeny {
			sev, text = log.SeverityWarn, "WARN"
		}
		r.SetSeverity(sev)
		r.SetSeverityText(text)
		r.SetBody(attribute.StringValue(string(m.payload)))
		r.AddAttributes(
			attribute.String("warden.event.id", ev.ID),
			attribute.Int64("warden.event.index", int64(m.entry.Index)),
			attribute.String("warden.action", ev.Action),
			attribute.String("warden.plugin", ev.Actor.Plugin),
			attribute.String("warden.outcome", ev.Outcome),
		)
		s.logger.Emit(ctx, r)
	}
	if err := s.exp.Export(ctx, s.coll.recs); err != nil {
		return fmt.Errorf("export to OTLP: %w", err)
	}
	return nil
}

func (s *otlpSink) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.prov.Shutdown(ctx)
	if err2 := s.exp.Shutdown(ctx); err == nil {
		err = err2
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
