package export

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wardenproject/warden/audit"
)

type testKey struct{ priv ed25519.PrivateKey }

func (k testKey) KeyID() string                   { return "test" }
func (k testKey) Public() ed25519.PublicKey       { return k.priv.Public().(ed25519.PublicKey) }
func (k testKey) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(k.priv, msg), nil }

func newLedger(t *testing.T, n int) (*audit.Ledger, string) {
	t.Helper()
	seed := sha256.Sum256([]byte("export-test"))
	dir := filepath.Join(t.TempDir(), "audit")
	l, err := audit.Open(dir, audit.WithSigner(testKey{ed25519.NewKeyFromSeed(seed[:])}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	appendEvents(t, l, 0, n)
	return l, dir
}

func appendEvents(t *testing.T, l *audit.Ledger, from, n int) {
	t.Helper()
	actions := []string{"fs.read", "fs.write", "net.fetch", "grant"}
	for i := from; i < from+n; i++ {
		ev := &audit.Event{Time: time.Date(2025, 1, 2, 3, 4, 5, i, time.UTC), Action: actions[i%len(actions)],
			Actor: audit.Actor{Plugin: "p", Version: "1.0.0"}, Resource: "filesystem:/tmp/f" + strconv.Itoa(i),
			Decision: audit.Decision{Effect: audit.EffectAllow, By: "rule-1"}, Outcome: audit.OutcomeOK}
		if i%4 == 2 {
			ev.Resource = "net:https://api.example.com:8443/v1/x"
			ev.Decision.Effect = audit.EffectDeny
			ev.Outcome = audit.OutcomeError
		}
		if _, err := l.Enqueue(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, l *audit.Ledger, sinks ...SinkConfig) ([]Result, error) {
	t.Helper()
	x, err := New(dir, &Config{Sinks: sinks})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	return x.Once(context.Background(), l)
}

func TestFileSinkAtLeastOnceWithCursor(t *testing.T) {
	l, dir := newLedger(t, 10)
	out := filepath.Join(t.TempDir(), "events.ndjson")
	sc := SinkConfig{Name: "file", Type: "file", Path: out, BatchSize: 3}
	res, err := run(t, dir, l, sc)
	if err != nil || res[0].Sent != 10 || res[0].Cursor != 10 {
		t.Fatalf("first run: %+v %v", res, err)
	}
	// Nothing new: nothing sent, nothing duplicated.
	if res, err = run(t, dir, l, sc); err != nil || res[0].Sent != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	appendEvents(t, l, 10, 5)
	if res, err = run(t, dir, l, sc); err != nil || res[0].Sent != 5 {
		t.Fatalf("third run: %+v %v", res, err)
	}
	lines := readLines(t, out)
	if len(lines) != 15 {
		t.Fatalf("%d lines, want 15", len(lines))
	}
	for i, line := range lines {
		e, err := l.Get(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if line != string(e.Raw) {
			t.Fatalf("line %d is not the canonical event:\n%s\n%s", i, line, e.Raw)
		}
	}
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestFailedSendKeepsCursor: a sink that fails keeps its cursor, and the next
// run resends from there, so nothing is lost.
func TestFailedSendKeepsCursor(t *testing.T) {
	l, dir := newLedger(t, 6)
	out := filepath.Join(t.TempDir(), "missing-dir", "events.ndjson")
	sc := SinkConfig{Name: "f", Type: "file", Path: out, BatchSize: 2}
	if _, err := run(t, dir, l, sc); err == nil {
		t.Fatal("send into a missing directory succeeded")
	}
	x, _ := New(dir, &Config{Sinks: []SinkConfig{sc}})
	if c, _ := x.Cursor("f"); c != 0 {
		t.Fatalf("cursor moved to %d after a failed send", c)
	}
	x.Close()
	os.MkdirAll(filepath.Dir(out), 0o700)
	if res, err := run(t, dir, l, sc); err != nil || res[0].Sent != 6 {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if n := len(readLines(t, out)); n != 6 {
		t.Fatalf("%d lines after retry, want 6", n)
	}
}

func TestSyslogTCP(t *testing.T) {
	l, dir := newLedger(t, 8)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 100)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			// RFC 6587 octet counting: MSG-LEN SP SYSLOG-MSG
			lenStr, err := r.ReadString(' ')
			if err != nil {
				close(got)
				return
			}
			n, err := strconv.Atoi(strings.TrimSpace(lenStr))
			if err != nil {
				t.Errorf("bad frame length %q", lenStr)
				return
			}
			msg := make([]byte, n)
			if _, err := io.ReadFull(r, msg); err != nil {
				t.Errorf("short frame: %v", err)
				return
			}
			got <- string(msg)
		}
	}()
	res, err := run(t, dir, l, SinkConfig{Name: "tcp", Type: "syslog", Network: "tcp", Address: ln.Addr().String(), Hostname: "host1", Format: "ocsf"})
	if err != nil || res[0].Sent != 8 {
		t.Fatalf("%+v %v", res, err)
	}
	for i := range 8 {
		msg := <-got
		e, _ := l.Get(uint64(i))
		checkSyslog(t, msg, e, true)
	}
}

func checkSyslog(t *testing.T, msg string, e audit.Entry, ocsf bool) {
	t.Helper()
	// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG
	parts := strings.SplitN(msg, " ", 7)
	if len(parts) != 7 || !strings.HasPrefix(parts[0], "<") || !strings.HasSuffix(parts[0], ">1") {
		t.Fatalf("not RFC 5424: %q", msg)
	}
	pri, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(parts[0], "<"), ">1"))
	if pri/8 != 13 {
		t.Errorf("facility %d, want 13 (log audit)", pri/8)
	}
	if _, err := time.Parse(time.RFC3339Nano, parts[1]); err != nil {
		t.Errorf("timestamp %q: %v", parts[1], err)
	}
	if parts[2] != "host1" || parts[3] != "warden" || parts[4] != "-" || parts[5] != e.Event.Action {
		t.Errorf("header fields %q", parts[:6])
	}
	wantSD := fmt.Sprintf(`[warden@32473 id="%s" index="%d"] `, e.Event.ID, e.Index)
	if !strings.HasPrefix(parts[6], wantSD) {
		t.Fatalf("structured data: %q, want prefix %q", parts[6], wantSD)
	}
	body := strings.TrimPrefix(parts[6], wantSD)
	if !ocsf {
		if body != string(e.Raw) {
			t.Errorf("body %q, want the canonical event", body)
		}
		return
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("OCSF body: %v", err)
	}
	if m["metadata"].(map[string]any)["uid"] != e.Event.ID {
		t.Errorf("OCSF metadata.uid %v, want %s", m["metadata"], e.Event.ID)
	}
}

func TestSyslogUDP(t *testing.T) {
	l, dir := newLedger(t, 5)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	res, err := run(t, dir, l, SinkConfig{Name: "udp", Type: "syslog", Network: "udp", Address: pc.LocalAddr().String(), Hostname: "host1"})
	if err != nil || res[0].Sent != 5 {
		t.Fatalf("%+v %v", res, err)
	}
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 5 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		e, _ := l.Get(uint64(i))
		checkSyslog(t, string(buf[:n]), e, false)
	}
}

func TestOTLPHTTP(t *testing.T) {
	l, dir := newLedger(t, 7)
	var mu sync.Mutex
	var ids []string
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			http.Error(w, "down", http.StatusBadRequest)
			return
		}
		if r.URL.Path != "/v1/logs" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("request %s %s", r.URL.Path, r.Header.Get("Content-Type"))
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = gz
		}
		data, _ := io.ReadAll(body)
		var req collogs.ExportLogsServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			t.Errorf("decode OTLP request: %v", err)
			return
		}
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					for _, kv := range lr.Attributes {
						if kv.Key == "warden.event.id" {
							ids = append(ids, kv.Value.GetStringValue())
						}
					}
					var m map[string]any
					if err := json.Unmarshal([]byte(lr.Body.GetStringValue()), &m); err != nil {
						t.Errorf("body is not JSON: %v", err)
					}
				}
			}
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	sc := SinkConfig{Name: "otel", Type: "otlp", Endpoint: srv.URL + "/v1/logs", BatchSize: 4}
	if _, err := run(t, dir, l, sc); err == nil {
		t.Fatal("export to a failing collector reported success")
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	res, err := run(t, dir, l, sc)
	if err != nil || res[0].Sent != 7 {
		t.Fatalf("%+v %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 7 {
		t.Fatalf("collector got %d events, want 7: %v", len(ids), ids)
	}
	for i, id := range ids {
		e, _ := l.Get(uint64(i))
		if id != e.Event.ID {
			t.Fatalf("event %d arrived as %s, want %s", i, id, e.Event.ID)
		}
	}
}

func TestOCSFMapping(t *testing.T) {
	l, _ := newLedger(t, 4)
	want := []struct{ class, activity, status int }{{1001, 2, 1}, {1001, 3, 1}, {4001, 5, 2}, {6003, 1, 1}}
	for i, w := range want {
		e, _ := l.Get(uint64(i))
		m := OCSF(e)
		if m["class_uid"] != w.class || m["activity_id"] != w.activity || m["status_id"] != w.status || m["type_uid"] != w.class*100+w.activity {
			t.Errorf("event %d (%s): class %v activity %v status %v", i, e.Event.Action, m["class_uid"], m["activity_id"], m["status_id"])
		}
	}
	e, _ := l.Get(2)
	dst := OCSF(e)["dst_endpoint"].(map[string]any)
	if dst["hostname"] != "api.example.com" || dst["port"] != 8443 {
		t.Errorf("dst_endpoint %v", dst)
	}
}

func TestConfigValidationNamesField(t *testing.T) {
	for _, c := range []struct {
		cfg  string
		want string
	}{
		{`{"sinks":[{"name":"a","type":"carrier-pigeon"}]}`, "sinks[0].type"},
		{`{"sinks":[{"name":"a","type":"file","path":"rel"}]}`, "sinks[0].path"},
		{`{"sinks":[{"name":"a","type":"file","path":"/x"},{"name":"a","type":"file","path":"/y"}]}`, "sinks[1].name"},
		{`{"sinks":[{"name":"a","type":"syslog","address":"nope"}]}`, "sinks[0].address"},
		{`{"sinks":[{"name":"a","type":"otlp","endpoint":"ftp://x"}]}`, "sinks[0].endpoint"},
		{`{"sinks":[{"name":"a","type":"file","path":"/x","format":"cef"}]}`, "sinks[0].format"},
		{`{"sinks":[{"name":"a","type":"otlp","endpoint":"http://c/v1/logs","headers":{"bad name":"v"}}]}`, `sinks[0].headers["bad name"]`},
		{`{"sinks":[{"name":"a","type":"otlp","endpoint":"http://c/v1/logs","headers":{"x-key":"s3cret\r\nHost: evil"}}]}`, `sinks[0].headers["x-key"]`},
		{`{"sinks":[],"extra":1}`, "unknown field"},
	} {
		p := filepath.Join(t.TempDir(), ConfigFile)
		os.WriteFile(p, []byte(c.cfg), 0o600)
		if _, _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want mention of %s", c.cfg, err, c.want)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows a header value, often a credential: %v", err)
		}
	}
}

func TestConfigChangeIsAudited(t *testing.T) {
	l, dir := newLedger(t, 1)
	raw := []byte(`{"sinks":[{"name":"f","type":"file","path":"/tmp/x.ndjson"}]}`)
	for i, want := range []bool{true, false} {
		changed, err := RecordConfig(context.Background(), dir, raw, l)
		if err != nil || changed != want {
			t.Fatalf("call %d: changed=%v err=%v, want %v", i, changed, err, want)
		}
	}
	e, err := l.Get(1)
	if err != nil || e.Event.Action != audit.ActionExportConfig || e.Event.Detail["sinks"] != "f=file" {
		t.Fatalf("event 1: %+v %v", e.Event, err)
	}
	raw2 := []byte(`{"sinks":[]}`)
	if changed, err := RecordConfig(context.Background(), dir, raw2, l); err != nil || !changed {
		t.Fatalf("changed config not recorded: %v", err)
	}
	e, _ = l.Get(2)
	if e.Event.BeforeHash == "" || e.Event.AfterHash == e.Event.BeforeHash {
		t.Fatalf("second change lacks before/after hashes: %+v", e.Event)
	}
}
