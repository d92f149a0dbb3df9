package hostapi

// This file is the hot-path params decoder. Validating params with the
// compiled JSON Schema costs about 1 µs and 19 allocations for a one-member
// object (measured with santhosh-tekuri/jsonschema/v6), half of the whole
// per-call budget (BENCHMARKS.md P1). So the gate validates params with a
// strict decoder driven by a field table that is derived from the very same
// schema at NewGate (derive.go refuses any keyword it does not implement), and
// a property test (params_test.go) checks that decoder and schema agree.
//
// The decoder is stricter than the schema in three places, all documented in
// docs/host-api.md: a duplicate member name, an integer written with a
// fraction or exponent (1.0, 1e2), and a string with invalid UTF-8 or a lone
// surrogate escape are refused. A guest that sends what the schema allows
// and none of those is never refused by the decoder.

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxMembers bounds a params object. Every catalogue method has fewer
// properties, and additionalProperties is always false, so a larger object is
// invalid under the schema too.
const maxMembers = 8

type jkind uint8

const (
	jString jkind = iota + 1
	jNumber
	jBool
	jNull
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jString:
		return "string"
	case jNumber:
		return "number"
	case jBool:
		return "boolean"
	case jNull:
		return "null"
	case jArray:
		return "array"
	case jObject:
		return "object"
	}
	return "value"
}

// member is one decoded top-level member of a params object.
type member struct {
	name  string
	kind  jkind
	str   string   // jString
	num   int64    // jNumber when isInt
	isInt bool     // a plain JSON integer that fits int64
	b     bool     // jBool
	strs  []string // jArray when every element is a string (allStr)
	other bool     // jArray holding a non-string, or jObject
	bytes []byte   // decoded base64, filled by validate for base64 fields
}

// args holds a call's decoded params. Methods read them by name through the
// accessors below; validate has already checked types and bounds.
type args struct {
	n int
	m [maxMembers]member
}

func (a *args) get(name string) *member {
	for i := 0; i < a.n; i++ {
		if a.m[i].name == name {
			return &a.m[i]
		}
	}
	return nil
}

// Str returns the string member name, or "".
func (a *args) Str(name string) string {
	if m := a.get(name); m != nil {
		return m.str
	}
	return ""
}

// Int returns the integer member name and whether it was present.
func (a *args) Int(name string) (int64, bool) {
	if m := a.get(name); m != nil {
		return m.num, true
	}
	return 0, false
}

// Bool returns the boolean member name, or false.
func (a *args) Bool(name string) bool {
	if m := a.get(name); m != nil {
		return m.b
	}
	return false
}

// Strs returns the string-array member name, or nil.
func (a *args) Strs(name string) []string {
	if m := a.get(name); m != nil {
		return m.strs
	}
	return nil
}

// Bytes returns the decoded base64 member name, or nil.
func (a *args) Bytes(name string) []byte {
	if m := a.get(name); m != nil {
		return m.bytes
	}
	return nil
}

// paramError says why params were refused; it becomes CodeInvalidParams.
type paramError struct {
	at  int    // byte offset, -1 when not positional
	msg string // sentence fragment
}

func (e *paramError) Error() string {
	if e.at >= 0 {
		return e.msg + " (at byte " + strconv.Itoa(e.at) + ")"
	}
	return e.msg
}

func perrAt(at int, msg string) *paramError { return &paramError{at: at, msg: msg} }

// decodeParams parses data, which must be one JSON object (or empty, meaning
// {}), into a.
func decodeParams(data []byte, a *args) *paramError {
	a.n = 0
	d := decoder{data: data}
	d.ws()
	if d.i == len(data) {
		return nil // no params at all: the same as {}
	}
	if data[d.i] != '{' {
		return perrAt(d.i, "params must be a JSON object")
	}
	d.i++
	d.ws()
	if d.i < len(data) && data[d.i] == '}' {
		d.i++
		return d.end()
	}
	for {
		d.ws()
		if d.i >= len(data) || data[d.i] != '"' {
			return perrAt(d.i, "expected a member name in double quotes")
		}
		at := d.i
		name, err := d.str()
		if err != nil {
			return err
		}
		for j := 0; j < a.n; j++ {
			if a.m[j].name == name {
				return perrAt(at, "member "+strconv.Quote(name)+" appears twice")
			}
		}
		if a.n == maxMembers {
			return perrAt(at, "too many members in params")
		}
		d.ws()
		if d.i >= len(data) || data[d.i] != ':' {
			return perrAt(d.i, "expected ':' after member name")
		}
		d.i++
		d.ws()
		m := &a.m[a.n]
		*m = member{name: name}
		if err := d.value(m); err != nil {
			return err
		}
		a.n++
		d.ws()
		if d.i >= len(data) {
			return perrAt(d.i, "unterminated params object")
		}
		switch data[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return d.end()
		default:
			return perrAt(d.i, "expected ',' or '}'")
		}
	}
}

type decoder struct {
	data []byte
	i    int
}

func (d *decoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) end() *paramError {
	d.ws()
	if d.i != len(d.data) {
		return perrAt(d.i, "unexpected data after the params object")
	}
	return nil
}

// value decodes one member value. Arrays keep their strings; anything nested
// deeper than an array of scalars is refused outright, because no params
// schema the decoder supports allows it (so the schema refuses it too).
func (d *decoder) value(m *member) *paramError {
	if d.i >= len(d.data) {
		return perrAt(d.i, "expected a value")
	}
	switch c := d.data[d.i]; {
	case c == '"':
		s, err := d.str()
		if err != nil {
			return err
		}
		m.kind, m.str = jString, s
	case c == '-' || (c >= '0' && c <= '9'):
		n, isInt, err := d.number()
		if err != nil {
			return err
		}
		m.kind, m.num, m.isInt = jNumber, n, isInt
	case c == 't':
		if err := d.lit("true"); err != nil {
			return err
		}
		m.kind, m.b = jBool, true
	case c == 'f':
		if err := d.lit("false"); err != nil {
			return err
		}
		m.kind = jBool
	case c == 'n':
		if err := d.lit("null"); err != nil {
			return err
		}
		m.kind = jNull
	case c == '[':
		return d.array(m)
	case c == '{':
		return perrAt(d.i, "member "+strconv.Quote(m.name)+" must not be an object")
	default:
		return perrAt(d.i, "invalid JSON value")
	}
	return nil
}

func (d *decoder) array(m *member) *paramError {
	m.kind = jArray
	d.i++ // '['
	d.ws()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		m.strs = []string{}
		return nil
	}
	for {
		d.ws()
		if d.i >= len(d.data) {
			return perrAt(d.i, "unterminated array")
		}
		var el member
		switch d.data[d.i] {
		case '[', '{':
			return perrAt(d.i, "member "+strconv.Quote(m.name)+" must not hold nested arrays or objects")
		}
		if err := d.value(&el); err != nil {
			return err
		}
		if el.kind == jString {
			m.strs = append(m.strs, el.str)
		} else {
			m.other = true
		}
		d.ws()
		if d.i >= len(d.data) {
			return perrAt(d.i, "unterminated array")
		}
		switch d.data[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return perrAt(d.i, "expected ',' or ']'")
		}
	}
}

func (d *decoder) lit(s string) *paramError {
	if !bytes.HasPrefix(d.data[d.i:], []byte(s)) {
		return perrAt(d.i, "invalid JSON literal")
	}
	d.i += len(s)
	return nil
}

// number scans a JSON number (RFC 8259 section 6). isInt is true for a plain
// integer (no fraction, no exponent) that fits int64; only those satisfy an
// "integer" field here.
func (d *decoder) number() (int64, bool, *paramError) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	if d.i >= len(d.data) {
		return 0, false, perrAt(start, "invalid number")
	}
	switch c := d.data[d.i]; {
	case c == '0':
		d.i++
	case c >= '1' && c <= '9':
		for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
			d.i++
		}
	default:
		return 0, false, perrAt(start, "invalid number")
	}
	plain := true
	if d.i < len(d.data) && d.data[d.i] == '.' {
		plain = false
		d.i++
		if !d.digits() {
			return 0, false, perrAt(start, "invalid number: digits must follow '.'")
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		plain = false
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if !d.digits() {
			return 0, false, perrAt(start, "invalid number: digits must follow the exponent")
		}
	}
	if !plain {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(string(d.data[start:d.i]), 10, 64)
	if err != nil {
		return 0, false, nil // out of int64 range: a number, never a valid integer here
	}
	return n, true, nil
}

func (d *decoder) digits() bool {
	start := d.i
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

// str decodes a JSON string at d.i (which is '"'). Strings without escapes
// cost one allocation; escapes take the slow path.
func (d *decoder) str() (string, *paramError) {
	start := d.i
	d.i++
	for j := d.i; j < len(d.data); j++ {
		c := d.data[j]
		if c == '"' {
			raw := d.data[d.i:j]
			if !utf8.Valid(raw) {
				return "", perrAt(start, "string is not valid UTF-8")
			}
			d.i = j + 1
			return string(raw), nil
		}
		if c == '\\' {
			return d.strSlow(start)
		}
		if c < 0x20 {
			return "", perrAt(j, "control character in string; escape it")
		}
	}
	return "", perrAt(start, "unterminated string")
}

func (d *decoder) strSlow(start int) (string, *paramError) {
	var out []byte
	for d.i < len(d.data) {
		c := d.data[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(out) {
				return "", perrAt(start, "string is not valid UTF-8")
			}
			return string(out), nil
		case c < 0x20:
			return "", perrAt(d.i, "control character in string; escape it")
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.data) {
			break
		}
		e := d.data[d.i+1]
		d.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", perrAt(d.i-2, `invalid \u escape`)
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || d.i+1 >= len(d.data) || d.data[d.i] != '\\' || d.data[d.i+1] != 'u' {
					return "", perrAt(d.i-6, "lone UTF-16 surrogate in string")
				}
				d.i += 2
				r2, ok := d.hex4()
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return "", perrAt(d.i-6, "lone UTF-16 surrogate in string")
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", perrAt(d.i-2, "invalid escape in string")
		}
	}
	return "", perrAt(start, "unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.i+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.i : d.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// validate checks decoded args against the method's field table and decodes
// base64 members. It is the schema, compiled to a few comparisons.
func (s *objSpec) validate(a *args) *paramError {
	for i := 0; i < a.n; i++ {
		m := &a.m[i]
		f := s.field(m.name)
		if f == nil {
			return &paramError{at: -1, msg: "unknown member " + strconv.Quote(m.name) + "; " + s.known()}
		}
		if err := f.check(m); err != nil {
			return err
		}
	}
	for i := range s.fields {
		if f := &s.fields[i]; f.required && a.get(f.name) == nil {
			return &paramError{at: -1, msg: "missing required member " + strconv.Quote(f.name)}
		}
	}
	return nil
}

func (f *fieldSpec) check(m *member) *paramError {
	bad := func(why string) *paramError {
		return &paramError{at: -1, msg: "member " + strconv.Quote(f.name) + " " + why}
	}
	switch f.typ {
	case ftString:
		if m.kind != jString {
			return bad("must be a string, not " + m.kind.String())
		}
		if err := f.str.check(m.str); err != "" {
			return bad(err)
		}
		if f.base64 {
			b, err := base64.StdEncoding.DecodeString(m.str)
			if err != nil {
				return bad("must be base64 (RFC 4648, with padding)")
			}
			m.bytes = b
		}
	case ftInteger:
		if m.kind != jNumber || !m.isInt {
			return bad("must be an integer written without fraction or exponent")
		}
		if (f.hasMin && m.num < f.min) || (f.hasMax && m.num > f.max) {
			return bad("must be between " + strconv.FormatInt(f.min, 10) + " and " + strconv.FormatInt(f.max, 10))
		}
	case ftBoolean:
		if m.kind != jBool {
			return bad("must be true or false, not " + m.kind.String())
		}
	case ftStringArray:
		if m.kind != jArray || m.other {
			return bad("must be an array of strings")
		}
		if len(m.strs) < f.minItems || (f.maxItems >= 0 && len(m.strs) > f.maxItems) {
			return bad("must hold between " + strconv.Itoa(f.minItems) + " and " + strconv.Itoa(f.maxItems) + " items")
		}
		for i, s := range m.strs {
			if err := f.items.check(s); err != "" {
				return bad("item " + strconv.Itoa(i) + " " + err)
			}
			if f.unique {
				for _, t := range m.strs[:i] {
					if t == s {
						return bad("lists " + strconv.Quote(s) + " twice")
					}
				}
			}
		}
	}
	return nil
}

func (c *strSpec) check(s string) string {
	if c.minLen > 0 || c.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if n < c.minLen {
			return "is shorter than " + strconv.Itoa(c.minLen) + " characters"
		}
		if c.maxLen >= 0 && n > c.maxLen {
			return "is longer than " + strconv.Itoa(c.maxLen) + " characters"
		}
	}
	if c.enum != nil {
		for _, e := range c.enum {
			if e == s {
				return ""
			}
		}
		return "must be one of " + c.enumList()
	}
	return ""
}
