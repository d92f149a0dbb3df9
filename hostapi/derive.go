package hostapi

// This file compiles a method's params schema into the field table that the
// hot-path decoder (params.go) checks. It accepts only the keywords it
// implements and refuses every other one, so a schema change that the decoder
// would silently ignore fails at NewGate instead.

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

type ftType uint8

const (
	ftString ftType = iota + 1
	ftInteger
	ftBoolean
	ftStringArray
)

type strSpec struct {
	minLen int
	maxLen int // -1: no limit
	enum   []string
}

func (c *strSpec) enumList() string {
	q := make([]string, len(c.enum))
	for i, e := range c.enum {
		q[i] = strconv.Quote(e)
	}
	return strings.Join(q, ", ")
}

type fieldSpec struct {
	name     string
	typ      ftType
	required bool
	str      strSpec // ftString
	base64   bool    // ftString with contentEncoding base64
	hasMin   bool    // ftInteger
	min      int64
	hasMax   bool
	max      int64
	minItems int // ftStringArray
	maxItems int // -1: no limit
	unique   bool
	items    strSpec
}

// objSpec is a params schema compiled for the decoder: a flat object with
// additionalProperties false.
type objSpec struct {
	fields []fieldSpec
}

func (s *objSpec) field(name string) *fieldSpec {
	for i := range s.fields {
		if s.fields[i].name == name {
			return &s.fields[i]
		}
	}
	return nil
}

func (s *objSpec) known() string {
	if len(s.fields) == 0 {
		return "this method takes no params"
	}
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = strconv.Quote(f.name)
	}
	return "known members are " + strings.Join(names, ", ")
}

// num returns a schema number (json.Number from jsonschema.UnmarshalJSON, or
// float64 from encoding/json) as a float64.
func num(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// annotations are keywords with no effect on validation.
var annotations = map[string]bool{"description": true, "title": true, "$comment": true, "examples": true, "default": true}

// deriveSpec compiles schema (a decoded JSON object from the catalogue) into
// an objSpec. resolve follows a "$ref" within the catalogue. where names the
// schema for errors.
func deriveSpec(schema map[string]any, resolve func(string) (map[string]any, error), where string) (*objSpec, error) {
	schema, err := deref(schema, resolve, where)
	if err != nil {
		return nil, err
	}
	spec := &objSpec{}
	var required []string
	for kw, v := range schema {
		switch {
		case annotations[kw]:
		case kw == "type":
			if v != "object" {
				return nil, fmt.Errorf("%s: params must be of type object, not %v", where, v)
			}
		case kw == "additionalProperties":
			if v != false {
				return nil, fmt.Errorf("%s: params must set additionalProperties to false", where)
			}
		case kw == "required":
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%s/required: must be an array of names", where)
			}
			for _, n := range list {
				s, ok := n.(string)
				if !ok {
					return nil, fmt.Errorf("%s/required: must be an array of names", where)
				}
				required = append(required, s)
			}
		case kw == "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s/properties: must be an object", where)
			}
			for name, p := range props {
				ps, ok := p.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s/properties/%s: must be a schema object", where, name)
				}
				f, err := deriveField(name, ps, resolve, where+"/properties/"+name)
				if err != nil {
					return nil, err
				}
				spec.fields = append(spec.fields, f)
			}
		default:
			return nil, fmt.Errorf("%s: keyword %q is not supported in params schemas; the fast decoder would ignore it (see derive.go)", where, kw)
		}
	}
	if schema["type"] != "object" || schema["additionalProperties"] != false {
		return nil, fmt.Errorf("%s: params must say type object and additionalProperties false", where)
	}
	if len(spec.fields) > maxMembers {
		return nil, fmt.Errorf("%s: %d properties; the decoder holds at most %d", where, len(spec.fields), maxMembers)
	}
	sort.Slice(spec.fields, func(i, j int) bool { return spec.fields[i].name < spec.fields[j].name })
	for _, r := range required {
		f := spec.field(r)
		if f == nil {
			return nil, fmt.Errorf("%s/required: %q is not a property", where, r)
		}
		f.required = true
	}
	return spec, nil
}

func deref(s map[string]any, resolve func(string) (map[string]any, error), where string) (map[string]any, error) {
	for range 8 {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s, nil
		}
		// A $ref beside other keywords is allowed in 2020-12 (both apply);
		// merge them, the referencing schema's annotations winning.
		target, err := resolve(ref)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		merged := make(map[string]any, len(target)+len(s))
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range s {
			if k == "$ref" {
				continue
			}
			if _, clash := target[k]; clash && !annotations[k] {
				return nil, fmt.Errorf("%s: keyword %q both beside $ref and in its target; the decoder cannot combine them", where, k)
			}
			merged[k] = v
		}
		s = merged
	}
	return nil, fmt.Errorf("%s: $ref chain too deep", where)
}

func deriveField(name string, s map[string]any, resolve func(string) (map[string]any, error), where string) (fieldSpec, error) {
	s, err := deref(s, resolve, where)
	if err != nil {
		return fieldSpec{}, err
	}
	f := fieldSpec{name: name, str: strSpec{maxLen: -1}, maxItems: -1, items: strSpec{maxLen: -1}}
	typ, _ := s["type"].(string)
	if _, ok := s["type"]; ok && typ == "" {
		return f, fmt.Errorf("%s/type: must be a single type name", where)
	}
	if typ == "" {
		if _, ok := s["enum"]; !ok {
			return f, fmt.Errorf("%s: needs a type", where)
		}
		typ = "string" // an enum of strings implies the type
	}
	switch typ {
	case "string":
		f.typ = ftString
		if err := deriveStr(&f.str, s, where, map[string]bool{"contentEncoding": true}); err != nil {
			return f, err
		}
		if ce, ok := s["contentEncoding"]; ok {
			if ce != "base64" {
				return f, fmt.Errorf("%s/contentEncoding: only base64 is supported", where)
			}
			f.base64 = true
		}
	case "integer":
		f.typ = ftInteger
		for kw, v := range s {
			switch {
			case annotations[kw], kw == "type":
			case kw == "minimum", kw == "maximum":
				n, ok := num(v)
				if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
					return f, fmt.Errorf("%s/%s: must be an integer within ±2^53", where, kw)
				}
				if kw == "minimum" {
					f.hasMin, f.min = true, int64(n)
				} else {
					f.hasMax, f.max = true, int64(n)
				}
			default:
				return f, fmt.Errorf("%s: keyword %q is not supported for integers in params schemas", where, kw)
			}
		}
		if !f.hasMin || !f.hasMax {
			return f, fmt.Errorf("%s: an integer param needs both minimum and maximum", where)
		}
	case "boolean":
		f.typ = ftBoolean
		for kw := range s {
			if !annotations[kw] && kw != "type" {
				return f, fmt.Errorf("%s: keyword %q is not supported for booleans in params schemas", where, kw)
			}
		}
	case "array":
		f.typ = ftStringArray
		for kw, v := range s {
			switch {
			case annotations[kw], kw == "type":
			case kw == "minItems", kw == "maxItems":
				n, ok := num(v)
				if !ok || n < 0 || n != math.Trunc(n) || n > 1<<20 {
					return f, fmt.Errorf("%s/%s: must be a small non-negative integer", where, kw)
				}
				if kw == "minItems" {
					f.minItems = int(n)
				} else {
					f.maxItems = int(n)
				}
			case kw == "uniqueItems":
				b, ok := v.(bool)
				if !ok {
					return f, fmt.Errorf("%s/uniqueItems: must be a boolean", where)
				}
				f.unique = b
			case kw == "items":
				is, ok := v.(map[string]any)
				if !ok {
					return f, fmt.Errorf("%s/items: must be a schema object", where)
				}
				is, err := deref(is, resolve, where+"/items")
				if err != nil {
					return f, err
				}
				if is["type"] != "string" {
					return f, fmt.Errorf("%s/items: only arrays of strings are supported", where)
				}
				if err := deriveStr(&f.items, is, where+"/items", nil); err != nil {
					return f, err
				}
			default:
				return f, fmt.Errorf("%s: keyword %q is not supported for arrays in params schemas", where, kw)
			}
		}
		if _, ok := s["items"]; !ok {
			return f, fmt.Errorf("%s: an array param needs items of type string", where)
		}
	default:
		return f, fmt.Errorf("%s/type: %q is not supported in params schemas", where, typ)
	}
	return f, nil
}

func deriveStr(c *strSpec, s map[string]any, where string, extra map[string]bool) error {
	for kw, v := range s {
		switch {
		case annotations[kw], kw == "type", extra[kw]:
		case kw == "minLength", kw == "maxLength":
			n, ok := num(v)
			if !ok || n < 0 || n != math.Trunc(n) || n > 1<<30 {
				return fmt.Errorf("%s/%s: must be a non-negative integer", where, kw)
			}
			if kw == "minLength" {
				c.minLen = int(n)
			} else {
				c.maxLen = int(n)
			}
		case kw == "enum":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return fmt.Errorf("%s/enum: must be a non-empty array of strings", where)
			}
			for _, e := range list {
				es, ok := e.(string)
				if !ok {
					return fmt.Errorf("%s/enum: only strings are supported", where)
				}
				c.enum = append(c.enum, es)
			}
		default:
			return fmt.Errorf("%s: keyword %q is not supported for strings in params schemas", where, kw)
		}
	}
	return nil
}
