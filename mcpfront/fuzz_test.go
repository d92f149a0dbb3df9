package mcpfront

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// FuzzSplitToolName checks that every name ToolName makes splits back into
// its parts, and that SplitToolName never accepts a plugin part with "_".
func FuzzSplitToolName(f *testing.F) {
	for _, s := range []string{"hello__greet", "a__b__c", "a_b__c", "__", "x__", "__y", "sheet-gen__generate", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, tl, ok := SplitToolName(s)
		if !ok {
			return
		}
		if strings.Contains(p, "_") || p == "" || tl == "" || ToolName(p, tl) != s {
			t.Fatalf("SplitToolName(%q) = %q, %q", s, p, tl)
		}
	})
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// FuzzLineFilter feeds arbitrary bytes to the stdio line filter: it must
// never panic, must pass on only lines the SDK's own decoder accepts (so no
// line can end the session), and must answer every other non-empty line with
// one JSON-RPC error response.
func FuzzLineFilter(f *testing.F) {
	for _, s := range []string{
		"not json\n",
		`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n",
		`{"id":7,"method":"x"}` + "\n42\n[]\n\n   \n",
		`{"jsonrpc":"2.0","id":{"a":1}}` + "\n",
		strings.Repeat("x", 300) + "\n{}",
		"\xff\xfe\n",
		// Each of these once ended `warden mcp` over stdio (issue 10).
		"[]\n[1,2]\n",
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]` + "\n",
		`{"jsonrpc":"2.0","id":{},"method":"ping"}` + "\n",
		`{"jsonrpc":"2.0","id":[1],"method":"ping"}` + "\n",
		`{"jsonrpc":"2.0","id":true,"method":"ping"}` + "\n",
		`{"jsonrpc":"2.0","id":1,"method":5}` + "\n",
		`{"jsonrpc":"2.0","id":1,"error":"x"}` + "\n",
		`{"jsonrpc":"2.0","result":{}}` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		w := &lockedWriter{w: nopCloser{&out}}
		lf := newLineFilter(io.NopCloser(bytes.NewReader(in)), w, 128)
		lf.track = w
		passed, err := io.ReadAll(lf)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(passed))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !json.Valid(sc.Bytes()) {
				t.Fatalf("passed on a line that is not JSON: %q", sc.Bytes())
			}
			if _, err := jsonrpc.DecodeMessage(sc.Bytes()); err != nil || sc.Bytes()[0] != '{' {
				t.Fatalf("passed on a line the SDK would end the session on: %q (%v)", sc.Bytes(), err)
			}
		}
		sc = bufio.NewScanner(&out)
		for sc.Scan() {
			var m struct {
				JSONRPC string          `json:"jsonrpc"`
				ID      json.RawMessage `json:"id"`
				Error   struct{ Code int }
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.JSONRPC != "2.0" || (m.Error.Code != -32700 && m.Error.Code != -32600) {
				t.Fatalf("bad error response %q", sc.Bytes())
			}
		}
	})
}

// FuzzResponseID: on any bytes the early-stopping id reader never panics
// and never takes a request for a response; on every response as the SDK
// writes one (jsonrpc, id, then result or error) it finds the id a full
// decode finds.
func FuzzResponseID(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), "a\u0062", int64(7), true, []byte(`{}`))
	f.Add([]byte(`[1]`), "", int64(-3), false, []byte(`{"content":[{"type":"text","text":"x"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte, sid string, nid int64, useString bool, result []byte) {
		if _, ok := responseID(raw); ok {
			var m struct {
				Method *string `json:"method"`
			}
			if json.Unmarshal(raw, &m) == nil && m.Method != nil {
				t.Fatalf("responseID took a request for a response: %q", raw)
			}
		}
		var id any = nid
		if useString {
			id = sid
		}
		if !json.Valid(result) {
			result = []byte(`{}`)
		}
		msg, err := json.Marshal(struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      any             `json:"id"`
			Result  json.RawMessage `json:"result"`
		}{"2.0", id, result})
		if err != nil {
			return
		}
		idb, _ := json.Marshal(id)
		want, _ := idKey(idb)
		if got, ok := responseID(msg); !ok || got != want {
			t.Fatalf("responseID(%s) = %q, %v; want %q", msg, got, ok, want)
		}
	})
}
