//go:build wasip1

//lint:file-ignore U1000 the host calls the go:wasmexport functions, which staticcheck cannot see.

package pdk

import (
	"sync"
	"unsafe"
)

// The ABI is specified in warden's docs/abi.md. Pointers are offsets into this
// module's linear memory; lengths are bytes.

//go:wasmimport warden call
//go:noescape
func wardenCall(method unsafe.Pointer, methodLen uint32, params unsafe.Pointer, paramsLen uint32,
	token unsafe.Pointer, tokenLen uint32, out unsafe.Pointer, outCap uint32) uint32

//go:wasmimport warden result
//go:noescape
func wardenResult(out unsafe.Pointer, outCap uint32) uint32

var (
	callMu  sync.Mutex
	callBuf = make([]byte, 4096) // most results fit; larger ones are fetched by warden.result
)

// hostCall performs one host call and returns the result envelope, copied into
// memory the caller owns.
func hostCall(token, method string, params []byte) ([]byte, error) {
	callMu.Lock()
	defer callMu.Unlock()
	n := wardenCall(
		unsafe.Pointer(unsafe.StringData(method)), uint32(len(method)),
		unsafe.Pointer(unsafe.SliceData(params)), uint32(len(params)),
		unsafe.Pointer(unsafe.StringData(token)), uint32(len(token)),
		unsafe.Pointer(unsafe.SliceData(callBuf)), uint32(len(callBuf)))
	if int(n) <= len(callBuf) {
		return append([]byte(nil), callBuf[:n]...), nil
	}
	big := make([]byte, n)
	if m := wardenResult(unsafe.Pointer(unsafe.SliceData(big)), n); m != n {
		return nil, &Error{Code: CodeInternal, Message: "host result changed size between warden.call and warden.result"}
	}
	return big, nil
}

var (
	inBuf  []byte // written by the host between warden_alloc and warden_call
	outBuf []byte // the last result envelope; valid until the next warden_call
)

// wardenAlloc hands the host a buffer for the tool name and input. One buffer
// is reused across calls, so a warm invocation allocates nothing here.
//
//go:wasmexport warden_alloc
func wardenAlloc(size uint32) uint32 {
	if int(size) > cap(inBuf) || inBuf == nil {
		inBuf = make([]byte, max(int(size), 256))
	}
	inBuf = inBuf[:cap(inBuf)]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf))))
}

// wardenCallExport runs a tool. The name and input must lie inside the buffer
// the last warden_alloc returned; the result envelope's address and length
// come back packed as ptr<<32 | len.
//
//go:wasmexport warden_call
func wardenCallExport(namePtr, nameLen, inputPtr, inputLen uint32) uint64 {
	name, okName := inSlice(namePtr, nameLen)
	input, okInput := inSlice(inputPtr, inputLen)
	outBuf = outBuf[:0]
	if !okName || !okInput {
		outBuf = append(outBuf, `{"error":{"code":"invalid_params","message":"tool name or input lies outside the buffer warden_alloc returned"}}`...)
	} else {
		outBuf = envelope(outBuf, string(name), input)
	}
	ptr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(outBuf))))
	return ptr<<32 | uint64(len(outBuf))
}

// inSlice maps a host-supplied (ptr, len) onto inBuf without trusting it.
func inSlice(ptr, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if len(inBuf) == 0 {
		return nil, false
	}
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf))))
	if ptr < base {
		return nil, false
	}
	off := uint64(ptr - base)
	if off+uint64(n) > uint64(len(inBuf)) {
		return nil, false
	}
	return inBuf[off : off+uint64(n)], true
}
