// Package resource parses, normalises and compares warden's resource patterns
// — "filesystem:~/Documents/**", "net:https://api.example.com/v1",
// "plugin:acme.sheets#render", "clipboard", ... — and decides whether one
// pattern lies within another. It is the one place where warden decides what
// a name like "this path" or "this URL" covers; manifests, tokens,
// attenuation and policy all call it and never compare resource strings
// themselves. docs/resources.md is the specification.
//
// # Subset
//
// p.Contains(q) means q ⊆ p as sets of concrete resources: whatever q
// matches, p matches too. Attenuation and delegation rely on it to prove a
// child token never widens its parent, so it is sound (it never says true
// wrongly) and may be conservative (it can say false for a few exotic pairs
// of globs within one path segment, which only ever denies). Property tests
// check that a resource generated from q is matched by p whenever
// p.Contains(q).
//
// # Standards
//
// Hosts are normalised with IDNA (UTS #46, golang.org/x/net/idna Lookup
// profile; punycode is canonical); URL paths with RFC 3986 percent-encoding
// normalisation and dot-segment removal; filesystem paths with
// path/filepath.Clean semantics; text with Unicode NFC; tool names follow
// the MCP specification's tool name rule.
//
// # Differences from the anchors
//
// Deno's --allow-read takes plain paths and grants each with its subtree;
// glob libraries (path.Match, doublestar, gitignore) answer only "does this
// name match". warden needs more than either, so:
//   - every pattern is closed downwards ("/a" also grants "/a/b"), as Deno
//     does, but globs are allowed, which Deno does not have;
//   - the only metacharacters are '*' and a whole-segment "**": no '?',
//     classes or braces, so that Contains stays decidable and fast and a
//     file name with '?' or '[' is just a name;
//   - ".." that climbs above "/" is an error, not clamped as filepath.Clean
//     would, because a grant the author did not mean must not be silent;
//   - names that are not already clean (a path with "..", a URL with an
//     encoded slash) match nothing rather than being cleaned, because the
//     caller would then open a different object than the one checked.
package resource
