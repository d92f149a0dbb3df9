// Command warden is the CLI of the warden extension host: it lints and scores
// plugin manifests, mints and inspects capability tokens, runs plugins in the
// sandbox, serves them over MCP, and reads the audit ledger.
//
// The command is deliberately thin: each file registers one command group and
// calls the library packages; no policy or security logic lives here.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
