//lint:file-ignore SA1019 MCP logging is deprecated only from protocol 2026-07-28, which warden does not negotiate (see doc.go); the brief requires plugin log lines as MCP logging notifications.

package mcpfront

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wardenproject/warden/host"
	"github.com/wardenproject/warden/hostapi"
)

// handler returns the tools/call handler for one served tool.
func (f *Front) handler(s *served) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return f.call(ctx, s, req), nil
	}
}

// call runs one tools/call. Every failure becomes an isError result carrying
// the stable code, so that the agent (and the person reading its transcript)
// sees what happened; JSON-RPC errors are left to the SDK for malformed
// requests and unknown tools.
func (f *Front) call(ctx context.Context, s *served, req *mcp.CallToolRequest) *mcp.CallToolResult {
	args := req.Params.Arguments
	if len(args) > f.cfg.MaxArgumentBytes {
		return s.errorResult(hostapi.CodeTooLarge, fmt.Sprintf("the arguments are %d bytes; warden accepts at most %d bytes per call", len(args), f.cfg.MaxArgumentBytes))
	}
	if t := bytes.TrimSpace(args); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		args = json.RawMessage("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		return s.errorResult(hostapi.CodeInvalidParams, "the arguments are not JSON: "+err.Error())
	}
	if err := s.input.Validate(v); err != nil {
		return s.errorResult(hostapi.CodeInvalidParams, "the arguments do not match the tool's input schema: "+schemaError(err))
	}

	c := &confirmer{f: f, session: req.Session, plugin: s.plugin}
	call := Call{Confirmer: c, Log: f.logFunc(ctx, req.Session, s.plugin), Refused: c.refusedByGate}
	stopProgress := f.progress(ctx, req)
	out, err := f.cfg.Host.Invoke(ctx, s.plugin, s.tool, args, call)
	stopProgress()
	if err != nil {
		var he *hostapi.Error
		if !errors.As(err, &he) {
			he = &hostapi.Error{Code: hostapi.CodeInternal, Message: err.Error()}
		}
		msg := he.Message
		if hint := c.hint(); hint != "" && (he.Code == hostapi.CodeDenied || he.Code == hostapi.CodeDeclined || he.Code == hostapi.CodeNotDeclared || c.refusedAny()) {
			msg = strings.TrimSuffix(msg, ".") + ". " + hint
		}
		return s.errorResult(he.Code, msg)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		out = json.RawMessage("null")
	}
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(out)}}}
	if c.refusedAny() {
		// The plugin handled the refusal itself (an ordinary file error,
		// say); the person still needs to know how to allow it.
		res.Content = append(res.Content, &mcp.TextContent{Text: "warden: " + c.hint()})
	}
	if s.output != nil {
		// The host has checked the output against the same schema
		// (host.CodeInvalidOutput); this check keeps the MCP promise for a
		// Host that does not, with the host's code.
		ov, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			return s.errorResult(host.CodeInvalidOutput, "the plugin's output is not JSON")
		}
		if _, isObj := ov.(map[string]any); !isObj {
			return s.errorResult(host.CodeInvalidOutput, "the plugin's output is not a JSON object, but its manifest declares an output schema")
		}
		if err := s.output.Validate(ov); err != nil {
			return s.errorResult(host.CodeInvalidOutput, "the plugin's output does not match its declared output schema: "+schemaError(err))
		}
		res.StructuredContent = out
	}
	return res
}

// ErrorMetaKey is the _meta key under which every error result carries
// {"code", "message"} for programs.
const ErrorMetaKey = "warden/error"

// errorResult is an isError result: text "CODE: message" for the model, and
// {code, message} for programs in _meta (ErrorMetaKey) and, for a tool with
// no output schema, as structured content too. A tool that declares an
// output schema gets no structured content on an error: the spec requires
// structured content to conform to the schema, and clients check it (the
// TypeScript SDK's callTool throws on a mismatch, hiding warden's message
// behind a schema error).
func (s *served) errorResult(code hostapi.Code, msg string) *mcp.CallToolResult {
	e := map[string]string{"code": string(code), "message": msg}
	res := &mcp.CallToolResult{
		IsError: true,
		Content: []mcp.Content{&mcp.TextContent{Text: string(code) + ": " + msg}},
	}
	res.Meta = mcp.Meta{ErrorMetaKey: e}
	if s.output == nil {
		res.StructuredContent = e
	}
	return res
}

// schemaError condenses a validation error to one line.
func schemaError(err error) string {
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		// The innermost causes say what was wrong; the outer ones only where.
		for len(ve.Causes) == 1 {
			ve = ve.Causes[0]
		}
		s := ve.Error()
		s = strings.Join(strings.Fields(s), " ")
		s = strings.ReplaceAll(s, "warden:tool-schema.json", "schema")
		if len(s) > 500 {
			s = s[:500] + "…"
		}
		return s
	}
	return err.Error()
}

// logFunc forwards the plugin's log lines as MCP logging notifications
// (notifications/message, logger = plugin name), within the session's rate
// limit (lograte.go). The SDK sends them only after the client has set a
// level.
func (f *Front) logFunc(ctx context.Context, ss *mcp.ServerSession, plugin string) func(stream, line string) {
	if ss == nil {
		return func(string, string) {}
	}
	lim := f.logLimiter(ss)
	return func(stream, line string) {
		dropped, ok := lim.take(f.now())
		if !ok {
			return
		}
		if dropped > 0 {
			_ = ss.Log(ctx, &mcp.LoggingMessageParams{
				Level:  "warning",
				Logger: "warden",
				Data: map[string]any{"stream": "warden", "dropped": dropped, "line": fmt.Sprintf(
					"%d log lines dropped: this session receives at most %g log notifications a second, in bursts of %d",
					dropped, f.cfg.LogRate, f.cfg.LogBurst)},
			})
		}
		level := logLevel(stream, line)
		_ = ss.Log(ctx, &mcp.LoggingMessageParams{
			Level:  level,
			Logger: plugin,
			Data:   map[string]string{"stream": stream, "line": cutLine(line, f.cfg.MaxLogLine)},
		})
	}
}

// logLevel maps a plugin's log line to an MCP logging level. Lines of stream
// "log" (the plugin's log.write) carry their level as a prefix,
// "LEVEL: message" (host.Config.Log), which a client filters on with
// logging/setLevel: mapping them all to info, as warden once did, made
// `setLevel warning` drop a plugin's errors. stderr is a warning, stdout info.
func logLevel(stream, line string) mcp.LoggingLevel {
	switch stream {
	case "stderr":
		return "warning"
	case "log":
		lvl, _, _ := strings.Cut(line, ":")
		switch lvl {
		case "debug":
			return "debug"
		case "warn":
			return "warning"
		case "error":
			return "error"
		}
		// slog levels between the named ones print as "info+2", "error+4"…
		switch {
		case strings.HasPrefix(lvl, "error"):
			return "error"
		case strings.HasPrefix(lvl, "warn"):
			return "warning"
		case strings.HasPrefix(lvl, "debug"):
			return "debug"
		}
	}
	return "info"
}

// progress sends notifications/progress every ProgressAfter while the call
// runs, once it has run that long, if the request carried a progress token.
// A tool's own progress is unknown, so only the elapsed time is reported.
func (f *Front) progress(ctx context.Context, req *mcp.CallToolRequest) (stop func()) {
	token := req.Params.GetProgressToken()
	if token == nil || req.Session == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(f.cfg.ProgressAfter)
		defer t.Stop()
		n := 0
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				n++
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
					ProgressToken: token,
					Progress:      float64(n),
					Message:       fmt.Sprintf("%s still running after %s", req.Params.Name, time.Since(start).Round(100*time.Millisecond)),
				})
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
