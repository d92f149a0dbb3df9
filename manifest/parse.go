package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse reads a manifest from data and checks its structure only: the JSON is
// well formed, every object has only the documented fields and no key twice,
// every value has its documented type, and the required fields are present.
// Meaning (versions, patterns, tool names, the entry file) is Validate's job.
//
// On failure the error is an *Error, or an ErrorList when there are several
// faults; each names the JSON path and the line:column.
func Parse(data []byte) (*Manifest, error) {
	loc := newLocator(data)
	errs := &errorSet{loc: loc}
	root, ok := scan(data, loc, errs)
	if !ok {
		return nil, errs.err()
	}
	m := &Manifest{loc: loc}
	d := &decoder{errs: errs, src: data}
	d.manifest(root, m)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// jv is one JSON value with the byte offsets where it starts and ends.
type jv struct {
	kind byte // '{', '[', '"' (string), '0' (number), 'b' (bool), 'n' (null)
	off  int
	end  int
	s    string // a string's value or a number's text
	b    bool
	keys []string // object keys, in order
	kids []*jv    // object values or array elements, in order
}

func (v *jv) what() string {
	switch v.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 'b':
		return "a boolean"
	}
	return "null"
}

// scan walks the token stream of data into a tree of jv, recording the offset
// of every value under its JSON path. Faults that stop the walk (bad encoding,
// syntax, depth, trailing data) end it; others (duplicate keys, NUL in a
// string) are recorded and the walk goes on.
func scan(data []byte, loc *locator, errs *errorSet) (*jv, bool) {
	switch {
	case len(data) > MaxSize:
		errs.addAt("", 0, "input is %d bytes, more than the %d a manifest may have", len(data), MaxSize)
		return nil, false
	case len(bytes.TrimSpace(data)) == 0:
		errs.addAt("", 0, "input is empty; a manifest is a JSON object")
		return nil, false
	case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")):
		errs.addAt("", 0, "input starts with a byte order mark; save the file as UTF-8 without one")
		return nil, false
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		errs.addAt("", i, "NUL byte at offset %d; a manifest is text", i)
		return nil, false
	}
	if !utf8.Valid(data) {
		i := firstInvalidUTF8(data)
		errs.addAt("", i, "invalid UTF-8 at offset %d; a manifest must be UTF-8 text", i)
		return nil, false
	}
	w := &walker{src: data, dec: json.NewDecoder(bytes.NewReader(data)), loc: loc, errs: errs}
	w.dec.UseNumber()
	root, err := w.value("", 0)
	if err != nil {
		return nil, false
	}
	if root.kind != '{' {
		errs.addAt("", root.off, "expected the manifest to be a JSON object, found %s", root.what())
		return nil, false
	}
	at := w.skip()
	if _, err := w.dec.Token(); err != io.EOF {
		errs.addAt("", at, "unexpected data after the end of the manifest object")
		return nil, false
	}
	return root, true
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

type walker struct {
	src  []byte
	dec  *json.Decoder
	loc  *locator
	errs *errorSet
}

// errStop ends the walk after the fault has been recorded.
var errStop = errors.New("stop")

// skip returns the offset where the next token starts: past the decoder's
// position, white space and the separators the decoder consumes with a token.
func (w *walker) skip() int {
	i := int(w.dec.InputOffset())
	for i < len(w.src) {
		switch w.src[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		}
		break
	}
	return i
}

func (w *walker) syntax(err error, path string) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off := min(max(int(se.Offset), 0), len(w.src))
		w.errs.addAt(path, off, "malformed JSON: %s", se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		w.errs.addAt(path, len(w.src), "malformed JSON: the input ends before the value is complete")
	default:
		w.errs.addAt(path, w.skip(), "malformed JSON: %v", err)
	}
	return errStop
}

func (w *walker) value(path string, depth int) (*jv, error) {
	start := w.skip()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, w.syntax(err, path)
	}
	w.loc.pos[path] = start
	v := &jv{off: start}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= MaxDepth {
			w.errs.addAt(path, start, "nesting is deeper than %d levels", MaxDepth)
			return nil, errStop
		}
		switch t {
		case '{':
			v.kind = '{'
			for w.dec.More() {
				kstart := w.skip()
				ktok, err := w.dec.Token()
				if err != nil {
					return nil, w.syntax(err, path)
				}
				key, ok := ktok.(string)
				if !ok {
					w.errs.addAt(path, kstart, "malformed JSON: expected an object key string")
					return nil, errStop
				}
				kpath := joinKey(path, key)
				w.loc.keys[kpath] = kstart
				if strings.IndexByte(key, 0) >= 0 {
					w.errs.addAt(kpath, kstart, "key contains a NUL character")
				}
				for _, k := range v.keys {
					if k == key {
						w.errs.addAt(kpath, kstart, "duplicate key %q; each key may appear once", key)
						break
					}
				}
				kid, err := w.value(kpath, depth+1)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, key)
				v.kids = append(v.kids, kid)
			}
		case '[':
			v.kind = '['
			for i := 0; w.dec.More(); i++ {
				kid, err := w.value(joinIndex(path, i), depth+1)
				if err != nil {
					return nil, err
				}
				v.kids = append(v.kids, kid)
			}
		default:
			w.errs.addAt(path, start, "malformed JSON: unexpected %q", rune(t))
			return nil, errStop
		}
		if _, err := w.dec.Token(); err != nil { // the closing delimiter
			return nil, w.syntax(err, path)
		}
	case string:
		v.kind, v.s = '"', t
		if strings.IndexByte(t, 0) >= 0 {
			w.errs.addAt(path, start, "string contains a NUL character")
		}
	case json.Number:
		v.kind, v.s = '0', string(t)
	case bool:
		v.kind, v.b = 'b', t
	case nil:
		v.kind = 'n'
	}
	v.end = int(w.dec.InputOffset())
	return v, nil
}

// joinKey and joinIndex build JSON paths in the form people write them:
// permissions[1].resource, tools[0].input_schema["$defs"].
func joinKey(path, key string) string {
	if isIdent(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func joinIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// locator turns JSON paths and byte offsets into line:column.
type locator struct {
	src   []byte
	lines []int          // offset of the first byte of each line
	pos   map[string]int // JSON path -> offset of the value
	keys  map[string]int // JSON path -> offset of the key naming the value
}

func newLocator(src []byte) *locator {
	l := &locator{src: src, lines: []int{0}, pos: map[string]int{}, keys: map[string]int{}}
	for i, c := range src {
		if c == '\n' {
			l.lines = append(l.lines, i+1)
		}
	}
	return l
}

// offset returns where the value at path starts, or where its nearest present
// ancestor starts (a missing field is reported at its parent).
func (l *locator) offset(path string) int {
	for {
		if off, ok := l.pos[path]; ok {
			return off
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// has reports whether a value exists at path.
func (l *locator) has(path string) bool {
	_, ok := l.pos[path]
	return ok
}

func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := lastBracket(path); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// lastBracket finds the '[' that opens the final [..] segment, skipping
// brackets inside a quoted key.
func lastBracket(path string) int {
	if strings.HasSuffix(path, "\"]") {
		// a quoted key: find the opening `["` whose quote starts a valid literal
		for i := strings.LastIndex(path, "[\""); i >= 0; i = strings.LastIndex(path[:i], "[\"") {
			if _, err := strconv.Unquote(path[i+1 : len(path)-1]); err == nil {
				return i
			}
		}
		return -1
	}
	return strings.LastIndexByte(path, '[')
}

// lineCol returns the 1-based line and column (in code points) of offset off.
func (l *locator) lineCol(off int) (int, int) {
	if off < 0 {
		off = 0
	}
	if off > len(l.src) {
		off = len(l.src)
	}
	line := sort.Search(len(l.lines), func(i int) bool { return l.lines[i] > off }) - 1
	if line < 0 {
		line = 0
	}
	col := utf8.RuneCount(l.src[l.lines[line]:off]) + 1
	return line + 1, col
}

// decoder maps the jv tree onto the Go types, reporting wrong types, unknown
// and missing fields.
type decoder struct {
	errs *errorSet
	src  []byte
}

type fieldSpec struct {
	name     string
	required bool
	set      func(v *jv, path string)
}

func (d *decoder) object(v *jv, path string, fields []fieldSpec) {
	if v.kind != '{' {
		d.errs.addAt(path, v.off, "expected an object, found %s", v.what())
		return
	}
	seen := make([]bool, len(fields))
	for i, k := range v.keys {
		kp := joinKey(path, k)
		j := -1
		for n := range fields {
			if fields[n].name == k {
				j = n
				break
			}
		}
		if j < 0 {
			names := make([]string, len(fields))
			for n := range fields {
				names[n] = fields[n].name
			}
			d.errs.addAt(kp, d.errs.loc.keys[kp], "unknown field %q (known: %s)", k, strings.Join(names, ", "))
			continue
		}
		if seen[j] {
			continue // the duplicate was reported by scan
		}
		seen[j] = true
		fields[j].set(v.kids[i], kp)
	}
	for n, f := range fields {
		if f.required && !seen[n] {
			d.errs.addAt(joinKey(path, f.name), v.off, "missing required field %q", f.name)
		}
	}
}

func (d *decoder) str(dst *string) func(*jv, string) {
	return func(v *jv, path string) {
		if v.kind != '"' {
			d.errs.addAt(path, v.off, "expected a string, found %s", v.what())
			return
		}
		*dst = v.s
	}
}

func (d *decoder) boolp(dst **bool) func(*jv, string) {
	return func(v *jv, path string) {
		if v.kind != 'b' {
			d.errs.addAt(path, v.off, "expected true or false, found %s", v.what())
			return
		}
		b := v.b
		*dst = &b
	}
}

func (d *decoder) integer(dst *int) func(*jv, string) {
	return func(v *jv, path string) {
		if v.kind != '0' {
			d.errs.addAt(path, v.off, "expected an integer, found %s", v.what())
			return
		}
		// JSON Schema counts 1.0 and 1e3 as integers; so does Parse, so that the
		// published schema and this parser accept the same documents.
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil || f != math.Trunc(f) {
			d.errs.addAt(path, v.off, "expected an integer, found %s", v.s)
			return
		}
		if f < math.MinInt32 || f > math.MaxInt32 {
			d.errs.addAt(path, v.off, "integer %s is out of range", v.s)
			return
		}
		n := int64(f)
		*dst = int(n)
	}
}

func (d *decoder) strings(dst *[]string) func(*jv, string) {
	return func(v *jv, path string) {
		if v.kind != '[' {
			d.errs.addAt(path, v.off, "expected an array of strings, found %s", v.what())
			return
		}
		out := make([]string, 0, len(v.kids))
		for i, e := range v.kids {
			if e.kind != '"' {
				d.errs.addAt(joinIndex(path, i), e.off, "expected a string, found %s", e.what())
				continue
			}
			out = append(out, e.s)
		}
		*dst = out
	}
}

// schema keeps a JSON Schema's bytes as written; Validate compiles it.
func (d *decoder) schema(dst *json.RawMessage) func(*jv, string) {
	return func(v *jv, path string) {
		if v.kind != '{' {
			d.errs.addAt(path, v.off, "expected a JSON Schema object, found %s", v.what())
			return
		}
		*dst = json.RawMessage(bytes.Clone(d.src[v.off:v.end]))
	}
}

func (d *decoder) manifest(v *jv, m *Manifest) {
	d.object(v, "", []fieldSpec{
		{"name", true, d.str(&m.Name)},
		{"version", true, d.str(&m.Version)},
		{"description", true, d.str(&m.Description)},
		{"entry", true, d.str(&m.Entry)},
		{"runtime", true, d.str(&m.Runtime)},
		{"publisher", false, func(v *jv, path string) {
			d.object(v, path, []fieldSpec{
				{"name", true, d.str(&m.Publisher.Name)},
				{"key_id", true, d.str(&m.Publisher.KeyID)},
			})
		}},
		{"permissions", false, func(v *jv, path string) {
			if v.kind != '[' {
				d.errs.addAt(path, v.off, "expected an array of permissions, found %s", v.what())
				return
			}
			m.Permissions = make([]Permission, len(v.kids))
			for i, e := range v.kids {
				p := &m.Permissions[i]
				d.object(e, joinIndex(path, i), []fieldSpec{
					{"resource", true, d.str(&p.Resource)},
					{"actions", true, d.strings(&p.Actions)},
					{"reason", false, d.str(&p.Reason)},
				})
			}
		}},
		{"tools", false, func(v *jv, path string) {
			if v.kind != '[' {
				d.errs.addAt(path, v.off, "expected an array of tools, found %s", v.what())
				return
			}
			m.Tools = make([]Tool, len(v.kids))
			for i, e := range v.kids {
				t := &m.Tools[i]
				d.object(e, joinIndex(path, i), []fieldSpec{
					{"name", true, d.str(&t.Name)},
					{"description", false, d.str(&t.Description)},
					{"input_schema", false, d.schema(&t.InputSchema)},
					{"output_schema", false, d.schema(&t.OutputSchema)},
					{"annotations", false, func(v *jv, path string) {
						a := &Annotations{}
						t.Annotations = a
						d.object(v, path, []fieldSpec{
							{"title", false, d.str(&a.Title)},
							{"readOnlyHint", false, d.boolp(&a.ReadOnlyHint)},
							{"destructiveHint", false, d.boolp(&a.DestructiveHint)},
							{"idempotentHint", false, d.boolp(&a.IdempotentHint)},
							{"openWorldHint", false, d.boolp(&a.OpenWorldHint)},
						})
					}},
				})
			}
		}},
		{"limits", false, func(v *jv, path string) {
			d.object(v, path, []fieldSpec{
				{"memory_mb", false, d.integer(&m.Limits.MemoryMB)},
				{"timeout_ms", false, d.integer(&m.Limits.TimeoutMS)},
				{"max_output_bytes", false, d.integer(&m.Limits.MaxOutputBytes)},
				{"max_write_bytes", false, d.integer(&m.Limits.MaxWriteBytes)},
				{"max_events", false, d.integer(&m.Limits.MaxEvents)},
				{"max_log_bytes", false, d.integer(&m.Limits.MaxLogBytes)},
			})
		}},
		{"events", false, d.strings(&m.Events)},
	})
}

// describe is used in messages that quote a user's value; it keeps them short.
func describe(s string) string {
	if utf8.RuneCountInString(s) > 80 {
		r := []rune(s)
		s = string(r[:77]) + "..."
	}
	return fmt.Sprintf("%q", s)
}
