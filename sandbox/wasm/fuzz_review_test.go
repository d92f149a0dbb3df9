package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/tetratelabs/wazero/api"

	"github.com/wardenproject/warden/hostapi"
)

// fuzzMem is guest linear memory for the host-call ABI fuzz: the methods the
// ABI uses, with wazero's bounds semantics (a range partly outside memory is
// refused as a whole).
type fuzzMem struct {
	api.Memory
	b []byte
}

func (m *fuzzMem) Size() uint32 { return uint32(len(m.b)) }

func (m *fuzzMem) Read(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[off : off+n : off+n], true
}

func (m *fuzzMem) Write(off uint32, v []byte) bool {
	if uint64(off)+uint64(len(v)) > uint64(len(m.b)) {
		return false
	}
	copy(m.b[off:], v)
	return true
}

type fuzzModule struct {
	api.Module
	mem *fuzzMem
}

func (m fuzzModule) Memory() api.Memory { return m.mem }

// echoGate answers every call with the params it was given, so the result
// size follows the guest's input.
type echoGate struct{}

func (echoGate) Call(_ context.Context, _ hostapi.Caller, method, _ string, params json.RawMessage) (json.RawMessage, error) {
	if method == "deny" {
		return nil, hostapi.Errorf(hostapi.CodeDenied, "denied")
	}
	return params, nil
}

func (echoGate) OpenFile(context.Context, hostapi.Caller, string, string, int, fs.FileMode) (hostapi.File, error) {
	return nil, hostapi.Errorf(hostapi.CodeDenied, "denied")
}

// FuzzHostCallABI drives warden.call and warden.result with arbitrary
// pointers, lengths and memory. Nothing the guest passes may panic the host;
// the returned length is always the length of a JSON envelope; the host
// writes only inside the output buffer, and only the whole envelope or
// nothing; an envelope that did not fit is fetched whole by warden.result.
func FuzzHostCallABI(f *testing.F) {
	seed := func(mem string, s ...uint32) {
		f.Add([]byte(mem), s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], uint16(64))
	}
	mem := "ping" + `{"a":1}` + "tok" + string(make([]byte, 64))
	seed(mem, 0, 4, 4, 7, 14, 3, 17, 64)                                 // well formed
	seed(mem, 0, 4, 4, 7, 14, 3, 17, 2)                                  // output too small: fetch with result
	seed(mem, 0, 4, 4, 7, 14, 3, 2, 64)                                  // output overlaps params
	seed(mem, 0, 4, 4, 7, 14, 3, 0xffffffff, 64)                         // output outside memory
	seed(mem, 0xfffffffc, 8, 4, 7, 14, 3, 17, 64)                        // method wraps around
	seed(mem, 0, 0, 4, 7, 14, 3, 17, 64)                                 // empty method
	seed(mem, 0, 4, 4, 0xffffffff, 14, 3, 17, 64)                        // huge params
	seed(mem, 0, 4, 0, 3, 14, 3, 17, 64)                                 // params not JSON
	seed("deny{}", 0, 4, 4, 2, 0, 0, 6, 0)                               // gate refuses; no output buffer
	seed("\xff\xfe{}"+string(make([]byte, 40)), 0, 2, 2, 2, 0, 0, 4, 40) // method not UTF-8
	f.Fuzz(func(t *testing.T, memory []byte, mp, ml, pp, pl, tp, tl, op, oc uint32, resCap uint16) {
		mem := &fuzzMem{b: bytes.Clone(memory)}
		inst := &Instance{gate: echoGate{}, limits: Limits{MaxHostCallBytes: 256}}
		ctx := context.WithValue(context.Background(), instanceKey{}, inst)
		mod := fuzzModule{mem: mem}
		stack := []uint64{uint64(mp), uint64(ml), uint64(pp), uint64(pl), uint64(tp), uint64(tl), uint64(op), uint64(oc)}
		hostCall(ctx, mod, stack)
		n := stack[0]
		out := span{op, oc}
		var env []byte
		if inst.pending == nil {
			// Written in place: the whole envelope, inside the buffer.
			if n > uint64(oc) || uint64(op)+n > uint64(len(memory)) {
				t.Fatalf("no pending envelope, but %d bytes cannot be at %d (cap %d, memory %d)", n, op, oc, len(memory))
			}
			env = mem.b[op : uint64(op)+n]
		} else {
			if uint64(len(inst.pending)) != n {
				t.Fatalf("returned %d, pending envelope is %d bytes", n, len(inst.pending))
			}
			if !bytes.Equal(mem.b, memory) {
				t.Fatal("an envelope that was not delivered changed guest memory")
			}
			env = bytes.Clone(inst.pending)
		}
		for i := range mem.b {
			if uint64(i) >= uint64(out.ptr) && uint64(i) < out.end() {
				continue
			}
			if mem.b[i] != memory[i] {
				t.Fatalf("host wrote byte %d, outside the output buffer [%d,+%d)", i, op, oc)
			}
		}
		var v struct {
			Result json.RawMessage `json:"result"`
			Error  *hostapi.Error  `json:"error"`
		}
		if err := json.Unmarshal(env, &v); err != nil || (v.Result == nil) == (v.Error == nil) {
			t.Fatalf("envelope %q is not exactly one of result or error (%v)", env, err)
		}
		if inst.pending != nil {
			// The guest fetches it with warden.result into a fresh buffer.
			fetch := &fuzzMem{b: make([]byte, resCap)}
			rs := []uint64{0, uint64(resCap)}
			hostResult(ctx, fuzzModule{mem: fetch}, rs)
			if rs[0] != n {
				t.Fatalf("warden.result reports %d, call reported %d", rs[0], n)
			}
			if n <= uint64(resCap) {
				if inst.pending != nil || !bytes.Equal(fetch.b[:n], env) {
					t.Fatal("warden.result did not deliver the envelope whole")
				}
			} else if inst.pending == nil || !bytes.Equal(fetch.b, make([]byte, resCap)) {
				t.Fatal("warden.result wrote into a buffer too small for the envelope")
			}
		}
	})
}
