// Package manifest reads, checks and judges a warden plugin manifest: the one
// JSON file in which a plugin declares everything it may ever touch.
//
// Four jobs:
//
//   - parse.go: [Parse] turns bytes into a [Manifest] and rejects anything that
//     is not exactly the documented structure (unknown fields, duplicate keys,
//     wrong types, trailing data, non-UTF-8, NUL bytes, deep nesting, oversize
//     input), naming the JSON path and the line:column of the fault.
//   - validate.go: [Manifest.Validate] checks meaning: semantic versions, the
//     entry file, resource patterns and their actions (package resource), tool
//     names, and that every tool schema is a JSON Schema whose top-level type is
//     "object", as the Model Context Protocol requires.
//   - lint.go: [Lint] applies the review rules of docs/lint-rules.md (grants.go
//     holds the facts rules and score share; reach.go judges how far a grant
//     reaches: the sensitive locations, every user's home, public suffixes);
//     report.go runs the whole check on a file ([LintFile]) and prints it, and
//     sarif.go renders findings as SARIF 2.1.0 for code-scanning CI.
//   - risk.go: [Risk] scores a manifest 0–100 by the formula of docs/risk.md.
//
// The structure is also published as a JSON Schema (draft 2020-12, [Schema]),
// and a test keeps Parse and the schema in agreement.
//
// What it does differently from the anchors, and why: encoding/json's
// Unmarshal silently keeps the last of two duplicate keys, ignores unknown
// fields unless asked, replaces invalid UTF-8 and reports no positions. A
// manifest is a security document that humans review and that a second parser
// (the schema validator, a store's web front end) may read differently, so Parse
// walks the token stream itself: two readers can never disagree about what a
// warden manifest says, and every error points at a line a person can open.
// Tool schemas are compiled with no URL loader at all, so a "$ref" can never make
// warden read a local file or the network.
package manifest
