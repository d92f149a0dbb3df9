// Command wardentestguest is the multi-tool Go guest that sandbox/wasm's tests
// and benchmarks run: well-behaved tools, hostile tools, and loops to measure.
// One guest keeps the number of slow wasip1 builds in the test run small.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unsafe"

	"github.com/wardenproject/warden/pdk"
)

type pathIn struct {
	Path string `json:"path"`
	Data string `json:"data"`
	To   string `json:"to"`
}

type nIn struct {
	N int `json:"n"`
}

type callLoopIn struct {
	N      int             `json:"n"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type fsOut struct {
	Data  string   `json:"data,omitempty"`
	Names []string `json:"names,omitempty"`
	Size  int64    `json:"size,omitempty"`
	IsDir bool     `json:"is_dir,omitempty"`
	Errno string   `json:"errno,omitempty"` // which os error class a failure had
}

// errClass names the fs error class so tests can assert ENOENT vs EACCES.
func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return "not_exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission"
	case errors.Is(err, fs.ErrExist):
		return "exist"
	default:
		return "other: " + err.Error()
	}
}

//go:wasmimport warden call
//go:noescape
func rawCall(method unsafe.Pointer, methodLen uint32, params unsafe.Pointer, paramsLen uint32,
	token unsafe.Pointer, tokenLen uint32, out unsafe.Pointer, outCap uint32) uint32

//go:wasmimport warden result
//go:noescape
func rawResult(out unsafe.Pointer, outCap uint32) uint32

var (
	sink uint64
	held []*os.File
)

func init() {
	pdk.Tool("echo", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		return in, nil
	})
	pdk.Tool("fail", func(_ context.Context, in struct{ Code, Message string }) (struct{}, error) {
		if in.Code == "" {
			return struct{}{}, errors.New(in.Message)
		}
		return struct{}{}, pdk.Errorf(pdk.Code(in.Code), "%s", in.Message)
	})
	// host performs one host call through the pdk and reports what came back.
	pdk.Tool("host", func(_ context.Context, in struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
		Token  string          `json:"token"`
	}) (map[string]any, error) {
		var res json.RawMessage
		var err error
		if in.Token != "" {
			c := &pdk.Capability{Token: in.Token}
			err = c.Call(in.Method, in.Params, &res)
		} else {
			err = pdk.Call(in.Method, in.Params, &res)
		}
		if err != nil {
			var pe *pdk.Error
			errors.As(err, &pe)
			return map[string]any{"code": pdk.CodeOf(err), "error": err.Error(), "is_denied": errors.Is(err, pdk.ErrDenied), "pe": pe != nil}, nil
		}
		return map[string]any{"result": res}, nil
	})
	// rawcall calls the warden.call import with hand-made pointers, to attack
	// the host's bounds checks.
	pdk.Tool("rawcall", func(_ context.Context, in struct {
		MethodPtr, MethodLen, ParamsPtr, ParamsLen, TokenPtr, TokenLen, OutPtr, OutCap uint32
		Method, Params                                                                 string
	}) (map[string]any, error) {
		buf := make([]byte, 256)
		copy(buf, in.Method)
		copy(buf[128:], in.Params)
		base := uint32(uintptr(unsafe.Pointer(&buf[0])))
		rel := func(p uint32) unsafe.Pointer {
			// p >= 1<<31 means "relative to buf"; else absolute.
			if p >= 1<<31 {
				return unsafe.Add(unsafe.Pointer(&buf[0]), int(p-(1<<31)))
			}
			return unsafe.Pointer(uintptr(p))
		}
		_ = base
		n := rawCall(rel(in.MethodPtr), in.MethodLen, rel(in.ParamsPtr), in.ParamsLen, rel(in.TokenPtr), in.TokenLen, rel(in.OutPtr), in.OutCap)
		res := make([]byte, n)
		m := rawResult(unsafe.Pointer(unsafe.SliceData(res)), n)
		return map[string]any{"n": n, "m": m, "envelope": string(res)}, nil
	})
	// nop_loop crosses the warden.call import n times with a fixed call, for the
	// host call benchmark; against a do-nothing import it is the floor.
	pdk.Tool("nop_loop", func(_ context.Context, in nIn) (uint32, error) {
		method := "bench.nop"
		params := []byte("{}")
		var out [64]byte
		var last uint32
		for i := 0; i < in.N; i++ {
			last = rawCall(unsafe.Pointer(unsafe.StringData(method)), uint32(len(method)),
				unsafe.Pointer(&params[0]), uint32(len(params)), nil, 0, unsafe.Pointer(&out[0]), uint32(len(out)))
		}
		return last, nil
	})
	// call_loop crosses warden.call n times with one real method and its
	// params, for the P1 benchmark through the real gate; against a
	// do-nothing import it is the floor. It returns the last envelope, so
	// the benchmark can check the calls succeeded.
	pdk.Tool("call_loop", func(_ context.Context, in callLoopIn) (string, error) {
		method, params := in.Method, []byte(in.Params)
		if len(method) == 0 || len(params) == 0 {
			return "", errors.New("call_loop needs a method and params")
		}
		var out [4096]byte
		var n uint32
		for i := 0; i < in.N; i++ {
			n = rawCall(unsafe.Pointer(unsafe.StringData(method)), uint32(len(method)),
				unsafe.Pointer(&params[0]), uint32(len(params)), nil, 0, unsafe.Pointer(&out[0]), uint32(len(out)))
		}
		if int(n) > len(out) {
			return "", fmt.Errorf("envelope of %d bytes does not fit", n)
		}
		return string(out[:n]), nil
	})
	pdk.Tool("pdk_loop", func(_ context.Context, in nIn) (int, error) {
		for i := 0; i < in.N; i++ {
			if err := pdk.Call("bench.nop", nil, nil); err != nil {
				return i, err
			}
		}
		return in.N, nil
	})
	pdk.Tool("readfile", func(_ context.Context, in pathIn) (fsOut, error) {
		b, err := os.ReadFile(in.Path)
		return fsOut{Data: string(b), Errno: errClass(err)}, nil
	})
	pdk.Tool("readlen", func(_ context.Context, in pathIn) (int, error) {
		f, err := os.Open(in.Path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		total := 0
		for {
			n, err := f.Read(buf)
			total += n
			if err != nil {
				return total, nil
			}
		}
	})
	// openmany opens the file n times without closing it.
	pdk.Tool("openmany", func(_ context.Context, in struct {
		Path string `json:"path"`
		N    int    `json:"n"`
	}) (fsOut, error) {
		for i := 0; i < in.N; i++ {
			f, err := os.Open(in.Path)
			if err != nil {
				return fsOut{Size: int64(i), Errno: errClass(err)}, nil
			}
			held = append(held, f)
		}
		return fsOut{Size: int64(in.N)}, nil
	})
	pdk.Tool("writefile", func(_ context.Context, in pathIn) (fsOut, error) {
		err := os.WriteFile(in.Path, []byte(in.Data), 0o644)
		return fsOut{Errno: errClass(err)}, nil
	})
	pdk.Tool("readdir", func(_ context.Context, in pathIn) (fsOut, error) {
		es, err := os.ReadDir(in.Path)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return fsOut{Names: names, Errno: errClass(err)}, nil
	})
	pdk.Tool("stat", func(_ context.Context, in pathIn) (fsOut, error) {
		fi, err := os.Stat(in.Path)
		if err != nil {
			return fsOut{Errno: errClass(err)}, nil
		}
		return fsOut{Size: fi.Size(), IsDir: fi.IsDir()}, nil
	})
	pdk.Tool("remove", func(_ context.Context, in pathIn) (fsOut, error) {
		return fsOut{Errno: errClass(os.Remove(in.Path))}, nil
	})
	pdk.Tool("rename", func(_ context.Context, in pathIn) (fsOut, error) {
		return fsOut{Errno: errClass(os.Rename(in.Path, in.To))}, nil
	})
	pdk.Tool("mkdir", func(_ context.Context, in pathIn) (fsOut, error) {
		return fsOut{Errno: errClass(os.Mkdir(in.Path, 0o755))}, nil
	})
	pdk.Tool("env", func(_ context.Context, _ struct{}) (map[string]any, error) {
		return map[string]any{"env": os.Environ(), "args": os.Args}, nil
	})
	pdk.Tool("loop", func(_ context.Context, _ struct{}) (int, error) {
		for {
			sink++
		}
	})
	pdk.Tool("fnv", func(_ context.Context, in nIn) (uint64, error) {
		h := uint64(14695981039346656037)
		for i := 0; i < in.N; i++ {
			h ^= uint64(i & 0xff)
			h *= 1099511628211
		}
		return h ^ sink, nil
	})
	pdk.Tool("alloc", func(_ context.Context, in nIn) (int, error) {
		var keep [][]byte
		for i := 0; i < in.N; i++ {
			b := make([]byte, 1<<20)
			b[len(b)-1] = 1
			keep = append(keep, b)
		}
		return len(keep), nil
	})
	pdk.Tool("stdout_flood", func(_ context.Context, in nIn) (int, error) {
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < in.N; i++ {
			fmt.Print(line)
			fmt.Fprint(os.Stderr, line)
		}
		return in.N, nil
	})
	pdk.Tool("result_flood", func(_ context.Context, in nIn) (string, error) {
		return strings.Repeat("y", in.N), nil
	})
	pdk.Tool("recurse", func(_ context.Context, in nIn) (int, error) {
		return recurse(in.N), nil
	})
	pdk.Tool("trap_mid_write", func(_ context.Context, in pathIn) (int, error) {
		f, err := os.Create(in.Path)
		if err != nil {
			return 0, err
		}
		f.Write([]byte("partial "))
		panic("trap in the middle of a write")
	})
	pdk.Tool("exit", func(_ context.Context, in nIn) (int, error) {
		os.Exit(in.N)
		return 0, nil
	})
	budgetTools()
}

// budgetTools are the attacks on the invocation's budget (issue 10,
// findings 7 and 8): floods of host calls, log lines and written bytes.
func budgetTools() {
	// hostloop makes the same host call n times and counts the outcomes by
	// error code ("ok" for success).
	pdk.Tool("hostloop", func(_ context.Context, in struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
		N      int             `json:"n"`
	}) (map[string]int, error) {
		out := map[string]int{}
		for i := 0; i < in.N; i++ {
			if err := pdk.Call(in.Method, in.Params, nil); err != nil {
				out[string(pdk.CodeOf(err))]++
			} else {
				out["ok"]++
			}
		}
		return out, nil
	})
	// logflood log.writes n messages of size bytes each.
	pdk.Tool("logflood", func(_ context.Context, in struct {
		N    int `json:"n"`
		Size int `json:"size"`
	}) (map[string]int, error) {
		params, _ := json.Marshal(map[string]string{"level": "info", "message": strings.Repeat("L", in.Size)})
		out := map[string]int{}
		for i := 0; i < in.N; i++ {
			if err := pdk.Call("log.write", json.RawMessage(params), nil); err != nil {
				out[string(pdk.CodeOf(err))]++
			} else {
				out["ok"]++
			}
		}
		return out, nil
	})
	// bigwrite writes size bytes to path through the WASI filesystem, chunk
	// bytes per write (all at once with os.WriteFile when chunk is 0),
	// starting at offset seek, then grows it by truncate to grow bytes when
	// grow is set.
	pdk.Tool("bigwrite", func(_ context.Context, in struct {
		Path  string `json:"path"`
		Size  int64  `json:"size"`
		Chunk int    `json:"chunk"`
		Seek  int64  `json:"seek"`
		Grow  int64  `json:"grow"`
	}) (map[string]any, error) {
		out := map[string]any{}
		if in.Chunk == 0 {
			err := os.WriteFile(in.Path, make([]byte, in.Size), 0o644)
			out["written"], out["err"] = in.Size, errText(err)
			if err != nil {
				out["written"] = 0
			}
			return out, nil
		}
		f, err := os.Create(in.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if in.Seek > 0 {
			if _, err := f.Seek(in.Seek, 0); err != nil {
				return nil, err
			}
		}
		buf := make([]byte, in.Chunk)
		var total int64
		for total < in.Size {
			n, err := f.Write(buf)
			total += int64(n)
			if err != nil {
				out["err"] = errText(err)
				break
			}
		}
		out["written"] = total
		if in.Grow > 0 {
			out["truncate_err"] = errText(f.Truncate(in.Grow))
		}
		return out, nil
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func recurse(n int) int {
	if n == 0 {
		return 0
	}
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n-1) + int(pad[n%64]&1)
}

func main() {}
