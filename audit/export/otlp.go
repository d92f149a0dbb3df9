package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/wardenproject/warden/audit"
)

// The OTLP sink writes the OTLP/HTTP binary protobuf encoding itself: the
// message is one fixed shape (a resource, a scope, flat records of string
// and int attributes), so a few dozen lines of protowire replace the
// OpenTelemetry SDK, its exporter and, through the generated collector
// types, grpc and genproto. Binary protobuf rather than JSON because every
// OTLP/HTTP receiver must accept it (the JSON mapping is the optional one and
// has its own quirks: int64 as strings, hex ids), and because it is what the
// SDK sent before, so receivers see no change. The encoding is checked
// against the official generated types and against the SDK's own request in
// otlp_test.go.

// Field numbers of opentelemetry-proto v1 (collector/logs/v1/logs_service.proto,
// logs/v1/logs.proto, common/v1/common.proto, resource/v1/resource.proto).
const (
	fRequestResourceLogs protowire.Number = 1 // ExportLogsServiceRequest.resource_logs

	fResourceLogsResource  protowire.Number = 1 // ResourceLogs.resource
	fResourceLogsScopeLogs protowire.Number = 2 // ResourceLogs.scope_logs
	fResourceAttributes    protowire.Number = 1 // Resource.attributes

	fScopeLogsScope      protowire.Number = 1 // ScopeLogs.scope
	fScopeLogsLogRecords protowire.Number = 2 // ScopeLogs.log_records
	fScopeName           protowire.Number = 1 // InstrumentationScope.name

	fLogTime           protowire.Number = 1  // LogRecord.time_unix_nano, fixed64
	fLogSeverityNumber protowire.Number = 2  // LogRecord.severity_number, enum
	fLogSeverityText   protowire.Number = 3  // LogRecord.severity_text
	fLogBody           protowire.Number = 5  // LogRecord.body, AnyValue
	fLogAttributes     protowire.Number = 6  // LogRecord.attributes, KeyValue
	fLogObservedTime   protowire.Number = 11 // LogRecord.observed_time_unix_nano, fixed64
	fLogEventName      protowire.Number = 12 // LogRecord.event_name

	fKeyValueKey   protowire.Number = 1 // KeyValue.key
	fKeyValueValue protowire.Number = 2 // KeyValue.value
	fAnyString     protowire.Number = 1 // AnyValue.string_value
	fAnyInt        protowire.Number = 3 // AnyValue.int_value

	fResponsePartialSuccess protowire.Number = 1 // ExportLogsServiceResponse.partial_success
	fPartialRejected        protowire.Number = 1 // ExportLogsPartialSuccess.rejected_log_records
	fPartialErrorMessage    protowire.Number = 2 // ExportLogsPartialSuccess.error_message

	severityInfo = 9  // SEVERITY_NUMBER_INFO
	severityWarn = 13 // SEVERITY_NUMBER_WARN
)

// otlpScope names the instrumentation scope, as the SDK logger did.
const otlpScope = "github.com/wardenproject/warden/audit/export"

// otlpResource and otlpScopeMsg are the parts of every request that never
// change: the Resource (service.name=warden, nothing else, as before) and the
// InstrumentationScope.
var otlpResource, otlpScopeMsg = func() ([]byte, []byte) {
	res := appendMessage(nil, fResourceAttributes, appendStringKV(nil, "service.name", "warden"))
	scope := protowire.AppendTag(nil, fScopeName, protowire.BytesType)
	scope = protowire.AppendString(scope, otlpScope)
	return res, scope
}()

// encodeLogsRequest encodes msgs as one ExportLogsServiceRequest: one
// ResourceLogs, one ScopeLogs, one LogRecord per event in order. observed is
// every record's observed time (when the batch was encoded).
func encodeLogsRequest(msgs []message, observed time.Time) []byte {
	var recs, rec []byte
	for _, m := range msgs {
		rec = appendLogRecord(rec[:0], m, observed)
		recs = appendMessage(recs, fScopeLogsLogRecords, rec)
	}
	// Sizes first so the records, the bulk, are copied once.
	scopeLogs := protowire.SizeTag(fScopeLogsScope) + protowire.SizeBytes(len(otlpScopeMsg)) + len(recs)
	resourceLogs := protowire.SizeTag(fResourceLogsResource) + protowire.SizeBytes(len(otlpResource)) +
		protowire.SizeTag(fResourceLogsScopeLogs) + protowire.SizeBytes(scopeLogs)
	b := make([]byte, 0, protowire.SizeTag(fRequestResourceLogs)+protowire.SizeBytes(resourceLogs))
	b = protowire.AppendTag(b, fRequestResourceLogs, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(resourceLogs))
	b = appendMessage(b, fResourceLogsResource, otlpResource)
	b = protowire.AppendTag(b, fResourceLogsScopeLogs, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(scopeLogs))
	b = appendMessage(b, fScopeLogsScope, otlpScopeMsg)
	return append(b, recs...)
}

// appendLogRecord maps one event the way the SDK exporter did (pinned by
// testdata/otlp-sdk-request.binpb): fields in field-number order, proto3
// zero values left out, no trace context.
func appendLogRecord(b []byte, m message, observed time.Time) []byte {
	ev := m.entry.Event
	if t := unixNano(ev.Time); t != 0 {
		b = protowire.AppendTag(b, fLogTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, t)
	}
	sev, text := uint64(severityInfo), "INFO"
	if ev.Outcome == audit.OutcomeError || effective(ev.Decision) == audit.EffectDeny {
		sev, text = severityWarn, "WARN"
	}
	b = protowire.AppendTag(b, fLogSeverityNumber, protowire.VarintType)
	b = protowire.AppendVarint(b, sev)
	b = appendString(b, fLogSeverityText, text)
	body := validUTF8(string(m.payload))
	b = protowire.AppendTag(b, fLogBody, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeTag(fAnyString)+protowire.SizeBytes(len(body))))
	b = appendAnyString(b, body)
	b = appendMessage(b, fLogAttributes, appendStringKV(nil, "warden.event.id", ev.ID))
	// An int attribute, the index converted to int64 as the SDK did.
	index := appendString(nil, fKeyValueKey, "warden.event.index")
	val := protowire.AppendTag(nil, fAnyInt, protowire.VarintType)
	index = appendMessage(index, fKeyValueValue, protowire.AppendVarint(val, m.entry.Index))
	b = appendMessage(b, fLogAttributes, index)
	b = appendMessage(b, fLogAttributes, appendStringKV(nil, "warden.action", ev.Action))
	b = appendMessage(b, fLogAttributes, appendStringKV(nil, "warden.plugin", ev.Actor.Plugin))
	b = appendMessage(b, fLogAttributes, appendStringKV(nil, "warden.outcome", ev.Outcome))
	if t := unixNano(observed); t != 0 {
		b = protowire.AppendTag(b, fLogObservedTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, t)
	}
	return appendString(b, fLogEventName, "warden.audit."+ev.Action)
}

// unixNano is the OTLP timestamp: 0 (unset) for times before the epoch.
func unixNano(t time.Time) uint64 {
	if n := t.UnixNano(); n > 0 {
		return uint64(n)
	}
	return 0
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// appendString writes a proto3 string field, left out when empty.
func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, validUTF8(s))
}

// appendStringKV writes a KeyValue whose value is a string AnyValue; the
// oneof is written even for "" so the attribute keeps its string type.
func appendStringKV(b []byte, key, value string) []byte {
	b = appendString(b, fKeyValueKey, key)
	return appendMessage(b, fKeyValueValue, appendAnyString(nil, validUTF8(value)))
}

func appendAnyString(b []byte, s string) []byte {
	b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// validUTF8 keeps every string field decodable: protobuf strings must be
// UTF-8 and receivers reject the whole request otherwise, which would stall
// the cursor on one event forever. Canonical events are valid UTF-8 already
// (audit replaces invalid bytes), so this copies nothing in practice.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// partialSuccess is what a 2xx answer may say about records it did not keep.
type partialSuccess struct {
	rejected int64
	message  string
}

// decodeLogsResponse reads an ExportLogsServiceResponse; unknown fields are
// skipped, as protobuf requires.
func decodeLogsResponse(b []byte) (partialSuccess, error) {
	var ps partialSuccess
	err := walkFields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != fResponsePartialSuccess || typ != protowire.BytesType {
			return nil
		}
		return walkFields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			switch {
			case num == fPartialRejected && typ == protowire.VarintType:
				n, _ := protowire.ConsumeVarint(v)
				ps.rejected = int64(n)
			case num == fPartialErrorMessage && typ == protowire.BytesType:
				ps.message = string(v)
			}
			return nil
		})
	})
	return ps, err
}

// walkFields calls f with each field of a message: for length-delimited
// fields v is the content, for the others the encoded value.
func walkFields(b []byte, f func(protowire.Number, protowire.Type, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		v := b[:n]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v)
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// otlpSink POSTs each batch as one ExportLogsServiceRequest to the
// configured URL and returns nil only for a 2xx answer (OTLP/HTTP, "Full
// Success" and "Partial Success"). Retries follow the OTLP/HTTP spec: 429,
// 502, 503 and 504 and failures to connect or to get an answer are retried
// within the send with exponential backoff, or after the Retry-After the
// collector names; every other answer fails the send at once. A failed send
// leaves the cursor where it was, so the next run resends the batch.
type otlpSink struct {
	endpoint string
	headers  map[string]string
	client   *http.Client

	timeout     time.Duration // per attempt
	attempts    int           // per send, the first included
	backoff     time.Duration // before the second attempt; doubles
	maxBackoff  time.Duration
	maxWaitHint time.Duration // longest Retry-After waited for inside one send
	sleep       func(context.Context, time.Duration) error

	// notBefore is a Retry-After too long to wait for inside a send: no
	// request goes out before it, so a following exporter honours it too.
	notBefore time.Time
}

const (
	otlpTimeout     = 30 * time.Second
	otlpAttempts    = 4
	otlpBackoff     = 500 * time.Millisecond
	otlpMaxBackoff  = 5 * time.Second
	otlpMaxWaitHint = 30 * time.Second
	otlpUserAgent   = "warden-audit-export (OTLP/HTTP protobuf logs)"
	// otlpMaxResponse bounds what is read of an answer: a partial-success
	// message or an error text, never megabytes.
	otlpMaxResponse = 64 << 10
)

func newOTLPSink(c SinkConfig) *otlpSink {
	var tr *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone() // proxy from the environment, TLS with the system roots
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	}
	return &otlpSink{
		endpoint: c.Endpoint,
		headers:  c.Headers,
		client: &http.Client{Transport: tr,
			// The configuration, whose changes are audited, names where the
			// audit stream goes; a redirect would send it (and the headers,
			// often credentials) somewhere it does not name.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		timeout:     otlpTimeout,
		attempts:    otlpAttempts,
		backoff:     otlpBackoff,
		maxBackoff:  otlpMaxBackoff,
		maxWaitHint: otlpMaxWaitHint,
		sleep:       sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errRetryable marks a failure the OTLP/HTTP spec allows to retry; after
// carries the collector's Retry-After, 0 when it gave none.
type errRetryable struct {
	err   error
	after time.Duration
}

func (e *errRetryable) Error() string { return e.err.Error() }
func (e *errRetryable) Unwrap() error { return e.err }

func (s *otlpSink) send(ctx context.Context, msgs []message) (delivery, error) {
	if wait := time.Until(s.notBefore); wait > 0 {
		return delivery{}, fmt.Errorf("export to OTLP %s: the collector asked for no request before %s (Retry-After)",
			s.endpoint, s.notBefore.UTC().Format(time.RFC3339))
	}
	body := encodeLogsRequest(msgs, time.Now())
	backoff := s.backoff
	for attempt := 1; ; attempt++ {
		ps, err := s.post(ctx, body)
		if err == nil {
			d := delivery{rejected: uint64(max(ps.rejected, 0))}
			if ps.rejected != 0 || ps.message != "" {
				d.warning = fmt.Sprintf("OTLP collector %s accepted the batch but rejected %d of %d records: %s",
					s.endpoint, ps.rejected, len(msgs), printable(ps.message))
			}
			return d, nil
		}
		var re *errRetryable
		if !errors.As(err, &re) || ctx.Err() != nil {
			return delivery{}, fmt.Errorf("export to OTLP: %w", err)
		}
		if re.after > s.maxWaitHint {
			s.notBefore = time.Now().Add(re.after)
			return delivery{}, fmt.Errorf("export to OTLP: %w; no request before %s", err, s.notBefore.UTC().Format(time.RFC3339))
		}
		if attempt >= s.attempts {
			return delivery{}, fmt.Errorf("export to OTLP: %w (after %d attempts)", err, attempt)
		}
		// Full jitter on the upper half, so exporters restarted together
		// do not retry together.
		wait := backoff/2 + rand.N(backoff/2+1)
		wait = max(wait, re.after)
		backoff = min(2*backoff, s.maxBackoff)
		if err := s.sleep(ctx, wait); err != nil {
			return delivery{}, fmt.Errorf("export to OTLP: waiting %s to retry after %v: %w", wait, re, err)
		}
	}
}

// post makes one attempt.
func (s *otlpSink) post(ctx context.Context, body []byte) (partialSuccess, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return partialSuccess{}, fmt.Errorf("request to %s: %w", s.endpoint, err)
	}
	req.Header.Set("User-Agent", otlpUserAgent)
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := s.client.Do(req)
	if err != nil {
		// No answer (refused, reset, timed out): the spec retries these.
		return partialSuccess{}, &errRetryable{err: err}
	}
	defer resp.Body.Close()
	// The status decides; the body only adds detail, so a body cut short
	// leaves the decision as it is.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, otlpMaxResponse))
	switch code := resp.StatusCode; {
	case code/100 == 2:
		if len(answer) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-protobuf") {
			return partialSuccess{}, nil
		}
		ps, err := decodeLogsResponse(answer)
		if err != nil {
			return partialSuccess{message: fmt.Sprintf("(unreadable answer: %v)", err)}, nil
		}
		return ps, nil
	case code == http.StatusTooManyRequests, code == http.StatusBadGateway,
		code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		return partialSuccess{}, &errRetryable{err: statusError(s.endpoint, resp, answer),
			after: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return partialSuccess{}, statusError(s.endpoint, resp, answer)
	}
}

func statusError(endpoint string, resp *http.Response, answer []byte) error {
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		return fmt.Errorf("collector %s answered %s, redirecting to %s: redirects are not followed; configure the endpoint that accepts the logs",
			endpoint, resp.Status, printable(loc))
	}
	text := printable(string(answer))
	if len(text) > 512 {
		text = text[:512] + "…"
	}
	if text == "" {
		text = "(empty)"
	}
	return fmt.Errorf("collector %s answered %s: %s", endpoint, resp.Status, text)
}

// printable keeps an answer from the network from writing control
// characters to a terminal or a log.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, strings.TrimSpace(validUTF8(s)))
}

// maxRetryAfter bounds how long a collector can hold the exporter off: a
// longer Retry-After (a mistake, or a hostile collector) counts as this.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header (RFC 9110 section 10.2.3): seconds
// or an HTTP date, at most maxRetryAfter; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		d = time.Duration(min(n, uint64(maxRetryAfter/time.Second))) * time.Second // n is MaxUint64 on ErrRange
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		d = t.Sub(now)
	}
	return min(d, maxRetryAfter)
}

func (s *otlpSink) close() error {
	s.client.CloseIdleConnections()
	return nil
}
