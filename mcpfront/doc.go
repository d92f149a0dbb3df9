// Package mcpfront serves every installed warden plugin as tools of a Model
// Context Protocol server, so that desktop agents (Claude Desktop, Claude Code,
// Cursor, any MCP client) call warden plugins with warden's sandbox, tokens,
// policy and audit behind each call.
//
// It implements the server side of MCP 2025-11-25 (and the earlier revisions
// the official SDK, github.com/modelcontextprotocol/go-sdk, negotiates) over
// stdio and streamable HTTP. docs/mcp.md specifies the tool naming scheme, the
// mapping of results and errors, confirmation by elicitation and the HTTP
// security rules.
//
// What it does differently from a plain MCP server, and why:
//
//   - The directory is mcpfront, not mcp, so that the SDK's package keeps its
//     own name (mcp) in every file that uses both.
//   - Tool names are PLUGIN__TOOL. Plugin names never contain "_" (the
//     manifest forbids it), so the first "__" splits a name unambiguously.
//     Collisions and over-long names are found when the tool list is built,
//     never at call time.
//   - The model can never grant, widen or revoke a permission. The server
//     registers plugin tools only: no grant tool, no resource, no prompt, and no
//     argument of any tool reaches the grant store. When the policy says ask,
//     the person is asked through MCP elicitation (a form the client shows to
//     the user, not to the model); a decline, a cancel, a timeout or a client
//     without elicitation is a denial whose message names the `warden grant`
//     command a person can run outside the agent.
//   - Plugin log lines reach a session as notifications/message through a
//     token bucket per session (lograte.go): a flood is dropped and counted,
//     and the next notification says how many were dropped, so that no
//     plugin can bury a client under notifications.
//   - It negotiates protocol revisions up to 2025-11-25 only. The 2026-07-28
//     revision replaces server-to-client requests with multi-round-trip
//     results, which would re-run a plugin from the start after each
//     confirmation (and repeat its effects before the question); warden's
//     confirmations happen in the middle of a sandboxed call, so they need the
//     classic elicitation/create request.
package mcpfront
