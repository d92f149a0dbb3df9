package audit

import (
	"os"

	"github.com/wardenproject/warden/internal/atomicfile"
)

// fileOps are the calls through which the ledger changes its files: every
// open for writing, write, fdatasync, truncation, rename and directory sync
// of the segments, the hash cache, the checkpoints file, the origin and the
// witness goes through them. A Ledger always uses osFileOps; tests in this
// package substitute their own (faults_test.go) to make one chosen call fail
// with a chosen error, because the writer's failure path, which is what
// makes every caller fail closed when the disk breaks or fills, is never
// taken on a healthy disk. Reads need no seam: a failed read is an error
// returned to the reader and changes nothing.
type fileOps struct {
	openFile  func(path string, flag int, perm os.FileMode) (*os.File, error)
	write     func(f *os.File, b []byte) (int, error)
	writeAt   func(f *os.File, b []byte, off int64) (int, error)
	truncate  func(f *os.File, size int64) error
	datasync  func(f *os.File) error
	writeFile func(path string, data []byte) error // create or replace path with data, fsynced
	rename    func(oldpath, newpath string) error
	syncDir   func(dir string) error
}

var osFileOps = fileOps{
	openFile:  os.OpenFile,
	write:     (*os.File).Write,
	writeAt:   (*os.File).WriteAt,
	truncate:  (*os.File).Truncate,
	datasync:  datasync,
	writeFile: writeFileSync,
	rename:    os.Rename,
	syncDir:   atomicfile.SyncDir,
}

func writeFileSync(p string, data []byte) error {
	return atomicfile.WriteSynced(p, data, os.O_CREATE|os.O_TRUNC)
}
