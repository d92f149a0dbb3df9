package resource

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors a program can branch on with errors.Is. Every parse failure
// is a *ParseError whose Err field holds one of these.
var (
	// ErrSyntax: the pattern does not follow the grammar of its kind.
	ErrSyntax = errors.New("invalid resource pattern")
	// ErrUnknownKind: the text before the first ':' is not one of Kinds.
	ErrUnknownKind = errors.New("unknown resource kind")
	// ErrTooLong: the input is longer than MaxPatternLen bytes.
	ErrTooLong = errors.New("resource pattern too long")
	// ErrEncoding: invalid UTF-8, a NUL or other control character, a
	// bidirectional override, or surrounding white space.
	ErrEncoding = errors.New("resource pattern has forbidden characters")
	// ErrEscapesRoot: a ".." segment climbs above "/".
	ErrEscapesRoot = errors.New("resource pattern climbs above the root")
	// ErrNoHome: the pattern starts with "~" but no home directory is known.
	ErrNoHome = errors.New("home directory unknown")
	// ErrInvalidAction: an action list holds an action the kind does not
	// have, a duplicate, or nothing at all.
	ErrInvalidAction = errors.New("invalid action")
)

// MaxPatternLen caps the input of Parse. Real patterns are far shorter; the cap
// keeps a hostile manifest from making the parser and the quadratic Contains
// check do unbounded work.
const MaxPatternLen = 4096

// ParseError says what is wrong with a pattern and where. Offset is a byte
// offset into Input (after Unicode NFC normalisation, which rarely moves it).
type ParseError struct {
	Input  string
	Offset int
	Reason string
	// Err is one of the package's sentinel errors (ErrSyntax, ErrUnknownKind,
	// ...), returned by Unwrap so callers can use errors.Is.
	Err error
}

func (e *ParseError) Error() string {
	in := e.Input
	if len(in) > 80 {
		in = in[:80] + "..."
	}
	return fmt.Sprintf("resource pattern %q: %s (at byte %d)", in, e.Reason, e.Offset)
}

func (e *ParseError) Unwrap() error {
	if e.Err == nil {
		return ErrSyntax
	}
	return e.Err
}

func perr(input string, off int, sentinel error, format string, args ...any) *ParseError {
	return &ParseError{Input: input, Offset: off, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

func kindList() string {
	var b strings.Builder
	for i, k := range Kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(k))
	}
	return b.String()
}
