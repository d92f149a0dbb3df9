package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/wardenproject/warden/pdk"
)

// fileOp is one step of the fileops tool.
type fileOp struct {
	Op   string `json:"op"` // read, pread, write, pwrite, truncate, say, spin, close
	N    int    `json:"n"`
	Off  int64  `json:"off"`
	Data string `json:"data"`
}

type fileOpResult struct {
	N     int    `json:"n"`
	Data  string `json:"data,omitempty"`
	Errno string `json:"errno,omitempty"`
}

// opErr names a file error as the tests assert it: the errno the host gave.
func opErr(err error) string {
	var en syscall.Errno
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, syscall.EACCES):
		return "permission"
	case errors.Is(err, syscall.EBADF):
		return "badf"
	case errors.Is(err, syscall.EINVAL):
		return "inval"
	case errors.As(err, &en):
		return "errno " + en.Error()
	}
	return "other: " + err.Error()
}

var openFlags = map[string]int{
	"rdonly": os.O_RDONLY, "wronly": os.O_WRONLY, "rdwr": os.O_RDWR,
	"create": os.O_CREATE, "trunc": os.O_TRUNC, "append": os.O_APPEND, "excl": os.O_EXCL,
}

func init() {
	// fileops opens one file with the given flags and runs ops on the one
	// descriptor in order, reporting each: how the capability filesystem
	// treats a descriptor (O_RDWR, pwrite, truncate, an open file whose
	// grant is revoked mid-call: "say" prints a line, which a host test can
	// act on before the next op).
	pdk.Tool("fileops", func(_ context.Context, in struct {
		Path  string   `json:"path"`
		Flags []string `json:"flags"`
		Ops   []fileOp `json:"ops"`
	}) (map[string]any, error) {
		flag := 0
		for _, f := range in.Flags {
			v, ok := openFlags[f]
			if !ok {
				return nil, fmt.Errorf("unknown flag %q", f)
			}
			flag |= v
		}
		f, err := os.OpenFile(in.Path, flag, 0o644)
		if err != nil {
			return map[string]any{"open": opErr(err)}, nil
		}
		closed := false
		defer func() {
			if !closed {
				f.Close()
			}
		}()
		var out []fileOpResult
		for _, op := range in.Ops {
			var r fileOpResult
			switch op.Op {
			case "read", "pread":
				buf := make([]byte, op.N)
				if op.Op == "read" {
					r.N, err = f.Read(buf)
				} else {
					r.N, err = f.ReadAt(buf, op.Off)
				}
				r.Data, r.Errno = string(buf[:r.N]), opErr(err)
			case "write":
				r.N, err = f.Write([]byte(op.Data))
				r.Errno = opErr(err)
			case "pwrite":
				r.N, err = f.WriteAt([]byte(op.Data), op.Off)
				r.Errno = opErr(err)
			case "truncate":
				r.Errno = opErr(f.Truncate(op.Off))
			case "say":
				fmt.Println(op.Data)
			case "spin":
				for {
					sink++
				}
			case "close":
				closed = true
				r.Errno = opErr(f.Close())
			default:
				return nil, fmt.Errorf("unknown op %q", op.Op)
			}
			out = append(out, r)
		}
		return map[string]any{"open": "", "results": out}, nil
	})
}
