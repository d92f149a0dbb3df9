// Package modtest runs the tests of the repository's other Go modules — the
// pdk guest SDK and the example plugins — from the main module's test suite, so
// that the README's one test command (go test ./...) covers everything.
//
// Those modules are separate on purpose: the pdk must not depend on the host,
// and the examples are what a plugin author copies. go test ./... at the root
// does not descend into them, hence this bridge.
package modtest
