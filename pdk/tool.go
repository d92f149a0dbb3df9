package pdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// handler runs one tool on raw JSON input and returns raw JSON output.
type handler func(ctx context.Context, input []byte) (json.RawMessage, error)

// currentTool names the tool running now, for capability request reasons. A
// guest runs one call at a time.
var currentTool string

var (
	toolsMu sync.RWMutex
	tools   = map[string]handler{}
)

// Tool registers fn as the tool called name. The host decodes nothing: the
// tool's JSON input is unmarshalled into In, and the Out it returns is
// marshalled as its JSON output. An empty input decodes as JSON null, leaving
// In at its zero value.
//
// Call Tool from an init function: a -buildmode=c-shared plugin never runs
// main. Like http.HandleFunc, Tool panics when name is empty, fn is nil or the
// name is taken, because that is a mistake in the plugin's own code, caught the
// first time it loads.
func Tool[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error)) {
	if name == "" || fn == nil {
		panic("pdk.Tool: a tool needs a name and a function")
	}
	h := func(ctx context.Context, input []byte) (json.RawMessage, error) {
		var in In
		if len(input) == 0 {
			input = []byte("null")
		}
		if raw, ok := any(&in).(*json.RawMessage); ok {
			// A raw tool takes its input as is: decoding it only to encode
			// it again costs more than the rest of a small call.
			if !json.Valid(input) {
				return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("tool %s: input is not valid JSON", name)}
			}
			*raw = append(json.RawMessage(nil), input...)
		} else if err := json.Unmarshal(input, &in); err != nil {
			return nil, &Error{Code: CodeInvalidParams, Message: fmt.Sprintf("tool %s: input does not decode: %v", name, err)}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if raw, ok := any(out).(json.RawMessage); ok && json.Valid(raw) {
			return raw, nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("tool %s: output does not encode as JSON: %v", name, err)}
		}
		return b, nil
	}
	toolsMu.Lock()
	defer toolsMu.Unlock()
	if _, dup := tools[name]; dup {
		panic("pdk.Tool: tool " + name + " is registered twice")
	}
	tools[name] = h
}

// Tools returns the names of the registered tools, sorted.
func Tools() []string {
	toolsMu.RLock()
	defer toolsMu.RUnlock()
	names := make([]string, 0, len(tools))
	for n := range tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Invoke runs the registered tool name on input the way the host does and
// returns its output or its error. It exists so that a plugin's tools can be
// tested natively with go test.
func Invoke(ctx context.Context, name string, input []byte) (json.RawMessage, error) {
	toolsMu.RLock()
	h, ok := tools[name]
	toolsMu.RUnlock()
	if !ok {
		return nil, &Error{Code: CodeUnknownTool, Message: fmt.Sprintf("no tool named %q in this plugin (it has %v)", name, Tools())}
	}
	return h(ctx, input)
}

// envelope runs a tool and appends its result envelope to dst:
// {"result":<output>} or {"error":{"code":...,"message":...}}.
func envelope(dst []byte, name string, input []byte) []byte {
	currentTool = name
	defer func() { currentTool = "" }()
	out, err := Invoke(context.Background(), name, input)
	if err == nil {
		dst = append(dst, `{"result":`...)
		dst = append(dst, out...)
		return append(dst, '}')
	}
	e := &Error{Code: CodeToolError, Message: err.Error()}
	var pe *Error
	if errors.As(err, &pe) {
		e = pe
	}
	b, _ := json.Marshal(struct {
		Error *Error `json:"error"`
	}{e}) // cannot fail: two strings
	return append(dst, b...)
}

// decodeEnvelope splits a host result envelope into its result or its error.
func decodeEnvelope(env []byte) (json.RawMessage, error) {
	var v struct {
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	if err := json.Unmarshal(env, &v); err != nil {
		return nil, &Error{Code: CodeInternal, Message: fmt.Sprintf("host sent a malformed result envelope: %v", err)}
	}
	if v.Error != nil {
		if v.Error.Code == "" {
			v.Error.Code = CodeInternal
		}
		return nil, v.Error
	}
	return v.Result, nil
}
