package export

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
)

// vectorMessages are the events of testdata/otlp-sdk-request.binpb: every
// branch of the mapping (allow, deny, ask answered either way, error, intent),
// both payload formats, indexes past math.MaxInt64, times before the epoch
// and strings that stress UTF-8 (NUL, U+FFFD, astral runes, RTL and
// combining marks).
func vectorMessages(t testing.TB) []message {
	t.Helper()
	base := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	evs := []struct {
		index uint64
		ocsf  bool
		ev    audit.Event
	}{
		{0, false, audit.Event{ID: "01JGZ0000000000000000000A0", Time: base, Action: "fs.read",
			Actor: audit.Actor{Plugin: "notes", Version: "1.0.0"}, Resource: "filesystem:/tmp/a",
			Decision: audit.Decision{Effect: audit.EffectAllow, By: "rule-1"}, Outcome: audit.OutcomeOK}},
		{1, true, audit.Event{ID: "01JGZ0000000000000000000A1", Time: base.Add(time.Second), Action: "net.fetch",
			Actor: audit.Actor{Plugin: "fetcher"}, Resource: "net:https://api.example.com:8443/v1/x",
			Decision: audit.Decision{Effect: audit.EffectDeny, By: "default"}, Outcome: audit.OutcomeError,
			Error: &audit.Error{Code: "denied", Message: "not granted"}}},
		{2, false, audit.Event{ID: "01JGZ0000000000000000000A2", Time: base.Add(2 * time.Second), Action: "fs.write",
			Actor: audit.Actor{Plugin: "ünïcødé-😀-\u202e-e\u0301", Version: "2.0.0"}, Resource: "filesystem:/tmp/\u0000\ufffd\U0010FFFF",
			Decision: audit.Decision{Effect: audit.EffectAsk, Answer: audit.EffectDeny}, Outcome: audit.OutcomeOK}},
		{3, true, audit.Event{ID: "01JGZ0000000000000000000A3", Time: base.Add(3 * time.Second), Action: "grant",
			Actor: audit.Actor{Plugin: "warden"}, Decision: audit.Decision{Effect: audit.EffectAsk, Answer: audit.EffectAllow},
			Outcome: audit.OutcomeOK, Detail: map[string]string{"why": "a \"quoted\" reason\n"}}},
		{1<<40 + 7, false, audit.Event{ID: "01JGZ0000000000000000000A4", Time: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
			Action: "plugin.install", Outcome: audit.OutcomeIntent}},
		{math.MaxUint64 - 1, false, audit.Event{ID: "01JGZ0000000000000000000A5", Time: base.Add(5 * time.Second),
			Action: "x", Actor: audit.Actor{Plugin: ""}, Outcome: ""}},
	}
	var msgs []message
	for _, v := range evs {
		ev := v.ev
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("canonical encoding of vector %d: %v", v.index, err)
		}
		e := audit.Entry{Index: v.index, Raw: raw, Event: &ev}
		format := "native"
		if v.ocsf {
			format = "ocsf"
		}
		p, err := payload(format, e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, message{entry: e, payload: p})
	}
	return msgs
}
