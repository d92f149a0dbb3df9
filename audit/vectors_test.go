package audit

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// vectorEvents are fixed events whose canonical bytes and leaf hashes are
// pinned in testdata/vectors.json (docs/audit-format.md §1-2).
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
	}
}

type vector struct {
	Canonical string `json:"canonical"`
	LeafHash  string `json:"leaf_hash"`
}

type vectorFile struct {
	Events   []vector `json:"events"`
	TreeHash string   `json:"tree_hash"`
}

func TestVectors(t *testing.T) {
	var got vectorFile
	var leaves []tlog.Hash
	for _, ev := range vectorEvents() {
		b, err := ev.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		h := tlog.RecordHash(b)
		leaves = append(leaves, h)
		got.Events = append(got.Events, vector{string(b), base64.StdEncoding.EncodeToString(h[:])})
	}
	var st treeStack
	for i, h := range leaves {
		st.push(h, uint64(i), nil)
	}
	root := st.root()
	got.TreeHash = base64.StdEncoding.EncodeToString(root[:])
	const path = "testdata/vectors.json"
	if os.Getenv("WARDEN_UPDATE_VECTORS") == "1" {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (WARDEN_UPDATE_VECTORS=1 writes it)", err)
	}
	var want vectorFile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for i := range want.Events {
		if got.Events[i] != want.Events[i] {
			t.Errorf("vector %d:\n got %+v\nwant %+v", i, got.Events[i], want.Events[i])
		}
		// Decoding and re-encoding is the identity on canonical bytes.
		ev, err := ParseEvent([]byte(want.Events[i].Canonical))
		if err != nil {
			t.Fatal(err)
		}
		again, _ := ev.AppendCanonical(nil)
		if string(again) != want.Events[i].Canonical {
			t.Errorf("vector %d does not round-trip:\n%s", i, again)
		}
	}
	if got.TreeHash != want.TreeHash {
		t.Errorf("tree hash %s, want %s", got.TreeHash, want.TreeHash)
	}
}
