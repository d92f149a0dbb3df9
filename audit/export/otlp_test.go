package export

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"github.com/wardenproject/warden/audit"
)

// The tests here decode what the sink sends with the official generated
// OTLP types (go.opentelemetry.io/proto/otlp, test-only: the binary does not
// link them), so the encoder is checked against an implementation that is
// not warden's.

func decodeRequest(t testing.TB, b []byte) *collogs.ExportLogsServiceRequest {
	t.Helper()
	var req collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("the official OTLP types cannot decode the request: %v", err)
	}
	return &req
}

func records(req *collogs.ExportLogsServiceRequest) []*logspb.LogRecord {
	var out []*logspb.LogRecord
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			out = append(out, sl.LogRecords...)
		}
	}
	return out
}

// TestOTLPEncoderMatchesSDKRequest: for the same events, the encoder sends
// the ExportLogsServiceRequest the OpenTelemetry SDK exporter sent before it
// was replaced (testdata/otlp-sdk-request.binpb, recorded from otlploghttp
// v0.23.0), apart from the observed time, which is the send time.
func TestOTLPEncoderMatchesSDKRequest(t *testing.T) {
	golden, err := os.ReadFile("testdata/otlp-sdk-request.binpb")
	if err != nil {
		t.Fatal(err)
	}
	want := decodeRequest(t, golden)
	observed := time.Date(2026, 5, 6, 7, 8, 9, 10, time.UTC)
	mine := encodeLogsRequest(vectorMessages(t), observed)
	got := decodeRequest(t, mine)
	for _, r := range records(got) {
		if r.ObservedTimeUnixNano != uint64(observed.UnixNano()) {
			t.Fatalf("observed time %d, want %d", r.ObservedTimeUnixNano, observed.UnixNano())
		}
	}
	for _, r := range records(want) {
		r.ObservedTimeUnixNano = uint64(observed.UnixNano())
	}
	if !proto.Equal(got, want) {
		t.Fatalf("request differs from the SDK's:\n got %v\nwant %v", got, want)
	}
	// Field order too: the same bytes as the Go protobuf runtime writes.
	wantBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mine, wantBytes) {
		t.Errorf("same message, different bytes than the protobuf runtime (%d vs %d bytes)", len(mine), len(wantBytes))
	}
}

// collector is a loopback OTLP/HTTP receiver that decodes with the official
// types and answers with the scripted responses in turn (the last repeats).
type collector struct {
	t       *testing.T
	mu      sync.Mutex
	answers []func(w http.ResponseWriter, r *http.Request)
	reqs    []*http.Request
	got     []*collogs.ExportLogsServiceRequest
	srv     *httptest.Server
}

func newCollector(t *testing.T, answers ...func(w http.ResponseWriter, r *http.Request)) *collector {
	c := &collector{t: t, answers: answers}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	c.mu.Lock()
	n := len(c.reqs)
	c.reqs = append(c.reqs, r)
	c.got = append(c.got, decodeRequest(c.t, body))
	answer := c.answers[min(n, len(c.answers)-1)]
	c.mu.Unlock()
	answer(w, r)
}

func (c *collector) requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, "answer "+strconv.Itoa(code))
	}
}

// otlpExporter builds an exporter with one OTLP sink whose waits are
// recorded instead of slept, so retry tests take no wall time.
func otlpExporter(t *testing.T, dir string, sc SinkConfig) (*Exporter, *otlpSink, *[]time.Duration) {
	t.Helper()
	x, err := New(dir, &Config{Sinks: []SinkConfig{sc}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	s := x.sinks[0].(*otlpSink)
	var waits []time.Duration
	s.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return x, s, &waits
}

func otlpConfig(c *collector) SinkConfig {
	return SinkConfig{Name: "otel", Type: "otlp", Endpoint: c.srv.URL + "/v1/logs", BatchSize: 3,
		Headers: map[string]string{"Authorization": "Bearer t0ken", "Content-Type": "text/plain"}}
}

// TestOTLPRequestOnTheWire: every event arrives once, in order, mapped as
// docs/audit-format.md says, in requests the official types decode, with the
// configured headers (which cannot override the content type).
func TestOTLPRequestOnTheWire(t *testing.T) {
	l, dir := newLedger(t, 7)
	c := newCollector(t, status(http.StatusOK))
	x, _, _ := otlpExporter(t, dir, otlpConfig(c))
	before := time.Now()
	res, err := x.Once(context.Background(), l)
	if err != nil || res[0].Sent != 7 || res[0].Cursor != 7 || res[0].Rejected != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if c.requests() != 3 {
		t.Fatalf("%d requests for 7 events in batches of 3", c.requests())
	}
	for _, r := range c.reqs {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/logs" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
			r.Header.Get("Authorization") != "Bearer t0ken" || !strings.HasPrefix(r.Header.Get("User-Agent"), "warden") {
			t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
		}
	}
	var i uint64
	for _, req := range c.got {
		if len(req.ResourceLogs) != 1 || len(req.ResourceLogs[0].ScopeLogs) != 1 {
			t.Fatalf("want one resource and one scope per request: %v", req)
		}
		rl := req.ResourceLogs[0]
		if a := rl.Resource.GetAttributes(); len(a) != 1 || a[0].Key != "service.name" || a[0].Value.GetStringValue() != "warden" {
			t.Errorf("resource %v", rl.Resource)
		}
		if rl.ScopeLogs[0].Scope.GetName() != otlpScope {
			t.Errorf("scope %v", rl.ScopeLogs[0].Scope)
		}
		for _, r := range rl.ScopeLogs[0].LogRecords {
			e, err := l.Get(i)
			if err != nil {
				t.Fatal(err)
			}
			checkRecord(t, r, e, before)
			i++
		}
	}
	if i != 7 {
		t.Fatalf("collector decoded %d records, want 7", i)
	}
}

func checkRecord(t *testing.T, r *logspb.LogRecord, e audit.Entry, before time.Time) {
	t.Helper()
	ev := e.Event
	wantSev, wantText := logspb.SeverityNumber_SEVERITY_NUMBER_INFO, "INFO"
	if ev.Outcome == audit.OutcomeError || ev.Decision.Effect == audit.EffectDeny {
		wantSev, wantText = logspb.SeverityNumber_SEVERITY_NUMBER_WARN, "WARN"
	}
	if r.TimeUnixNano != uint64(ev.Time.UnixNano()) || r.ObservedTimeUnixNano < uint64(before.UnixNano()) ||
		r.SeverityNumber != wantSev || r.SeverityText != wantText || r.EventName != "warden.audit."+ev.Action ||
		r.Body.GetStringValue() != string(e.Raw) || len(r.TraceId) != 0 || len(r.SpanId) != 0 || r.Flags != 0 {
		t.Errorf("record %d: %v", e.Index, r)
	}
	attrs := map[string]any{}
	for _, kv := range r.Attributes {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			attrs[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			attrs[kv.Key] = v.IntValue
		default:
			attrs[kv.Key] = kv.Value
		}
	}
	want := map[string]any{"warden.event.id": ev.ID, "warden.event.index": int64(e.Index), "warden.action": ev.Action,
		"warden.plugin": ev.Actor.Plugin, "warden.outcome": ev.Outcome}
	if len(attrs) != len(want) {
		t.Errorf("record %d attributes %v, want %v", e.Index, attrs, want)
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("record %d attribute %s = %v, want %v", e.Index, k, attrs[k], v)
		}
	}
}

// TestOTLPNotRetried: answers other than 429, 502, 503 and 504 are final
// (OTLP/HTTP spec, "Failures"): one request, the error names the status and
// the collector's text, and the cursor stays for the next run.
func TestOTLPNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 413, 500, 501} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			l, dir := newLedger(t, 2)
			c := newCollector(t, status(code))
			x, _, waits := otlpExporter(t, dir, otlpConfig(c))
			res, err := x.Once(context.Background(), l)
			if err == nil || !strings.Contains(err.Error(), strconv.Itoa(code)) || !strings.Contains(err.Error(), "answer "+strconv.Itoa(code)) {
				t.Fatalf("error %v, want the status and the collector's text", err)
			}
			if c.requests() != 1 || len(*waits) != 0 {
				t.Fatalf("%d requests, waits %v: a final answer was retried", c.requests(), *waits)
			}
			if res[0].Cursor != 0 || res[0].Sent != 0 {
				t.Fatalf("cursor moved on a failure: %+v", res[0])
			}
		})
	}
}

// TestOTLPRetried: 429, 502, 503 and 504 are retried with growing waits
// until the collector accepts, and the batch is then delivered once.
func TestOTLPRetried(t *testing.T) {
	for _, code := range []int{429, 502, 503, 504} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			l, dir := newLedger(t, 2)
			c := newCollector(t, status(code), status(code), status(code), status(http.StatusOK))
			x, s, waits := otlpExporter(t, dir, otlpConfig(c))
			res, err := x.Once(context.Background(), l)
			if err != nil || res[0].Sent != 2 || res[0].Cursor != 2 {
				t.Fatalf("%+v %v", res, err)
			}
			if c.requests() != 4 || len(*waits) != 3 {
				t.Fatalf("%d requests, waits %v; want 4 and 3", c.requests(), *waits)
			}
			checkBackoff(t, s, *waits)
		})
	}
}

// checkBackoff: wait n lies in the upper half of backoff·2ⁿ (capped).
func checkBackoff(t *testing.T, s *otlpSink, waits []time.Duration) {
	t.Helper()
	b := s.backoff
	for i, w := range waits {
		if w < b/2 || w > b {
			t.Errorf("wait %d is %s, want within [%s, %s]", i, w, b/2, b)
		}
		b = min(2*b, s.maxBackoff)
	}
}

// TestOTLPRetriesEnd: a collector that stays unavailable gets a bounded
// number of attempts; the send fails and the cursor holds.
func TestOTLPRetriesEnd(t *testing.T) {
	l, dir := newLedger(t, 2)
	c := newCollector(t, status(http.StatusServiceUnavailable))
	x, s, waits := otlpExporter(t, dir, otlpConfig(c))
	s.maxBackoff = s.backoff * 2 // the cap applies
	res, err := x.Once(context.Background(), l)
	if err == nil || !strings.Contains(err.Error(), "after 4 attempts") || res[0].Cursor != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if c.requests() != otlpAttempts || len(*waits) != otlpAttempts-1 {
		t.Fatalf("%d requests, waits %v", c.requests(), *waits)
	}
	checkBackoff(t, s, *waits)
}

// TestOTLPRetryAfter: the collector's Retry-After is waited for when it is
// longer than the backoff.
func TestOTLPRetryAfter(t *testing.T) {
	l, dir := newLedger(t, 2)
	c := newCollector(t, status(http.StatusTooManyRequests, "Retry-After", "7"),
		status(http.StatusServiceUnavailable, "Retry-After", "0"), status(http.StatusOK))
	x, s, waits := otlpExporter(t, dir, otlpConfig(c))
	if _, err := x.Once(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 2 || (*waits)[0] != 7*time.Second {
		t.Fatalf("waits %v, want 7s first", *waits)
	}
	if w := (*waits)[1]; w < s.backoff || w > 2*s.backoff {
		t.Fatalf("after Retry-After: 0 the wait is %s, want the backoff", w)
	}
}

// TestOTLPLongRetryAfterHoldsLaterSends: a Retry-After longer than a send
// may wait ends the send at once, and no request leaves before that time,
// also from the next run of the same exporter (as `export` without --once).
func TestOTLPLongRetryAfterHoldsLaterSends(t *testing.T) {
	l, dir := newLedger(t, 2)
	c := newCollector(t, status(http.StatusServiceUnavailable, "Retry-After", "3600"), status(http.StatusOK))
	x, _, waits := otlpExporter(t, dir, otlpConfig(c))
	for run := range 2 {
		res, err := x.Once(context.Background(), l)
		if err == nil || !strings.Contains(err.Error(), "no request before") || res[0].Cursor != 0 {
			t.Fatalf("run %d: %+v %v", run, res, err)
		}
	}
	if c.requests() != 1 || len(*waits) != 0 {
		t.Fatalf("%d requests, waits %v: the collector's Retry-After was not honoured", c.requests(), *waits)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"12", 12 * time.Second}, {" 3 ", 3 * time.Second},
		{"-1", 0}, {"1.5", 0}, {"soon", 0},
		{"99999999999999999999", maxRetryAfter}, {"86400", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(48 * time.Hour).Format(time.RFC850), maxRetryAfter},
	} {
		if got := retryAfter(c.v, now); got != c.want {
			t.Errorf("Retry-After %q: %s, want %s", c.v, got, c.want)
		}
	}
}

// TestOTLPPartialSuccess: a 2xx with rejected records is an acceptance (the
// spec forbids resending it): the cursor moves, nothing is retried, and
// the rejection is counted with the collector's message, made printable.
func TestOTLPPartialSuccess(t *testing.T) {
	answer := func(rejected int64, msg string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := proto.Marshal(&collogs.ExportLogsServiceResponse{PartialSuccess: &collogs.ExportLogsPartialSuccess{
				RejectedLogRecords: rejected, ErrorMessage: msg}})
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.Write(b)
		}
	}
	l, dir := newLedger(t, 5)
	c := newCollector(t, answer(2, "record too large\x1b[31m"), answer(0, ""), answer(0, "deprecated field"))
	x, _, waits := otlpExporter(t, dir, otlpConfig(c))
	res, err := x.Once(context.Background(), l)
	if err != nil || res[0].Sent != 5 || res[0].Cursor != 5 || res[0].Rejected != 2 {
		t.Fatalf("%+v %v", res, err)
	}
	if c.requests() != 2 || len(*waits) != 0 {
		t.Fatalf("%d requests, waits %v: a partial success was retried", c.requests(), *waits)
	}
	if !strings.Contains(res[0].Warning, "rejected 2 of 3 records: record too large") || strings.ContainsRune(res[0].Warning, 0x1b) {
		t.Fatalf("warning %q", res[0].Warning)
	}
	appendEvents(t, l, 5, 1)
	res, err = x.Once(context.Background(), l)
	if err != nil || res[0].Rejected != 0 || !strings.Contains(res[0].Warning, "deprecated field") {
		t.Fatalf("message without rejections: %+v %v", res, err)
	}
}

// TestOTLPTimeout: a collector that never answers costs each attempt its
// timeout, is retried, and the send ends with a timeout error.
func TestOTLPTimeout(t *testing.T) {
	l, dir := newLedger(t, 1)
	release := make(chan struct{})
	c := newCollector(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	x, s, _ := otlpExporter(t, dir, otlpConfig(c))
	s.timeout = 50 * time.Millisecond
	res, err := x.Once(context.Background(), l)
	if !errors.Is(err, context.DeadlineExceeded) || res[0].Cursor != 0 {
		t.Fatalf("%+v %v, want a deadline error and the cursor unmoved", res, err)
	}
	if c.requests() != otlpAttempts {
		t.Fatalf("%d requests, want %d attempts", c.requests(), otlpAttempts)
	}
}

// TestOTLPNoCollector: nothing listening is retried like any failure to
// connect, then reported.
func TestOTLPNoCollector(t *testing.T) {
	l, dir := newLedger(t, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	x, _, waits := otlpExporter(t, dir, SinkConfig{Name: "otel", Type: "otlp", Endpoint: "http://" + addr + "/v1/logs"})
	res, err := x.Once(context.Background(), l)
	if err == nil || !strings.Contains(err.Error(), addr) || res[0].Cursor != 0 || len(*waits) != otlpAttempts-1 {
		t.Fatalf("%+v %v waits %v", res, err, *waits)
	}
}

// TestOTLPRedirectNotFollowed (attack): a collector, or whoever answers at
// its address, cannot move the audit stream and its credentials elsewhere
// with a redirect: the send fails naming the redirect, the other address gets
// nothing, and the cursor holds.
func TestOTLPRedirectNotFollowed(t *testing.T) {
	l, dir := newLedger(t, 2)
	elsewhere := newCollector(t, status(http.StatusOK))
	for _, code := range []int{301, 302, 307, 308} {
		c := newCollector(t, status(code, "Location", elsewhere.srv.URL+"/v1/logs"))
		x, _, _ := otlpExporter(t, dir, otlpConfig(c))
		res, err := x.Once(context.Background(), l)
		if err == nil || !strings.Contains(err.Error(), "redirects are not followed") || res[0].Cursor != 0 {
			t.Fatalf("%d: %+v %v", code, res, err)
		}
	}
	if n := elsewhere.requests(); n != 0 {
		t.Fatalf("the redirect target received %d requests", n)
	}
}

// TestOTLPEncodeProperty: for any batch of events with any strings (invalid
// UTF-8 included), the official types decode the request, and every field
// is the event's, with invalid UTF-8 replaced as protobuf requires.
func TestOTLPEncodeProperty(t *testing.T) {
	str := rapid.OneOf(rapid.String(), rapid.StringOf(rapid.Rune()),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
		rapid.SampledFrom([]string{"", "\x00", "\xff", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x82", "\ufffd", "\U0010ffff", "\ufeff", "a\u202eb"}))
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 20).Draw(rt, "n")
		msgs := make([]message, n)
		for i := range msgs {
			ev := &audit.Event{ID: str.Draw(rt, "id"), Action: str.Draw(rt, "action"), Outcome: str.Draw(rt, "outcome"),
				Actor: audit.Actor{Plugin: str.Draw(rt, "plugin")},
				Time:  time.Unix(0, rapid.Int64().Draw(rt, "time")),
				Decision: audit.Decision{Effect: rapid.SampledFrom([]string{"", audit.EffectAllow, audit.EffectDeny, audit.EffectAsk}).Draw(rt, "effect"),
					Answer: rapid.SampledFrom([]string{"", audit.EffectAllow, audit.EffectDeny}).Draw(rt, "answer")}}
			msgs[i] = message{entry: audit.Entry{Index: rapid.Uint64().Draw(rt, "index"), Event: ev}, payload: []byte(str.Draw(rt, "payload"))}
		}
		checkRoundTrip(rt, msgs)
	})
}

func checkRoundTrip(t interface{ Fatalf(string, ...any) }, msgs []message) {
	observed := time.Unix(1700000000, 5)
	var req collogs.ExportLogsServiceRequest
	if err := proto.Unmarshal(encodeLogsRequest(msgs, observed), &req); err != nil {
		t.Fatalf("the official OTLP types cannot decode the request: %v", err)
	}
	recs := records(&req)
	if len(recs) != len(msgs) {
		t.Fatalf("%d records for %d events", len(recs), len(msgs))
	}
	fix := func(s string) string { return strings.ToValidUTF8(s, "\ufffd") }
	for i, r := range recs {
		m := msgs[i]
		ev := m.entry.Event
		wantTime := uint64(max(ev.Time.UnixNano(), 0))
		warn := ev.Outcome == audit.OutcomeError || effective(ev.Decision) == audit.EffectDeny
		if r.TimeUnixNano != wantTime || r.ObservedTimeUnixNano != uint64(observed.UnixNano()) ||
			(r.SeverityText == "WARN") != warn || r.EventName != fix("warden.audit."+ev.Action) ||
			r.Body.GetStringValue() != fix(string(m.payload)) || len(r.Attributes) != 5 {
			t.Fatalf("record %d: %v for %+v", i, r, ev)
		}
		want := []string{fix(ev.ID), "", fix(ev.Action), fix(ev.Actor.Plugin), fix(ev.Outcome)}
		for j, kv := range r.Attributes {
			if j == 1 {
				if kv.Key != "warden.event.index" || kv.Value.GetIntValue() != int64(m.entry.Index) {
					t.Fatalf("record %d index attribute %v, want %d", i, kv, int64(m.entry.Index))
				}
				continue
			}
			if _, ok := kv.Value.Value.(*commonpb.AnyValue_StringValue); !ok || kv.Value.GetStringValue() != want[j] {
				t.Fatalf("record %d attribute %s = %v, want string %q", i, kv.Key, kv.Value, want[j])
			}
		}
	}
}

// FuzzOTLPEncode: one event with arbitrary strings always encodes to a
// request the official types decode to the same fields.
func FuzzOTLPEncode(f *testing.F) {
	for _, s := range []string{"", "fs.read", "\x00", "\xff\xfe", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x82", "\ufffd",
		"\U0010ffff", "\ufeff", "e\u0301", "a\u202eb", "😀", strings.Repeat("é", 300)} {
		f.Add(s, s, s, []byte(s), uint64(len(s)), int64(len(s))*1e9)
	}
	f.Add("id", "x", "error", []byte(`{"a":1}`), uint64(1<<63), int64(-1))
	f.Fuzz(func(t *testing.T, id, action, plugin string, payload []byte, index uint64, nanos int64) {
		ev := &audit.Event{ID: id, Action: action, Actor: audit.Actor{Plugin: plugin}, Outcome: action, Time: time.Unix(0, nanos)}
		checkRoundTrip(t, []message{{entry: audit.Entry{Index: index, Event: ev}, payload: payload}})
	})
}

// FuzzDecodeLogsResponse: the collector's answer is untrusted input; the
// decoder never panics and agrees with the official types whenever they
// accept the bytes.
func FuzzDecodeLogsResponse(f *testing.F) {
	for _, ps := range []*collogs.ExportLogsPartialSuccess{nil, {}, {RejectedLogRecords: 3, ErrorMessage: "too big"},
		{RejectedLogRecords: -1}, {ErrorMessage: "\u202e"}} {
		b, _ := proto.Marshal(&collogs.ExportLogsServiceResponse{PartialSuccess: ps})
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x05, 0x08, 0x01, 0x12})       // truncated
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01, 0x1a, 0x00}) // unknown field after
	f.Add([]byte{0x0b, 0x08, 0x01, 0x0c})             // a group
	f.Add([]byte{0x0a, 0x04, 0x08, 0x01, 0x08, 0x02}) // repeated scalar: last wins
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeLogsResponse(b)
		var want collogs.ExportLogsServiceResponse
		if proto.Unmarshal(b, &want) != nil {
			return
		}
		if err != nil {
			t.Fatalf("the official types accept %x, the decoder says %v", b, err)
		}
		if got.rejected != want.GetPartialSuccess().GetRejectedLogRecords() || got.message != want.GetPartialSuccess().GetErrorMessage() {
			t.Fatalf("%x: decoded %+v, official %v", b, got, &want)
		}
	})
}

// TestBinaryLinksNoGRPC: the OTLP sink no longer drags grpc, genproto or the
// OpenTelemetry SDK into the warden binary (issue 11: they were 7.5 MB of
// it); only protowire is left of protobuf.
func TestBinaryLinksNoGRPC(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/wardenproject/warden/cmd/warden").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "google.golang.org/grpc"), strings.HasPrefix(pkg, "google.golang.org/genproto"),
			strings.HasPrefix(pkg, "go.opentelemetry.io/"), strings.HasPrefix(pkg, "github.com/grpc-ecosystem/"),
			strings.HasPrefix(pkg, "google.golang.org/protobuf/") && !strings.HasPrefix(pkg, "google.golang.org/protobuf/encoding/protowire") &&
				!strings.HasPrefix(pkg, "google.golang.org/protobuf/internal/errors") && !strings.HasPrefix(pkg, "google.golang.org/protobuf/internal/detrand"):
			t.Errorf("cmd/warden links %s", pkg)
		}
	}
}
