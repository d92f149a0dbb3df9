package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"
	"golang.org/x/mod/sumdb/tlog"
)

// testdata/vectors.json pins the bytes of docs/audit-format.md §1-2. Its
// events are written by hand; its canonical encodings, leaf hashes and tree
// roots come from outside implementations only (gowebpki/jcs for RFC 8785,
// x/mod's tlog for RFC 6962), so a bug in this package's encoder or tree
// cannot make its own expected values. TestVectors checks the file against
// those implementations, then checks warden against the file.

// vectorEvents are the file's events as Go values, index for index.
func vectorEvents() []*Event {
	t := time.Date(2025, 3, 1, 12, 0, 0, 1, time.UTC)
	return []*Event{
		{ID: "0123456789abcdef-0", Time: t, Action: "fs.read", Actor: Actor{Plugin: "sheet-gen", Version: "1.2.0", Publisher: "acme"},
			Resource: "filesystem:/home/u/a.txt", Decision: Decision{Effect: EffectAllow, By: "grant:g-1"}, Outcome: OutcomeOK, Bytes: 812},
		{ID: "0123456789abcdef-1", Time: t.Add(time.Second), Action: ActionGrant, Actor: Actor{Plugin: "warden"}, Outcome: OutcomeOK,
			Detail: map[string]string{"to": "sheet-gen", "acts": "read"}},
		{ID: "0123456789abcdef-2", Time: t, Action: "fs.write", Resource: "filesystem:/tmp/\"q\"\\\n\x01é\u2028</>",
			Decision: Decision{Effect: EffectAsk, Answer: EffectDeny, By: "rule-7", Reason: "egress"}, Outcome: OutcomeError,
			Error:      &Error{Code: "denied", Message: "the user said no"},
			BeforeHash: "sha256:" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", DurationNS: 1500},
		{ID: "0123456789abcdef-3", Time: time.Date(2025, 12, 31, 23, 59, 59, 999999999, time.UTC), Action: "fs.rename",
			Session: "s-1", Instance: "inst-7", Actor: Actor{Plugin: "acme.sheets", Version: "2.0.0-rc.1", Publisher: "Acme & Co"},
			Resource: "filesystem:/data/b.csv", CapHash: "sha256:21b82dd4c2290b05c46c29316211e52453e3311281bf05b2f6fe426a5fab9790",
			Decision: Decision{Effect: EffectAllow, By: "rule:data", Reason: "The data folder is the plugin's."}, Outcome: OutcomeOK,
			BeforeHash: "sha256:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
			AfterHash:  "sha256:0000000000000000000000000000000000000000000000000000000000000001",
			Bytes:      1<<53 - 1, DurationNS: 1<<53 - 1,
			Detail: map[string]string{"to": "/data/c.csv", "ab": "5", "a_b": "1", "a0": "4", "a.b": "2", "a-b": "3"}},
		// In another time zone: the encoding is UTC.
		{ID: "0123456789abcdef-4", Time: time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), Action: "log.write",
			Actor: Actor{Plugin: "p\x00q"}, Outcome: OutcomeError,
			Error:  &Error{Code: "x", Message: "\x00\x01\a\b\t\n\v\f\r\x0e\x1f \x7f\u0080\u009f\u2028\u2029\U0001F600\uFFFD"},
			Detail: map[string]string{"k": `"quoted" \ back\slash / slash & amp < lt > gt`}},
		{ID: "0123456789abcdef-5", Time: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), Action: "a"},
		{ID: "0123456789abcdef-6", Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Action: ActionLedgerRecover,
			Actor: Actor{Plugin: "warden"}, Outcome: OutcomeOK, Detail: map[string]string{"reason": "torn tail: 12 bytes dropped", "kind": "torn-tail"}},
	}
}

type vector struct {
	Event     json.RawMessage `json:"event"`
	Canonical string          `json:"canonical"`
	LeafHash  string          `json:"leaf_hash"`
}

type vectorTree struct {
	Size int    `json:"size"`
	Root string `json:"root"`
}

type vectorFile struct {
	Comment string       `json:"comment"`
	Events  []vector     `json:"events"`
	Trees   []vectorTree `json:"trees"`
}

const vectorsPath = "testdata/vectors.json"

// outsideVectors computes canonical, leaf_hash and trees of f from its
// events, with gowebpki/jcs and tlog only.
func outsideVectors(t *testing.T, f vectorFile) vectorFile {
	t.Helper()
	out := vectorFile{Comment: f.Comment}
	var leaves [][]byte
	for i, v := range f.Events {
		c, err := jcs.Transform(v.Event)
		if err != nil {
			t.Fatalf("vector %d: jcs: %v", i, err)
		}
		h := tlog.RecordHash(c)
		out.Events = append(out.Events, vector{Event: v.Event, Canonical: string(c), LeafHash: base64.StdEncoding.EncodeToString(h[:])})
		leaves = append(leaves, c)
	}
	for n := 0; n <= len(leaves); n++ {
		r := tlogRoot(t, leaves, n)
		out.Trees = append(out.Trees, vectorTree{Size: n, Root: base64.StdEncoding.EncodeToString(r[:])})
	}
	return out
}

func readVectors(t *testing.T) vectorFile {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", vectorsPath, err)
	}
	return f
}

func TestVectors(t *testing.T) {
	file := readVectors(t)
	want := outsideVectors(t, file)
	if os.Getenv("WARDEN_UPDATE_VECTORS") == "1" {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		file = readVectors(t)
	}
	// The file is what the outside implementations say.
	if len(file.Events) != len(want.Events) || len(file.Trees) != len(want.Trees) {
		t.Fatalf("%s has %d events and %d trees; its events make %d trees (WARDEN_UPDATE_VECTORS=1 recomputes them)",
			vectorsPath, len(file.Events), len(file.Trees), len(want.Trees))
	}
	for i := range want.Events {
		if file.Events[i].Canonical != want.Events[i].Canonical || file.Events[i].LeafHash != want.Events[i].LeafHash {
			t.Errorf("vector %d pins\n %q %s\nRFC 8785 and tlog give\n %q %s", i, file.Events[i].Canonical, file.Events[i].LeafHash,
				want.Events[i].Canonical, want.Events[i].LeafHash)
		}
	}
	for i := range want.Trees {
		if file.Trees[i] != want.Trees[i] {
			t.Errorf("tree %d: the file pins %+v, tlog.TreeHash gives %+v", i, file.Trees[i], want.Trees[i])
		}
	}

	// warden agrees with the file: its encoder on the Go events, and on
	// whatever it parses from the hand-written ones.
	evs := vectorEvents()
	if len(evs) != len(file.Events) {
		t.Fatalf("%d Go events for %d vectors", len(evs), len(file.Events))
	}
	var st treeStack
	for i, v := range file.Events {
		got, err := evs[i].AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != v.Canonical {
			t.Errorf("vector %d: the encoder writes\n %q\nRFC 8785 is\n %q", i, got, v.Canonical)
		}
		for _, src := range [][]byte{v.Event, []byte(v.Canonical)} {
			ev, err := ParseEvent(src)
			if err != nil {
				t.Fatalf("vector %d: ParseEvent: %v", i, err)
			}
			again, err := ev.AppendCanonical(nil)
			if err != nil || string(again) != v.Canonical {
				t.Errorf("vector %d: parsed and encoded again: %q (%v)", i, again, err)
			}
		}
		st.push(tlog.RecordHash(got), uint64(i), nil)
		if r := st.root(); base64.StdEncoding.EncodeToString(r[:]) != file.Trees[i+1].Root {
			t.Errorf("verify's tree of %d events: %s, the file pins %s", i+1, base64.StdEncoding.EncodeToString(r[:]), file.Trees[i+1].Root)
		}
	}
}

// docs/audit-format.md's example is the first vector, byte for byte.
func TestVectorInDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "audit-format.md"))
	if err != nil {
		t.Fatal(err)
	}
	f := readVectors(t)
	if !strings.Contains(string(doc), "\n"+f.Events[0].Canonical+"\n") {
		t.Errorf("docs/audit-format.md §1's example is not vector 0:\n%s", f.Events[0].Canonical)
	}
}
