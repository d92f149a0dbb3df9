// Command wardenbenchextism is the Extism peer of the test guest's echo tool,
// for the warm-invocation benchmark. No Extism Go PDK is reachable from this
// machine's module proxy, so it calls the Extism kernel imports directly.
package main

import "unsafe"

//go:wasmimport extism:host/env input_length
func inputLength() uint64

//go:wasmimport extism:host/env input_load_u8
func inputLoadU8(off uint64) uint32

//go:wasmimport extism:host/env input_load_u64
func inputLoadU64(off uint64) uint64

//go:wasmimport extism:host/env alloc
func alloc(n uint64) uint64

//go:wasmimport extism:host/env store_u8
func storeU8(off uint64, v uint32)

//go:wasmimport extism:host/env store_u64
func storeU64(off uint64, v uint64)

//go:wasmimport extism:host/env output_set
func outputSet(off, n uint64)

var buf []byte

//go:wasmexport echo
func echo() int32 {
	n := inputLength()
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	i := uint64(0)
	for ; i+8 <= n; i += 8 {
		*(*uint64)(unsafe.Pointer(&buf[i])) = inputLoadU64(i)
	}
	for ; i < n; i++ {
		buf[i] = byte(inputLoadU8(i))
	}
	off := alloc(n)
	i = 0
	for ; i+8 <= n; i += 8 {
		storeU64(off+i, *(*uint64)(unsafe.Pointer(&buf[i])))
	}
	for ; i < n; i++ {
		storeU8(off+i, uint32(buf[i]))
	}
	outputSet(off, n)
	return 0
}

func main() {}
