package hostapi

// This file is the method catalogue: the embedded JSON Schemas (the contract,
// documented in docs/host-api.md) and the table that says, for each method,
// what it touches and which provider performs it. Adding a method — net.fetch,
// clipboard.read, events.publish, plugin.call — is one schema entry, one
// table entry and one provider; Gate.Call does not change.

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenproject/warden/resource"
)

//go:embed schemas/catalogue.json
var schemaFS embed.FS

// CatalogueJSON returns the catalogue's JSON Schema document: one params and
// one result schema per method, under methods/<name>/.
func CatalogueJSON() []byte {
	b, _ := schemaFS.ReadFile("schemas/catalogue.json")
	return b
}

const catalogueURL = "https://warden.dev/schemas/host-api/catalogue.json"

// Access is one (resource, action) a call touches: a concrete resource name
// like "filesystem:/home/u/a.csv", which a capability must cover.
type Access struct {
	Kind   resource.Kind
	Name   string // concrete resource name, resource.Pattern.Match syntax
	Action string
	// Alt is an action that serves as well as Action when the capability
	// lacks Action (fs.stat: read, or list for a directory listing's
	// entries). The gate records in Action the one that was used.
	Alt string
	// Path is the clean absolute host path for a filesystem access.
	Path string
}

// methodDef is one catalogue entry.
type methodDef struct {
	name string
	// access maps validated params to the resources the call touches. An
	// empty result means the method needs no capability (log.write,
	// capability.list); it is still audited.
	access func(a *args) ([]Access, *Error)
	// run performs the call through a provider and returns the result JSON.
	run func(ctx context.Context, c *call) ([]byte, *Error)
	// effect marks a method whose effect leaves the sandbox: the gate
	// writes a durable intent event before it (run calls c.intent).
	effect bool
	// preview renders the data involved for a confirmation prompt.
	preview func(a *args) (string, int64)
	// spend says what the call draws from the invocation's budget besides
	// its events (budget.go): the kind and how much. Nil for a method that
	// writes and logs nothing.
	spend func(a *args) (budgetKind, int64)
	// schema holds {"params": ..., "result": ...} for a method that is not
	// in the embedded catalogue (one registered by a test); nil for builtins.
	schema map[string]any
}

// method is a catalogue entry compiled at NewGate.
type method struct {
	methodDef
	params *objSpec
	schema *jsonschema.Schema // params schema, for tests and tools
	result *jsonschema.Schema
}

// builtins is the table of methods this host implements.
var builtins = []methodDef{
	{name: "fs.read", access: fsAccess("path", "read"), run: runFSRead},
	{name: "fs.write", access: fsAccess("path", "write"), run: runFSWrite, effect: true, preview: func(a *args) (string, int64) {
		d := a.Bytes("data")
		return preview(d), int64(len(d))
	}, spend: func(a *args) (budgetKind, int64) { return kindWrite, int64(len(a.Bytes("data"))) }},
	{name: "fs.list", access: fsAccess("path", "list"), run: runFSList},
	{name: "fs.stat", access: fsAltAccess("path", "read", "list"), run: runFSStat},
	{name: "fs.delete", access: fsAccess("path", "delete"), run: runFSDelete, effect: true},
	{name: "fs.rename", access: fsRenameAccess, run: runFSRename, effect: true},
	{name: "fs.mkdir", access: fsAccess("path", "write"), run: runFSMkdir, effect: true},
	{name: "kv.get", access: kvAccess("key", "read"), run: runKVGet},
	{name: "kv.set", access: kvAccess("key", "write"), run: runKVSet, preview: func(a *args) (string, int64) {
		d := a.Bytes("value")
		return preview(d), int64(len(d))
	}},
	{name: "kv.delete", access: kvAccess("key", "delete"), run: runKVDelete},
	{name: "kv.list", access: kvAccess("prefix", "list"), run: runKVList},
	{name: "log.write", access: noAccess, run: runLogWrite, spend: func(a *args) (budgetKind, int64) { return kindLog, int64(len(a.Str("message"))) }},
	{name: "capability.list", access: noAccess, run: runCapList},
	{name: "capability.request", access: noAccess, run: runCapRequest},
}

func noAccess(*args) ([]Access, *Error) { return nil, nil }

// compileCatalogue compiles every schema of the catalogue and derives the
// decoder table of each entry of defs. A method without a schema, or a schema
// without a method, fails.
func compileCatalogue(defs []methodDef) (map[string]*method, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(CatalogueJSON()))
	if err != nil {
		return nil, fmt.Errorf("host API catalogue: %w", err)
	}
	raw, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("host API catalogue: not a JSON object")
	}
	entries, _ := raw["methods"].(map[string]any)
	for _, d := range defs {
		if d.schema != nil {
			if _, clash := entries[d.name]; clash {
				return nil, fmt.Errorf("host API catalogue: method %q is already in the catalogue", d.name)
			}
			entries[d.name] = d.schema
		}
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertContent() // contentEncoding base64 is checked, as the decoder does
	if err := c.AddResource(catalogueURL, doc); err != nil {
		return nil, fmt.Errorf("host API catalogue: %w", err)
	}
	resolve := func(ref string) (map[string]any, error) {
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			return nil, fmt.Errorf("$ref %q: only #/$defs/... references are supported", ref)
		}
		defs, _ := raw["$defs"].(map[string]any)
		d, ok := defs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: no such definition", ref)
		}
		return d, nil
	}
	out := make(map[string]*method, len(defs))
	for _, d := range defs {
		e, ok := entries[d.name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("host API catalogue: method %q has no schema under methods", d.name)
		}
		ps, ok := e["params"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("host API catalogue: method %q has no params schema", d.name)
		}
		if _, ok := e["result"].(map[string]any); !ok {
			return nil, fmt.Errorf("host API catalogue: method %q has no result schema", d.name)
		}
		spec, err := deriveSpec(ps, resolve, "methods/"+d.name+"/params")
		if err != nil {
			return nil, fmt.Errorf("host API catalogue: %w", err)
		}
		m := &method{methodDef: d, params: spec}
		ptr := catalogueURL + "#/methods/" + jsonPointerEscape(d.name)
		if m.schema, err = c.Compile(ptr + "/params"); err != nil {
			return nil, fmt.Errorf("host API catalogue: %s params: %w", d.name, err)
		}
		if m.result, err = c.Compile(ptr + "/result"); err != nil {
			return nil, fmt.Errorf("host API catalogue: %s result: %w", d.name, err)
		}
		if _, dup := out[d.name]; dup {
			return nil, fmt.Errorf("host API catalogue: method %q defined twice", d.name)
		}
		out[d.name] = m
	}
	for name := range entries {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("host API catalogue: schema for %q but no method implements it", name)
		}
	}
	return out, nil
}

func jsonPointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// Methods returns the names of the catalogue's methods, sorted.
func (g *Gate) Methods() []string {
	names := make([]string, 0, len(g.methods))
	for n := range g.methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
