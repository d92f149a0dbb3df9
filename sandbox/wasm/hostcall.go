package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wardenproject/warden/hostapi"
)

// The host import ABI, specified in docs/abi.md:
//
//	warden.call(method_ptr, method_len, params_ptr, params_len,
//	            token_ptr, token_len, out_ptr, out_cap i32) -> n i32
//	warden.result(out_ptr, out_cap i32) -> n i32
//
// call always returns the length n of a JSON result envelope. When the
// envelope fits (n <= out_cap and the out buffer is valid) it is already at
// out_ptr; otherwise the host holds it until the guest fetches it with result
// or makes its next call. Nothing the guest passes can make the host panic or
// trap the guest: bad pointers, overlaps and oversize lengths become error
// envelopes.

const hostModuleName = "warden"

// Caps on what one host call may carry. The params and result cap is per
// instance (Limits.MaxHostCallBytes).
const (
	maxMethodLen = 128
	maxTokenLen  = 16 << 10
)

var hostSignatures = map[string][2][]api.ValueType{
	"call":   {{i32, i32, i32, i32, i32, i32, i32, i32}, {i32}},
	"result": {{i32, i32}, {i32}},
}

// instantiateHostModule defines the warden host module in r, with stack-based
// functions (about 0.1 µs a call, where reflection costs about 2 µs).
func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	sig := hostSignatures["call"]
	res := hostSignatures["result"]
	_, err := r.NewHostModuleBuilder(hostModuleName).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostCall), sig[0], sig[1]).
		WithParameterNames("method_ptr", "method_len", "params_ptr", "params_len", "token_ptr", "token_len", "out_ptr", "out_cap").
		WithResultNames("n").
		Export("call").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(hostResult), res[0], res[1]).
		WithParameterNames("out_ptr", "out_cap").
		WithResultNames("n").
		Export("result").
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("wasm engine: define the %q host module: %w", hostModuleName, err)
	}
	return nil
}

// span is a guest memory range.
type span struct{ ptr, n uint32 }

func (s span) end() uint64 { return uint64(s.ptr) + uint64(s.n) }

func (s span) overlaps(o span) bool {
	if s.n == 0 || o.n == 0 {
		return false
	}
	return uint64(s.ptr) < o.end() && uint64(o.ptr) < s.end()
}

// read returns a view of s in mem, or false when any byte lies outside it.
func (s span) read(mem api.Memory) ([]byte, bool) {
	if s.n == 0 {
		return nil, true
	}
	return mem.Read(s.ptr, s.n)
}

// hostCall implements warden.call.
func hostCall(ctx context.Context, mod api.Module, stack []uint64) {
	inst, _ := ctx.Value(instanceKey{}).(*Instance)
	if inst == nil {
		// Only a module instantiated outside this package gets here; it has no
		// caller identity, so it gets nothing.
		stack[0] = 0
		return
	}
	method := span{uint32(stack[0]), uint32(stack[1])}
	params := span{uint32(stack[2]), uint32(stack[3])}
	token := span{uint32(stack[4]), uint32(stack[5])}
	out := span{uint32(stack[6]), uint32(stack[7])}
	mem := mod.Memory()

	env := inst.hostCallEnvelope(ctx, mem, method, params, token, out)
	n := uint32(len(env))
	inst.pending = nil
	outOK := out.n >= n && !out.overlaps(method) && !out.overlaps(params) && !out.overlaps(token)
	if outOK && mem.Write(out.ptr, env) {
		stack[0] = uint64(n)
		return
	}
	inst.pending = env
	stack[0] = uint64(n)
}

// hostResult implements warden.result: copy the held envelope into the
// guest's buffer if it fits, and report its length either way.
func hostResult(ctx context.Context, mod api.Module, stack []uint64) {
	inst, _ := ctx.Value(instanceKey{}).(*Instance)
	if inst == nil || inst.pending == nil {
		stack[0] = 0
		return
	}
	out := span{uint32(stack[0]), uint32(stack[1])}
	env := inst.pending
	n := uint32(len(env))
	if out.n >= n && mod.Memory().Write(out.ptr, env) {
		inst.pending = nil
	}
	stack[0] = uint64(n)
}

// hostCallEnvelope validates the guest's arguments, asks the gate and
// returns the result envelope. The returned slice may alias the instance's
// scratch buffer; it is valid until the next host call.
func (inst *Instance) hostCallEnvelope(ctx context.Context, mem api.Memory, method, params, token, out span) []byte {
	switch {
	case method.n == 0 || method.n > maxMethodLen:
		return inst.errEnvelope(hostapi.CodeInvalidParams, fmt.Sprintf("method name is %d bytes; it must be 1 to %d", method.n, maxMethodLen))
	case token.n > maxTokenLen:
		return inst.errEnvelope(hostapi.CodeInvalidParams, fmt.Sprintf("token is %d bytes; at most %d are accepted", token.n, maxTokenLen))
	case int64(params.n) > int64(inst.limits.MaxHostCallBytes):
		return inst.errEnvelope(hostapi.CodeTooLarge, fmt.Sprintf("params are %d bytes; at most %d are accepted", params.n, inst.limits.MaxHostCallBytes))
	}
	mb, ok1 := method.read(mem)
	pb, ok2 := params.read(mem)
	tb, ok3 := token.read(mem)
	if !ok1 || !ok2 || !ok3 {
		return inst.errEnvelope(hostapi.CodeInvalidParams, fmt.Sprintf("a pointer or length lies outside the guest's %d bytes of memory", mem.Size()))
	}
	if out.n > 0 {
		if _, ok := out.read(mem); !ok {
			return inst.errEnvelope(hostapi.CodeInvalidParams, "the output buffer lies outside guest memory; fetch this error with warden.result")
		}
		if out.overlaps(method) || out.overlaps(params) || out.overlaps(token) {
			return inst.errEnvelope(hostapi.CodeInvalidParams, "the output buffer overlaps the method, params or token; fetch this error with warden.result")
		}
	}
	if !utf8.Valid(mb) {
		return inst.errEnvelope(hostapi.CodeInvalidParams, "the method name is not UTF-8")
	}
	if len(pb) == 0 {
		pb = []byte("{}")
	} else if !json.Valid(pb) {
		return inst.errEnvelope(hostapi.CodeInvalidParams, "params are not valid JSON")
	}
	// Copy what the gate keeps: guest memory changes after this call returns.
	p := make(json.RawMessage, len(pb))
	copy(p, pb)
	res, err := inst.gate.Call(ctx, inst.caller, string(mb), string(tb), p)
	if err != nil {
		var he *hostapi.Error
		if errors.As(err, &he) {
			return inst.errEnvelope(he.Code, he.Message)
		}
		if ctx.Err() != nil {
			return inst.errEnvelope(hostapi.CodeTimeout, "the call's deadline passed")
		}
		return inst.errEnvelope(hostapi.CodeInternal, "the host failed to perform the call")
	}
	if len(res) == 0 {
		res = json.RawMessage("null")
	}
	if len(res) > inst.limits.MaxHostCallBytes {
		return inst.errEnvelope(hostapi.CodeTooLarge, fmt.Sprintf("the result is %d bytes; at most %d are returned", len(res), inst.limits.MaxHostCallBytes))
	}
	b := append(inst.scratch[:0], `{"result":`...)
	b = append(b, res...)
	b = append(b, '}')
	inst.scratch = b
	return b
}

// errEnvelope encodes {"error":{"code":...,"message":...}}.
func (inst *Instance) errEnvelope(code hostapi.Code, msg string) []byte {
	b, _ := json.Marshal(struct {
		Error hostapi.Error `json:"error"`
	}{hostapi.Error{Code: code, Message: msg}}) // two strings: cannot fail
	return b
}
