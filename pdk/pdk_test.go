package pdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestEnvelope(t *testing.T) {
	Tool("t-ok", func(_ context.Context, in map[string]int) (int, error) { return in["a"] + 1, nil })
	Tool("t-coded", func(_ context.Context, _ struct{}) (int, error) { return 0, Errorf("bad_rows", "row %d", 3) })
	Tool("t-plain", func(_ context.Context, _ struct{}) (int, error) { return 0, errors.New("boom") })
	for _, tc := range []struct{ tool, in, want string }{
		{"t-ok", `{"a":1}`, `{"result":2}`},
		{"t-ok", ``, `{"result":1}`},
		{"t-ok", `{"a":`, `{"error":{"code":"invalid_params","message":"tool t-ok: input does not decode: unexpected end of JSON input"}}`},
		{"t-coded", `{}`, `{"error":{"code":"bad_rows","message":"row 3"}}`},
		{"t-plain", `{}`, `{"error":{"code":"tool_error","message":"boom"}}`},
		{"missing", `{}`, `{"error":{"code":"unknown_tool","message":"no tool named \"missing\" in this plugin (it has [t-coded t-ok t-plain])"}}`},
	} {
		if got := string(envelope(nil, tc.tool, []byte(tc.in))); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.tool, tc.in, got, tc.want)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	res, err := decodeEnvelope([]byte(`{"result":{"x":1}}`))
	if err != nil || string(res) != `{"x":1}` {
		t.Fatal(res, err)
	}
	_, err = decodeEnvelope([]byte(`{"error":{"code":"denied","message":"no"}}`))
	if !errors.Is(err, ErrDenied) || errors.Is(err, ErrNotFound) || CodeOf(err) != CodeDenied {
		t.Fatalf("denied: %v", err)
	}
	wrapped := fmt.Errorf("saving: %w", err)
	if !errors.Is(wrapped, ErrDenied) || CodeOf(wrapped) != CodeDenied {
		t.Fatal("a wrapped host error lost its code")
	}
	if _, err := decodeEnvelope([]byte(`nope`)); CodeOf(err) != CodeInternal {
		t.Fatalf("malformed: %v", err)
	}
	if CodeOf(nil) != "" || CodeOf(errors.New("x")) != CodeToolError {
		t.Fatal("CodeOf of nil or plain error")
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{`{"result":1}`, `{"error":{"code":"denied","message":"m"}}`, `{"error":{}}`, `{"result":null,"error":null}`, `[]`, ``, `{"error":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := decodeEnvelope(b)
		if err == nil && res != nil && !json.Valid(res) {
			t.Fatalf("invalid result %q from %q", res, b)
		}
		if err != nil && CodeOf(err) == "" {
			t.Fatal("error without a code")
		}
	})
}
