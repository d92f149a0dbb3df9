package hostapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"pgregory.net/rapid"
)

func testMethods(t testing.TB) map[string]*method {
	ms, err := compileCatalogue(builtins)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// decodeOK runs the hot-path decoder.
func decodeOK(m *method, data []byte) bool {
	var a args
	if err := decodeParams(data, &a); err != nil {
		return false
	}
	return m.params.validate(&a) == nil
}

// schemaOK runs the JSON Schema validator; empty params mean {}.
func schemaOK(m *method, data []byte) bool {
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return false
	}
	return m.schema.Validate(v) == nil
}

// TestDecoderAgreesWithSchema: for params generated from each method's
// members (right and wrong types, bounds, unknown members, missing required
// ones), the fast decoder accepts exactly what the schema accepts.
func TestDecoderAgreesWithSchema(t *testing.T) {
	ms := testMethods(t)
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	rapid.Check(t, func(rt *rapid.T) {
		m := ms[rapid.SampledFrom(names).Draw(rt, "method")]
		keys := []string{"x", "Path", "path ", "data"}
		for _, f := range m.params.fields {
			keys = append(keys, f.name)
		}
		obj := map[string]any{}
		n := rapid.IntRange(0, 5).Draw(rt, "n")
		for i := 0; i < n; i++ {
			k := rapid.SampledFrom(keys).Draw(rt, "key")
			obj[k] = genValue(rt)
		}
		data, err := json.Marshal(obj)
		if err != nil {
			rt.Fatal(err)
		}
		if got, want := decodeOK(m, data), schemaOK(m, data); got != want {
			rt.Fatalf("%s %s: decoder says %v, schema says %v", m.name, data, got, want)
		}
	})
}

func genValue(rt *rapid.T) any {
	switch rapid.IntRange(0, 9).Draw(rt, "kind") {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(rt, "b")
	case 2:
		return rapid.Int64Range(-3, 1<<54).Draw(rt, "i")
	case 3:
		return rapid.SampledFrom([]int64{0, 1, 86400, 86401, 9007199254740991, 9007199254740992, -1}).Draw(rt, "edge")
	case 4:
		return rapid.SampledFrom([]string{"", "/a", "aGk=", "aGk", "info", "debug", "read", "cache/x", "é", strings.Repeat("é", 257), "x\ny", "/" + strings.Repeat("a", 4096)}).Draw(rt, "s")
	case 5:
		return rapid.StringN(0, 12, -1).Draw(rt, "str")
	case 6:
		return rapid.SliceOfN(rapid.SampledFrom([]string{"read", "write", "", "list", strings.Repeat("x", 33)}), 0, 10).Draw(rt, "arr")
	case 7:
		return []any{1, "a"}
	case 8:
		return map[string]any{"a": 1}
	default:
		return 1.5
	}
}

// TestDecoderStricterOnlyWhereDocumented pins the three documented places
// where the decoder refuses what the schema allows.
func TestDecoderStricterOnlyWhereDocumented(t *testing.T) {
	ms := testMethods(t)
	m := ms["fs.read"]
	for _, in := range []string{
		`{"path":"/a","path":"/b"}`,  // duplicate member
		`{"path":"/a","offset":1.0}`, // integer with a fraction
		`{"path":"/a","offset":1e2}`, // integer with an exponent
		`{"path":"/a\ud800"}`,        // lone surrogate
		"{\"path\":\"/a\xff\"}",      // invalid UTF-8
	} {
		if decodeOK(m, []byte(in)) {
			t.Errorf("decoder accepts %s", in)
		}
		if !schemaOK(m, []byte(in)) {
			t.Errorf("schema refuses %s; the case is no longer a documented difference", in)
		}
	}
	for _, in := range []string{` {"path" : "/a\u00e9\/" , "offset":0,"length":9007199254740991} `, `{"path":"\ud83d\ude00"}`} {
		if !decodeOK(m, []byte(in)) || !schemaOK(m, []byte(in)) {
			t.Errorf("%s: decoder %v schema %v, want both to accept", in, decodeOK(m, []byte(in)), schemaOK(m, []byte(in)))
		}
	}
}

// FuzzParams: whatever the decoder accepts, the schema accepts too.
func FuzzParams(f *testing.F) {
	ms := testMethods(f)
	for _, s := range []string{`{}`, `{"path":"/a"}`, `{"path":"/a","offset":3,"length":4}`, `{"path":"\u002fa"}`,
		`{"resource":"kv:x","actions":["read"],"reason":"r","ttl":5}`, `{"level":"info","message":"hi"}`, `{"path":"/a","data":"aGk="}`, `[`, `{"a":[[]]}`} {
		for i := range builtins {
			f.Add(builtins[i].name, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		m := ms[name]
		if m == nil {
			return
		}
		if decodeOK(m, data) && !schemaOK(m, data) {
			t.Fatalf("%s %q: the decoder accepts what the schema refuses", name, data)
		}
	})
}

// FuzzCall: random methods and params through the whole gate never panic
// and always return nil or an *Error.
func FuzzCall(f *testing.F) {
	e := newEnv(f)
	f.Add("fs.read", []byte(`{"path":"`+e.data+`/a.csv"}`), false)
	f.Add("fs.write", []byte(`{"path":"`+e.data+`/b.csv","data":"aGk="}`), true)
	f.Add("fs.list", []byte(`{"path":"`+e.data+`"}`), false)
	f.Add("kv.set", []byte(`{"key":"cache/k","value":""}`), false)
	f.Add("capability.request", []byte(`{"resource":"filesystem:`+e.data+`/a.csv","actions":["read"],"reason":"r"}`), false)
	f.Add("nope", []byte(`{`), true)
	f.Fuzz(func(t *testing.T, method string, params []byte, explicit bool) {
		tok := ""
		if explicit {
			tok = e.caller.Tokens[0]
		}
		res, err := e.gate.Call(t.Context(), e.caller, method, tok, params)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			return
		}
		if !json.Valid(res) {
			t.Fatalf("result is not JSON: %q", res)
		}
	})
}

func TestDeriveRefusesUnknownKeywords(t *testing.T) {
	for _, s := range []string{
		`{"type":"object","additionalProperties":false,"properties":{"a":{"type":"string","pattern":"^x"}}}`,
		`{"type":"object","additionalProperties":true,"properties":{}}`,
		`{"type":"object","additionalProperties":false,"properties":{"a":{"type":"integer"}}}`,
		`{"type":"object","additionalProperties":false,"properties":{"a":{"type":"number","minimum":0,"maximum":1}}}`,
		`{"type":"object","additionalProperties":false,"oneOf":[]}`,
	} {
		var m map[string]any
		must(t, json.Unmarshal([]byte(s), &m))
		if _, err := deriveSpec(m, func(string) (map[string]any, error) { return nil, fmt.Errorf("no refs") }, "x"); err == nil {
			t.Errorf("deriveSpec accepted %s", s)
		}
	}
}
