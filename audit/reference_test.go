package audit

// Expected values from outside implementations, never from this package's
// own code: tree hashes, stored hashes and proofs from
// golang.org/x/mod/sumdb/tlog (Go's checksum database, RFC 6962), canonical
// events from github.com/gowebpki/jcs (RFC 8785) over what encoding/json
// writes. The tests that pin warden's bytes compare against these.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode"

	"github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/tlog"
	"pgregory.net/rapid"
)

// tlogHashes is tlog's stored hashes of a log, in tlog's storage order, kept
// in memory: a tlog.HashReader.
type tlogHashes []tlog.Hash

func (s tlogHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("stored hash %d of %d", x, len(s))
		}
		out[i] = s[x]
	}
	return out, nil
}

// fatalf is what the helpers need of a *testing.T or a *rapid.T.
type fatalf interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// tlogStore returns what tlog stores for the records, in order.
func tlogStore(t fatalf, records [][]byte) tlogHashes {
	t.Helper()
	var s tlogHashes
	for i, r := range records {
		hs, err := tlog.StoredHashes(int64(i), r, s)
		if err != nil {
			t.Fatal(err)
		}
		s = append(s, hs...)
	}
	return s
}

// tlogRoot is tlog.TreeHash of the first n records.
func tlogRoot(t fatalf, records [][]byte, n int) tlog.Hash {
	t.Helper()
	h, err := tlog.TreeHash(int64(n), tlogStore(t, records[:n]))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// jcsOf is RFC 8785's canonical form of the JSON value encoding/json writes
// for v, as gowebpki/jcs computes it.
func jcsOf(t fatalf, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	out, err := jcs.Transform(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	if err != nil {
		t.Fatalf("jcs: %v\n%s", err, buf.Bytes())
	}
	return out
}

// eventObject is the JSON object docs/audit-format.md §1 defines for e,
// built here from the document's table (zero-valued members omitted), not
// by the encoder under test.
func eventObject(e *Event) map[string]any {
	m := map[string]any{"action": e.Action, "time": e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z")}
	str := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	obj := func(k string, kv ...string) {
		o := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] != "" {
				o[kv[i]] = kv[i+1]
			}
		}
		if len(o) > 0 {
			m[k] = o
		}
	}
	str("id", e.ID)
	obj("actor", "plugin", e.Actor.Plugin, "version", e.Actor.Version, "publisher", e.Actor.Publisher)
	str("session", e.Session)
	str("instance", e.Instance)
	str("resource", e.Resource)
	str("cap_hash", e.CapHash)
	obj("decision", "effect", e.Decision.Effect, "answer", e.Decision.Answer, "by", e.Decision.By, "reason", e.Decision.Reason)
	str("outcome", e.Outcome)
	if e.Error != nil {
		obj("error", "code", e.Error.Code, "message", e.Error.Message)
	}
	str("before_hash", e.BeforeHash)
	str("after_hash", e.AfterHash)
	if e.Bytes != 0 {
		m["bytes"] = e.Bytes
	}
	if e.DurationNS != 0 {
		m["duration_ns"] = e.DurationNS
	}
	if len(e.Detail) > 0 {
		d := map[string]any{}
		for k, v := range e.Detail {
			d[k] = v
		}
		m["detail"] = d
	}
	return m
}

// TestCanonicalIsRFC8785: for random events — strings drawn from every
// code point, control characters, U+2028, non-BMP and invalid UTF-8
// included; integers up to 2^53-1; random detail keys — the encoder's bytes
// are exactly what an outside RFC 8785 implementation makes of the event's
// object as encoding/json writes it.
func TestCanonicalIsRFC8785(t *testing.T) {
	text := rapid.OneOf(rapid.String(), rapid.StringOf(rapid.RuneFrom(nil, unicodeRanges)),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }))
	maybe := func(g *rapid.Generator[string]) *rapid.Generator[string] {
		return rapid.OneOf(rapid.Just(""), g)
	}
	hash := rapid.Map(rapid.SliceOfN(rapid.Byte(), 32, 32), func(b []byte) string { return fmt.Sprintf("sha256:%x", b) })
	// Times run from just after year 1 began (0001-01-01T00:00:00Z is Go's
	// zero time, which an event refuses) to the end of year 9999.
	rapid.Check(t, func(rt *rapid.T) {
		e := &Event{
			ID:       rapid.StringMatching(`[0-9a-f]{16}-[0-9]{1,5}`).Draw(rt, "id"),
			Time:     time.Unix(rapid.Int64Range(-62135596799, 253402300799).Draw(rt, "sec"), rapid.Int64Range(0, 999999999).Draw(rt, "ns")),
			Action:   rapid.StringN(1, 40, -1).Draw(rt, "action"),
			Actor:    Actor{Plugin: maybe(text).Draw(rt, "plugin"), Version: maybe(text).Draw(rt, "version"), Publisher: maybe(text).Draw(rt, "publisher")},
			Session:  maybe(text).Draw(rt, "session"),
			Instance: maybe(text).Draw(rt, "instance"),
			Resource: maybe(text).Draw(rt, "resource"),
			CapHash:  maybe(hash).Draw(rt, "cap_hash"),
			Decision: Decision{Effect: rapid.SampledFrom([]string{"", EffectAllow, EffectDeny, EffectAsk}).Draw(rt, "effect"),
				Answer: rapid.SampledFrom([]string{"", EffectAllow, EffectDeny}).Draw(rt, "answer"),
				By:     maybe(text).Draw(rt, "by"), Reason: maybe(text).Draw(rt, "reason")},
			Outcome:    maybe(text).Draw(rt, "outcome"),
			BeforeHash: maybe(hash).Draw(rt, "before_hash"),
			AfterHash:  maybe(hash).Draw(rt, "after_hash"),
			Bytes:      rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, maxSafeInt)).Draw(rt, "bytes"),
			DurationNS: rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, maxSafeInt)).Draw(rt, "duration_ns"),
			Detail:     rapid.MapOfN(rapid.StringMatching(`[a-z0-9_.-]{1,12}`), text, 0, 6).Draw(rt, "detail"),
		}
		if rapid.Bool().Draw(rt, "has_error") {
			e.Error = &Error{Code: maybe(text).Draw(rt, "code"), Message: maybe(text).Draw(rt, "message")}
		}
		got, err := e.AppendCanonical(nil)
		if err != nil {
			rt.Fatal(err)
		}
		if want := jcsOf(rt, eventObject(e)); !bytes.Equal(got, want) {
			rt.Fatalf("canonical encoding differs from RFC 8785:\n got %q\nwant %q", got, want)
		}
	})
}

// unicodeRanges draws from the places where JSON encoders disagree: C0
// controls, DEL and C1, the HTML characters, U+2028/9, the surrogate
// neighbourhood and the astral planes.
var unicodeRanges = &unicode.RangeTable{
	R16: []unicode.Range16{{Lo: 0x00, Hi: 0x7f, Stride: 1}, {Lo: 0x80, Hi: 0x9f, Stride: 1}, {Lo: 0x2028, Hi: 0x2029, Stride: 1},
		{Lo: 0xd7f0, Hi: 0xd7ff, Stride: 1}, {Lo: 0xe000, Hi: 0xe00f, Stride: 1}, {Lo: 0xfff0, Hi: 0xffff, Stride: 1}},
	R32: []unicode.Range32{{Lo: 0x10000, Hi: 0x1000f, Stride: 1}, {Lo: 0x1f600, Hi: 0x1f64f, Stride: 1}, {Lo: 0x10fff0, Hi: 0x10ffff, Stride: 1}},
}

// TestLedgerTreeIsTlog: a real ledger's checkpoints at sizes around every
// power of two commit to the root tlog computes from the stored records;
// its hash file holds exactly tlog's stored hashes (docs §3.3); its
// inclusion proofs are tlog's; and the offline verifier, which has its own
// tree code, accepts the log.
func TestLedgerTreeIsTlog(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "audit")
	l := openTest(t, dir, WithCheckpointEvery(1<<20))
	sizes := []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 200}
	var checkpoints []Checkpoint
	n := 0
	for _, size := range sizes {
		for ; n < size; n++ {
			if _, err := l.Append(ctx, testEvent(n)); err != nil {
				t.Fatal(err)
			}
		}
		c, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkpoints = append(checkpoints, c)
	}
	recs := readAllRecords(t, dir)
	payloads := make([][]byte, len(recs))
	for i, r := range recs {
		payloads[i] = r.payload
	}
	if len(payloads) != n {
		t.Fatalf("%d records, appended %d", len(payloads), n)
	}
	for _, c := range checkpoints {
		if want := tlogRoot(t, payloads, int(c.Size)); c.Root != want {
			t.Errorf("checkpoint of %d events commits to %x; tlog.TreeHash of the records is %x", c.Size, c.Root, want)
		}
	}
	stored := tlogStore(t, payloads)
	for _, i := range []int{0, 1, 2, 63, 64, 100, 199} {
		p, err := l.ProveInclusion(uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		want, err := tlog.ProveRecord(int64(n), int64(i), stored)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range want {
			got = append(got, b64(h))
		}
		if fmt.Sprint(p.Hashes) != fmt.Sprint(got) || p.LeafHash != b64(tlog.RecordHash(payloads[i])) {
			t.Errorf("proof of %d: %v, tlog.ProveRecord gives %v", i, p.Hashes, got)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "hashes"))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("WAUDHSH1")
	for _, h := range stored {
		want = append(want, h[:]...)
	}
	if !bytes.Equal(file, want) {
		t.Fatalf("the hash file (%d bytes) is not tlog's %d stored hashes", len(file), len(stored))
	}
	if err := verifyWith(t, dir, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}
