package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// Error is one fault in a manifest, located by its JSON path (for example
// "permissions[1].resource") and, when the manifest came from bytes, by line and
// column (1-based; the column counts Unicode code points).
type Error struct {
	File string `json:"file,omitempty"` // the manifest file, when known
	Path string `json:"path"`           // JSON path of the faulty value; "" for the document itself
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	Msg  string `json:"message"`
}

// Error reads like "manifest.json:12:5: permissions[1].resource: unknown
// resource kind "fs" (valid: ...)", the form editors and CI logs link to.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every fault found in one manifest, in document order. Parse and
// Validate return it when there is more than one fault.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As find the first *Error in the list.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Errors returns the faults in err: the list, the single *Error, or nil when err
// carries none (an I/O error, for instance).
func Errors(err error) []*Error {
	var l ErrorList
	if errors.As(err, &l) {
		return l
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}

// maxErrors bounds how many faults one manifest reports; past it the reader
// has enough to do.
const maxErrors = 50

// errorSet collects faults while a pass goes on.
type errorSet struct {
	loc  *locator
	list ErrorList
}

func (s *errorSet) add(path string, format string, args ...any) {
	s.addAt(path, -1, format, args...)
}

// addAt records a fault at byte offset off, or at the position of path when off
// is negative.
func (s *errorSet) addAt(path string, off int, format string, args ...any) {
	if len(s.list) >= maxErrors {
		return
	}
	e := &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
	if s.loc != nil {
		if off < 0 {
			off = s.loc.offset(path)
		}
		e.Line, e.Col = s.loc.lineCol(off)
	}
	s.list = append(s.list, e)
}

func (s *errorSet) err() error {
	switch len(s.list) {
	case 0:
		return nil
	case 1:
		return s.list[0]
	}
	return s.list
}

// withFile sets the file name on every fault in err.
func withFile(err error, file string) error {
	for _, e := range Errors(err) {
		e.File = file
	}
	return err
}
