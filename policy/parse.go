package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wardenproject/warden/resource"
)

// MaxPolicySize caps a policy file. Real policies are a few kilobytes; the cap
// keeps a hostile or mistaken file from costing the host memory and time.
const MaxPolicySize = 1 << 20

// MaxRules caps the number of rules in one file.
const MaxRules = 10000

// ErrInvalidPolicy is wrapped by every error Parse returns for a bad file.
var ErrInvalidPolicy = errors.New("invalid policy")

// FieldError is one fault in a policy file, at a 1-based line and column.
type FieldError struct {
	File string // as given to ParseOptions.File; "" prints as "policy"
	Line int
	Col  int
	Path string // e.g. "rules[2].effect"; "" for the document as a whole
	Msg  string
}

func (e *FieldError) Error() string {
	file := e.File
	if file == "" {
		file = "policy"
	}
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", file, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", file, e.Line, e.Col, e.Path, e.Msg)
}

// ValidationError lists every fault Parse found, in file order. It wraps
// ErrInvalidPolicy.
type ValidationError struct {
	Errs []*FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, fe := range e.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(fe.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is find ErrInvalidPolicy.
func (e *ValidationError) Unwrap() error { return ErrInvalidPolicy }

// ParseOptions says how to read a policy file.
type ParseOptions struct {
	// File names the source in error messages and in Policy.Source.
	File string
	// Home replaces a leading "~" in resource patterns; empty means the user's
	// home directory (see resource.Options).
	Home string
}

// Load reads and parses the policy file at path.
func Load(path string, o ParseOptions) (*Policy, error) {
	if o.File == "" {
		o.File = path
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy %s: %w", path, err)
	}
	return Parse(data, o)
}

// Parse parses and validates a policy in YAML or JSON. On failure the error is a
// *ValidationError naming every bad field by line and column: unknown fields,
// duplicate keys, wrong types, bad patterns, actions, globs and durations.
// Anchors, aliases and custom tags are refused: a policy is read by people
// deciding what it grants, and indirection hides that.
func Parse(data []byte, o ParseOptions) (*Policy, error) {
	w := &walker{file: o.File, ropts: resource.Options{Home: o.Home}}
	switch {
	case len(data) > MaxPolicySize:
		w.errAt(1, 1, "", "the file is over %d bytes; a policy this large is a mistake", MaxPolicySize)
		return nil, w.err()
	case !utf8.Valid(data):
		w.errAt(1, 1, "", "the file is not valid UTF-8")
		return nil, w.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			w.errAt(1, 1, "", "the policy is empty; write at least \"version: 1\"")
		} else {
			w.syntax(err)
		}
		return nil, w.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line, col := 1, 1
		if err == nil {
			line, col = extra.Line, extra.Column
		}
		w.errAt(line, col, "", "more than one YAML document; a policy is a single document")
		return nil, w.err()
	}
	p := &Policy{Source: o.File, MaxTokenTTL: DefaultMaxTokenTTL, MaxRisk: 100}
	if p.Source == "" {
		p.Source = "policy"
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	w.policy(root, p)
	if err := w.err(); err != nil {
		return nil, err
	}
	return p, nil
}

type walker struct {
	file  string
	ropts resource.Options
	errs  []*FieldError
}

func (w *walker) err() error {
	if len(w.errs) == 0 {
		return nil
	}
	return &ValidationError{Errs: w.errs}
}

func (w *walker) errAt(line, col int, path, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{File: w.file, Line: max(line, 1), Col: max(col, 1), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (w *walker) errf(n *yaml.Node, path, format string, args ...any) {
	w.errAt(n.Line, n.Column, path, format, args...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax turns a yaml.v3 syntax error ("yaml: line 3: mapping values are not
// allowed in this context") into a FieldError; yaml.v3 gives no column.
func (w *walker) syntax(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		w.errAt(line, 1, "", "YAML syntax: %s", m[2])
		return
	}
	w.errAt(1, 1, "", "YAML syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

// plain refuses the YAML features a policy must not use. It returns false
// when n must not be looked at further.
func (w *walker) plain(n *yaml.Node, path string) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		w.errf(n, path, "aliases (*%s) are not allowed; write the value out", n.Value)
		return false
	case n.Anchor != "":
		w.errf(n, path, "anchors (&%s) are not allowed; write each value out", n.Anchor)
		return false
	case n.Tag != "" && !strings.HasPrefix(n.Tag, "!!"):
		w.errf(n, path, "custom tag %s is not allowed", n.Tag)
		return false
	}
	return true
}

type field struct {
	name     string
	required bool
	parse    func(n *yaml.Node, path string)
}

// mapping walks a YAML mapping: keys must be plain strings, each at most once,
// each one of fields; required fields must be present.
func (w *walker) mapping(n *yaml.Node, path string, fields []field) {
	if !w.plain(n, path) {
		return
	}
	if n.Kind != yaml.MappingNode {
		w.errf(n, path, "must be a mapping (key: value lines or a JSON object), not %s", describe(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !w.plain(k, path) {
			continue
		}
		if k.ShortTag() == "!!merge" {
			w.errf(k, path, "merge keys (<<) are not allowed; write each field out")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			w.errf(k, path, "keys must be plain strings, not %s", describe(k))
			continue
		}
		kp := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.errf(k, kp, "duplicate key (first at line %d); write each key once", first.Line)
			continue
		}
		seen[k.Value] = k
		var f *field
		for j := range fields {
			if fields[j].name == k.Value {
				f = &fields[j]
			}
		}
		if f == nil {
			w.errf(k, kp, "unknown field %q; valid fields here are %s", k.Value, fieldNames(fields))
			continue
		}
		if w.plain(v, kp) {
			f.parse(v, kp)
		}
	}
	for _, f := range fields {
		if _, ok := seen[f.name]; f.required && !ok {
			w.errf(n, path, "missing required field %q", f.name)
		}
	}
}

func fieldNames(fs []field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		}
		return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
	}
	return "something else"
}

func (w *walker) scalar(n *yaml.Node, path, tag, want string) bool {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != tag {
		hint := ""
		if tag == "!!str" && n.Kind == yaml.ScalarNode {
			hint = "; put it in quotes"
		}
		w.errf(n, path, "must be %s, not %s%s", want, describe(n), hint)
		return false
	}
	return true
}

func (w *walker) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if w.scalar(n, path, "!!str", "a string") {
			*dst = n.Value
		}
	}
}

func (w *walker) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if w.scalar(n, path, "!!bool", "true or false") {
			*dst = n.Value == "true"
		}
	}
}

func (w *walker) integer(dst *int, lo, hi int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !w.scalar(n, path, "!!int", "a whole number") {
			return
		}
		v, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v < int64(lo) || v > int64(hi) {
			w.errf(n, path, "must be a whole number from %d to %d", lo, hi)
			return
		}
		*dst = int(v)
	}
}

// duration reads a Go duration between lo and hi.
func (w *walker) duration(dst *time.Duration, lo, hi time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if !w.scalar(n, path, "!!str", `a duration such as "1m" or "1h"`) {
			return
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil || d < lo || d > hi {
			w.errf(n, path, `%q is not a duration between %s and %s; write e.g. "1m" or "1h"`, n.Value, lo, hi)
			return
		}
		*dst = d
	}
}

func (w *walker) strings(n *yaml.Node, path string, each func(v *yaml.Node, path string, i int)) {
	if n.Kind != yaml.SequenceNode {
		w.errf(n, path, "must be a list, not %s", describe(n))
		return
	}
	for i, v := range n.Content {
		ip := path + "[" + strconv.Itoa(i) + "]"
		if w.plain(v, ip) && w.scalar(v, ip, "!!str", "a string") {
			each(v, ip, i)
		}
	}
}

func (w *walker) policy(n *yaml.Node, p *Policy) {
	w.mapping(n, "", []field{
		{"version", true, func(v *yaml.Node, path string) {
			if w.scalar(v, path, "!!int", "the number 1") {
				if v.Value != "1" {
					w.errf(v, path, "version %s is not supported; this warden reads version 1", v.Value)
					return
				}
				p.Version = 1
			}
		}},
		{"rules", false, func(v *yaml.Node, path string) { w.rules(v, path, p) }},
		{"max_token_ttl", false, func(v *yaml.Node, path string) {
			if !w.scalar(v, path, "!!str", `a duration such as "15m" or "1h"`) {
				return
			}
			d, err := time.ParseDuration(v.Value)
			if err != nil || d <= 0 || d > MaxTokenTTLCap {
				w.errf(v, path, `%q is not a duration between 1s and %s; write e.g. "15m" or "1h"`, v.Value, MaxTokenTTLCap)
				return
			}
			if d < time.Second {
				w.errf(v, path, "%s is shorter than one second; tokens carry whole seconds", d)
				return
			}
			p.MaxTokenTTL = d
		}},
		{"confirm_timeout", false, func(v *yaml.Node, path string) {
			if !w.scalar(v, path, "!!str", `a duration such as "2m"`) {
				return
			}
			d, err := time.ParseDuration(v.Value)
			if err != nil || d < time.Second || d > MaxConfirmTimeout {
				w.errf(v, path, `%q is not a duration between 1s and %s; write e.g. "2m"`, v.Value, MaxConfirmTimeout)
				return
			}
			p.ConfirmTimeout = d
		}},
		{"always_ask", false, func(v *yaml.Node, path string) {
			p.AlwaysAsk = []Category{} // present: replaces the default, even when empty
			w.strings(v, path, func(s *yaml.Node, ip string, _ int) {
				c, err := ParseCategory(s.Value)
				if err != nil {
					w.errf(s, ip, "%v; write a kind such as net or process, or kind:action such as clipboard:read", err)
					return
				}
				p.AlwaysAsk = append(p.AlwaysAsk, c)
			})
		}},
		{"preapproved_publishers", false, func(v *yaml.Node, path string) {
			if v.Kind != yaml.SequenceNode {
				w.errf(v, path, "must be a list, not %s", describe(v))
				return
			}
			for i, e := range v.Content {
				ip := path + "[" + strconv.Itoa(i) + "]"
				var pub Publisher
				w.mapping(e, ip, []field{
					{"name", false, w.str(&pub.Name)},
					{"key_id", false, w.str(&pub.KeyID)},
				})
				if e.Kind == yaml.MappingNode && pub.Name == "" && pub.KeyID == "" {
					w.errf(e, ip, "name a publisher by key_id (preferred), name, or both")
					continue
				}
				p.PreapprovedPublishers = append(p.PreapprovedPublishers, pub)
			}
		}},
		{"max_risk", false, w.integer(&p.MaxRisk, 0, 100)},
		{"unattended_install", false, w.boolean(&p.UnattendedInstall)},
		{"max_memory_mb", false, w.integer(&p.MaxMemoryMB, 1, 1<<20)},
		{"max_write_bytes", false, w.integer(&p.MaxWriteBytes, 1, 1<<40)},
		{"max_events", false, w.integer(&p.MaxEvents, 1, 1e9)},
		{"max_log_bytes", false, w.integer(&p.MaxLogBytes, 1, 1<<40)},
		{"plugin_budget", false, func(v *yaml.Node, path string) {
			b := &p.PluginBudget
			w.mapping(v, path, []field{
				{"window", false, w.duration(&b.Window, time.Second, MaxBudgetWindow)},
				{"write_bytes", false, w.integer(&b.WriteBytes, 1, 1<<50)},
				{"events", false, w.integer(&b.Events, 1, 1e12)},
				{"log_bytes", false, w.integer(&b.LogBytes, 1, 1<<50)},
			})
		}},
	})
	if p.AlwaysAsk == nil {
		p.AlwaysAsk = append([]Category(nil), DefaultAlwaysAsk...)
	}
}

var ruleID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (w *walker) rules(n *yaml.Node, path string, p *Policy) {
	if n.Kind != yaml.SequenceNode {
		w.errf(n, path, "must be a list of rules, not %s", describe(n))
		return
	}
	if len(n.Content) > MaxRules {
		w.errf(n, path, "%d rules is over the limit of %d", len(n.Content), MaxRules)
		return
	}
	ids := map[string]int{}
	for i, e := range n.Content {
		ip := path + "[" + strconv.Itoa(i) + "]"
		r := Rule{line: e.Line}
		var nodes = map[string]*yaml.Node{}
		keep := func(name string, f func(*yaml.Node, string)) func(*yaml.Node, string) {
			return func(v *yaml.Node, p string) { nodes[name] = v; f(v, p) }
		}
		var effect string
		before := len(w.errs)
		w.mapping(e, ip, []field{
			{"id", true, keep("id", w.str(&r.ID))},
			{"effect", true, keep("effect", w.str(&effect))},
			{"publisher", false, keep("publisher", w.str(&r.Publisher))},
			{"publisher_key_id", false, w.str(&r.PublisherKeyID)},
			{"plugin", false, keep("plugin", w.str(&r.Plugin))},
			{"resource", false, keep("resource", w.str(&r.Resource))},
			{"actions", false, func(v *yaml.Node, p string) {
				nodes["actions"] = v
				w.strings(v, p, func(s *yaml.Node, _ string, _ int) { r.Actions = append(r.Actions, s.Value) })
				if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
					w.errf(v, p, "an empty list matches no action; leave actions out to mean every action")
				}
			}},
			{"reason", false, w.str(&r.Reason)},
			{"override_ask", false, keep("override_ask", w.boolean(&r.OverrideAsk))},
		})
		if len(w.errs) > before || e.Kind != yaml.MappingNode {
			continue
		}
		if !ruleID.MatchString(r.ID) {
			w.errf(nodes["id"], ip+".id", "%q is not a rule id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", r.ID)
		} else if first, dup := ids[r.ID]; dup {
			w.errf(nodes["id"], ip+".id", "rule id %q is already used by rules[%d]; ids must be unique so that decisions name one rule", r.ID, first)
		} else {
			ids[r.ID] = i
		}
		switch Effect(effect) {
		case Allow, Deny, Ask:
			r.Effect = Effect(effect)
		default:
			w.errf(nodes["effect"], ip+".effect", "%q is not an effect; write allow, deny or ask", effect)
		}
		for _, g := range []string{"publisher", "plugin"} {
			if v := nodes[g]; v != nil && v.Value == "" {
				w.errf(v, ip+"."+g, "an empty glob matches nothing useful; leave the field out to match every %s, or write \"*\"", g)
			}
		}
		if r.OverrideAsk && r.Effect != Allow && r.Effect != "" {
			w.errf(nodes["override_ask"], ip+".override_ask", "only an allow rule can override the always-ask categories")
		}
		if r.Resource == "" && r.Effect == Allow {
			w.errf(e, ip, "an allow rule must name a resource; an allow over every resource is what preapproved_publishers is for")
		}
		if r.Resource != "" {
			pat, err := resource.ParseWith(r.Resource, w.ropts)
			if err != nil {
				line, col := nodes["resource"].Line, nodes["resource"].Column
				var pe *resource.ParseError
				if errors.As(err, &pe) && !strings.Contains(r.Resource, "\n") {
					switch nodes["resource"].Style {
					case 0:
						col += pe.Offset
					case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
						col += 1 + pe.Offset // escapes inside quotes can shift this; it is a pointer, not a proof
					}
				}
				w.errAt(line, col, ip+".resource", "%v", err)
			} else {
				r.pattern = pat
				if len(r.Actions) > 0 {
					if err := resource.CheckActions(pat.Kind(), r.Actions); err != nil {
						w.errf(nodes["actions"], ip+".actions", "%v", err)
					}
				}
			}
		} else if len(r.Actions) > 0 {
			for j, a := range r.Actions {
				if !anyKindHas(a) {
					w.errf(nodes["actions"].Content[j], ip+".actions["+strconv.Itoa(j)+"]", "%q is not an action of any resource kind", a)
				}
			}
		}
		p.Rules = append(p.Rules, r)
	}
}

func anyKindHas(action string) bool {
	for _, k := range resource.Kinds {
		if resource.ValidAction(k, action) {
			return true
		}
	}
	return false
}
