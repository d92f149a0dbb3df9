package resource

import "strings"

// This file holds the kinds whose names are flat strings: plugin, process,
// env, kv and secret. Their globs, where allowed, use '*' only and have no
// separator, so '*' matches any run of characters.

// ValidToolName reports whether s is a valid MCP tool name: 1 to 128 bytes
// of A-Z a-z 0-9 '_' '-' '.', the rule of the MCP specification
// (2025-11-25, "Tool names") that github.com/modelcontextprotocol/go-sdk
// v1.8.0 enforces.
func ValidToolName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ValidPluginID reports whether s is a valid plugin ID: 1 to 128 bytes, the
// first a lower-case letter or digit, the rest lower-case letters, digits,
// '.', '_' or '-'.
func ValidPluginID(s string) bool { return validPluginID(s) }

func validPluginID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// parsePlugin parses plugin:*, plugin:ID#* and plugin:ID#TOOL.
func parsePlugin(input string, off int, body string) (Pattern, error) {
	if body == "*" {
		return Pattern{kind: Plugin, canon: "plugin:*", any: true, wild: "lets the plugin call every tool of every plugin"}, nil
	}
	id, tool, ok := strings.Cut(body, "#")
	if !ok {
		return Pattern{}, perr(input, off+len(body), ErrSyntax, `missing "#TOOL"; write plugin:%s#TOOL, or plugin:%s#* for all its tools`, body, body)
	}
	if !validPluginID(id) {
		return Pattern{}, perr(input, off, ErrSyntax, "plugin ID %q must be 1-128 of a-z 0-9 . _ - starting with a letter or digit (\"*\" is allowed only as plugin:*)", id)
	}
	if tool != "*" && !ValidToolName(tool) {
		return Pattern{}, perr(input, off+len(id)+1, ErrSyntax, "tool name %q must be \"*\" or 1-128 of A-Z a-z 0-9 _ - . (the MCP tool name rule)", tool)
	}
	return Pattern{kind: Plugin, canon: "plugin:" + id + "#" + tool, body: id, tool: tool}, nil
}

// validProcessTarget reports whether s is a clean absolute path or a bare
// executable name.
func validProcessTarget(s string) bool {
	if strings.HasPrefix(s, "/") {
		return isCleanAbs(s) && s != "/" && checkText(s) == nil
	}
	return validExeName(s)
}

func validExeName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._+-", c) >= 0) {
			return false
		}
	}
	return true
}

// parseProcess parses process:*, process:/ABS/PATH (cleaned, no globs) and
// process:NAME (a bare executable name the caller resolves on PATH).
func parseProcess(input string, off int, body string) (Pattern, error) {
	if body == "*" {
		return Pattern{kind: Process, canon: "process:*", any: true, wild: "lets the plugin start any program"}, nil
	}
	if i := strings.IndexByte(body, '*'); i >= 0 {
		return Pattern{}, perr(input, off+i, ErrSyntax, `process patterns take no wildcards except process:* alone; name each executable`)
	}
	if strings.HasPrefix(body, "/") {
		segs, err := cleanPath(input, body, off, nil)
		if err != nil {
			return Pattern{}, err
		}
		if len(segs) == 0 {
			return Pattern{}, perr(input, off, ErrSyntax, `"/" is not an executable`)
		}
		p := joinPath(segs)
		return Pattern{kind: Process, canon: "process:" + p, body: p}, nil
	}
	if !validExeName(body) {
		return Pattern{}, perr(input, off, ErrSyntax, "%q is neither an absolute path nor a bare executable name (1-255 of A-Z a-z 0-9 . _ + -); relative paths are refused", body)
	}
	return Pattern{kind: Process, canon: "process:" + body, body: body}, nil
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 256 || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// parseEnv parses env:*, env:NAME and env:PREFIX* (one '*', at the end).
func parseEnv(input string, off int, body string) (Pattern, error) {
	if body == "*" {
		return Pattern{kind: Env, canon: "env:*", body: "*", any: true, wild: "exposes every environment variable, secrets included"}, nil
	}
	name := strings.TrimSuffix(body, "*")
	if i := strings.IndexByte(name, '*'); i >= 0 {
		return Pattern{}, perr(input, off+i, ErrSyntax, `"*" may appear only once, at the end, as in env:MYAPP_*`)
	}
	if !validEnvName(name) {
		return Pattern{}, perr(input, off, ErrSyntax, "environment variable name %q must be 1-256 of A-Z a-z 0-9 _ not starting with a digit", name)
	}
	return Pattern{kind: Env, canon: "env:" + body, body: body}, nil
}

func validKVKey(s string) bool {
	return s != "" && len(s) <= 512 && checkText(s) == nil
}

// parseKV parses kv:KEY where KEY is any text (1-512 bytes) and '*' matches
// any run of characters.
func parseKV(input string, off int, body string) (Pattern, error) {
	if err := flatGlob(input, off, body, 512); err != nil {
		return Pattern{}, err
	}
	p := Pattern{kind: KV, canon: "kv:" + body, body: body, any: body == "*"}
	if p.any {
		p.wild = "reaches every key in the plugin's store"
	}
	return p, nil
}

func validSecretName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._/-", c) >= 0) {
			return false
		}
	}
	return true
}

// parseSecret parses secret:NAME, NAME being 1-128 of A-Z a-z 0-9 . _ / -,
// with '*' matching any run of characters.
func parseSecret(input string, off int, body string) (Pattern, error) {
	if err := flatGlob(input, off, body, 128); err != nil {
		return Pattern{}, err
	}
	if !validSecretName(strings.ReplaceAll(body, "*", "x")) {
		return Pattern{}, perr(input, off, ErrSyntax, "secret name %q must be 1-128 of A-Z a-z 0-9 . _ / - (with '*' as a wildcard)", body)
	}
	p := Pattern{kind: Secret, canon: "secret:" + body, body: body, any: body == "*"}
	if p.any {
		p.wild = "reads every secret the user holds"
	}
	return p, nil
}

// flatGlob checks the length of a flat glob and refuses "**", which would
// suggest a directory-crossing meaning that flat names do not have.
func flatGlob(input string, off int, body string, max int) error {
	if len(body) > max {
		return perr(input, off+max, ErrSyntax, "longer than %d bytes", max)
	}
	if i := strings.Index(body, "**"); i >= 0 {
		return perr(input, off+i, ErrSyntax, `"**" is refused here: names have no separators, so a single "*" already matches everything`)
	}
	return nil
}
