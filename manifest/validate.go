package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenproject/warden/internal/keyid"
	"github.com/wardenproject/warden/resource"
)

// ValidateOptions adjust Validate for where the manifest is being checked.
type ValidateOptions struct {
	// AllowUnbuilt accepts a missing entry file when the manifest's directory
	// is Go source (it has a go.mod): the toolchain builds the entry from it.
	// Lint reports such a manifest with a note; installing one still fails.
	AllowUnbuilt bool
	// SkipEntry leaves the entry file out of the check (its form is still
	// checked), for tools that judge only what a manifest declares, such as
	// warden risk.
	SkipEntry bool
	// Home is the home directory "~" expands to in resource patterns. Empty
	// means the current user's home directory.
	Home string
}

// Forms of names, fixed so that every reader agrees (docs/manifest.md).
var (
	// A plugin name never holds "_" or ".": the MCP front names a tool
	// "plugin__tool", so "__" must not occur inside a plugin name.
	pluginNameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	toolNameRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	eventNameRE  = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$`)
	// semverRE is the regular expression published with Semantic Versioning
	// 2.0.0 (semver.org, FAQ), anchored.
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
)

// MaxPermissions and MaxTools bound the lists a manifest may hold. Real
// plugins have a handful; the caps bound the work (a schema compile per tool, a
// pattern parse per permission) that one hostile manifest can cause.
const (
	MaxPermissions = 256
	MaxTools       = 256
)

const (
	maxPluginName = 64
	maxEventName  = 128
	maxVersion    = 128
)

// ValidVersion reports whether s is a Semantic Versioning 2.0.0 version, without
// a "v" prefix.
func ValidVersion(s string) bool { return len(s) <= maxVersion && semverRE.MatchString(s) }

// ValidPluginName reports whether s may name a plugin.
func ValidPluginName(s string) bool {
	return len(s) <= maxPluginName && pluginNameRE.MatchString(s)
}

// ValidToolName reports whether s may name an MCP tool.
func ValidToolName(s string) bool { return toolNameRE.MatchString(s) }

// Validate checks what the manifest means. dir is the directory holding the
// manifest (the entry is resolved inside it; "" means the current directory).
// It returns nil, an *Error, or an ErrorList.
func (m *Manifest) Validate(dir string, o ValidateOptions) error {
	errs := &errorSet{loc: m.loc}
	if dir == "" {
		dir = "."
	}

	if !ValidPluginName(m.Name) {
		errs.add("name", "plugin name %s is not valid: use lowercase letters, digits and single hyphens (like \"sheet-gen\"), at most %d characters", describe(m.Name), maxPluginName)
	}
	if !ValidVersion(m.Version) {
		hint := ""
		if strings.HasPrefix(m.Version, "v") && ValidVersion(m.Version[1:]) {
			hint = "; drop the leading \"v\""
		}
		errs.add("version", "version %s is not a Semantic Versioning 2.0.0 version like \"1.0.2\"%s", describe(m.Version), hint)
	}
	if strings.TrimSpace(m.Description) == "" {
		errs.add("description", "description is empty; say in a sentence what the plugin does")
	}
	switch m.Runtime {
	case RuntimeWasm, RuntimeProcess, RuntimeMCP:
	default:
		errs.add("runtime", "runtime %s is not one of wasm, process, mcp", describe(m.Runtime))
	}
	m.validateEntry(errs, dir, o)
	m.validatePublisher(errs)
	m.validatePermissions(errs, o)
	m.validateTools(errs)
	m.validateLimits(errs)
	m.validateEvents(errs)
	return errs.err()
}

func (m *Manifest) validateEntry(errs *errorSet, dir string, o ValidateOptions) {
	e := m.Entry
	if e == "" || strings.Contains(e, `\`) || !filepath.IsLocal(filepath.FromSlash(e)) {
		errs.add("entry", "entry %s must be a relative path inside the plugin directory, with forward slashes and no \"..\"", describe(e))
		return
	}
	if o.SkipEntry {
		return
	}
	switch err := entryExists(dir, e); {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && o.AllowUnbuilt && isGoSource(dir):
		// built from source by the toolchain; Lint notes it
	case errors.Is(err, fs.ErrNotExist):
		errs.add("entry", "entry file %s does not exist in %s; build the plugin first", describe(e), dir)
	default:
		errs.add("entry", "entry %s: %v", describe(e), err)
	}
}

// entryExists checks the entry through os.Root, so that a symbolic link can
// not make the check look outside the plugin directory.
func entryExists(dir, entry string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	fi, err := root.Stat(filepath.FromSlash(entry))
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("is not a regular file")
	}
	return nil
}

func isGoSource(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil && fi.Mode().IsRegular()
}

func (m *Manifest) hasPublisher() bool {
	return m.Publisher != (Publisher{}) || (m.loc != nil && m.loc.has("publisher"))
}

func (m *Manifest) validatePublisher(errs *errorSet) {
	if !m.hasPublisher() {
		return // Lint reports a missing publisher; it is not a structural fault
	}
	if strings.TrimSpace(m.Publisher.Name) == "" {
		errs.add("publisher.name", "publisher name is empty")
	}
	if !keyid.Valid(m.Publisher.KeyID) {
		errs.add("publisher.key_id", "key id %s is not of the form \"ed25519:\" followed by 16 lowercase hex digits of the publisher's Ed25519 public key (SHA-256, first 8 bytes)", describe(m.Publisher.KeyID))
	}
}

func (o ValidateOptions) resourceOptions() resource.Options {
	return resource.Options{Home: o.home()}
}

func (o ValidateOptions) home() string {
	if o.Home != "" {
		return o.Home
	}
	if h, err := os.UserHomeDir(); err == nil && filepath.IsAbs(h) {
		return h
	}
	return placeholderHome
}

// placeholderHome stands for "~" when no home directory is known; the checks
// only need some absolute directory to expand it to.
const placeholderHome = "/home/user"

func (m *Manifest) validatePermissions(errs *errorSet, o ValidateOptions) {
	if len(m.Permissions) > MaxPermissions {
		errs.add("permissions", "%d permissions; a manifest may have at most %d", len(m.Permissions), MaxPermissions)
		return
	}
	ro := o.resourceOptions()
	for i, p := range m.Permissions {
		base := joinIndex("permissions", i)
		rp := base + ".resource"
		pat, err := resource.ParseWith(p.Resource, ro)
		if err != nil {
			var pe *resource.ParseError
			if errors.As(err, &pe) {
				errs.addAt(rp, m.offsetInString(rp, p.Resource, pe.Offset), "%s", pe.Reason)
			} else {
				errs.add(rp, "%v", err)
			}
			continue
		}
		ap := base + ".actions"
		if len(p.Actions) == 0 {
			errs.add(ap, "no actions; list what the plugin does with %s (valid: %s)", p.Resource, strings.Join(resource.Actions(pat.Kind()), ", "))
			continue
		}
		for j, a := range p.Actions {
			if !resource.ValidAction(pat.Kind(), a) {
				errs.add(joinIndex(ap, j), "action %s is not valid for %s resources (valid: %s)", describe(a), pat.Kind(), strings.Join(resource.Actions(pat.Kind()), ", "))
			}
			for _, b := range p.Actions[:j] {
				if a == b {
					errs.add(joinIndex(ap, j), "action %q is listed twice", a)
					break
				}
			}
		}
	}
}

// offsetInString returns the byte offset of the n-th byte of the string value
// at path, when the source spells the string without escapes up to there;
// otherwise the start of the value.
func (m *Manifest) offsetInString(path, s string, n int) int {
	if m.loc == nil {
		return -1
	}
	off, ok := m.loc.pos[path]
	if !ok {
		return -1
	}
	if n < 0 || n > len(s) || off+1+n > len(m.loc.src) {
		return off
	}
	if string(m.loc.src[off+1:off+1+n]) != s[:n] {
		return off
	}
	return off + 1 + n
}

func (m *Manifest) validateTools(errs *errorSet) {
	if len(m.Tools) > MaxTools {
		errs.add("tools", "%d tools; a manifest may have at most %d", len(m.Tools), MaxTools)
		return
	}
	seen := map[string]int{}
	for i, t := range m.Tools {
		base := joinIndex("tools", i)
		if !ValidToolName(t.Name) {
			errs.add(base+".name", "tool name %s is not a valid MCP tool name: 1 to 64 letters, digits, \"_\" or \"-\"", describe(t.Name))
		} else if j, dup := seen[t.Name]; dup {
			errs.add(base+".name", "tool name %q is already used by tools[%d]", t.Name, j)
		} else {
			seen[t.Name] = i
		}
		if t.InputSchema != nil {
			if err := CheckToolSchema(t.InputSchema); err != nil {
				errs.add(base+".input_schema", "%v", err)
			}
		}
		if t.OutputSchema != nil {
			if err := CheckToolSchema(t.OutputSchema); err != nil {
				errs.add(base+".output_schema", "%v", err)
			}
		}
	}
}

// CheckToolSchema reports whether raw is a JSON Schema (draft 2020-12 unless it
// names another draft in "$schema") whose top-level type is "object", as MCP
// requires of tool input and output schemas.
//
// The schema is compiled with no URL loader: a "$ref" to anything outside the
// schema itself (a file, a web address) is an error and is never fetched.
func CheckToolSchema(raw json.RawMessage) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return errors.New("a tool schema must be a JSON object")
	}
	if t, _ := obj["type"].(string); t != "object" {
		return errors.New(`the top-level "type" must be "object": MCP passes tool arguments as one JSON object`)
	}
	const url = "mem:///tool-schema.json"
	c := jsonschema.NewCompiler()
	c.UseLoader(jsonschema.SchemeURLLoader{}) // no loaders: refuse every remote reference
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, doc); err != nil {
		return fmt.Errorf("not a valid JSON Schema: %s", firstLine(err))
	}
	if _, err := c.Compile(url); err != nil {
		return fmt.Errorf("not a valid JSON Schema: %s", firstLine(err))
	}
	return nil
}

// firstLine condenses the compiler's report, which nests one "- at" clause
// per schema keyword it tried, to the innermost two: where and what.
func firstLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	s = strings.ReplaceAll(s, "mem:///tool-schema.json", "schema")
	if parts := strings.Split(s, " - at "); len(parts) > 2 {
		s = "at " + parts[len(parts)-2] + "; at " + parts[len(parts)-1]
	} else if len(parts) == 2 {
		s = "at " + parts[1]
	}
	return s
}

func (m *Manifest) validateLimits(errs *errorSet) {
	check := func(path string, v, max int, unit string) {
		if v < 0 || v > max {
			errs.add(path, "%d is out of range: use 0 for the host default, or at most %d %s", v, max, unit)
		}
	}
	check("limits.memory_mb", m.Limits.MemoryMB, MaxMemoryMB, "MB")
	check("limits.timeout_ms", m.Limits.TimeoutMS, MaxTimeoutMS, "ms")
	check("limits.max_output_bytes", m.Limits.MaxOutputBytes, MaxMaxOutputBytes, "bytes")
	check("limits.max_write_bytes", m.Limits.MaxWriteBytes, MaxMaxWriteBytes, "bytes")
	check("limits.max_events", m.Limits.MaxEvents, MaxMaxEvents, "events")
	check("limits.max_log_bytes", m.Limits.MaxLogBytes, MaxMaxLogBytes, "bytes")
}

func (m *Manifest) validateEvents(errs *errorSet) {
	for i, e := range m.Events {
		p := joinIndex("events", i)
		if len(e) > maxEventName || !eventNameRE.MatchString(e) {
			errs.add(p, "event name %s is not valid: dot-separated lowercase words like \"file.changed\"", describe(e))
			continue
		}
		for _, f := range m.Events[:i] {
			if e == f {
				errs.add(p, "event %q is listed twice", e)
				break
			}
		}
	}
}
