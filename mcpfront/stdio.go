package mcpfront

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// The SDK's stdio transport ends the session at the first line it cannot
// decode, without a word to the client. warden answers such a line the way
// JSON-RPC 2.0 (section 5.1) says — a Parse error (-32700) or Invalid Request
// (-32600) response with a null or echoed id — and keeps the session, as the
// HTTP transport does.

// lockedWriter serialises whole-message writes from the SDK and the filter.
// The SDK writes each message and its newline in one Write call.
//
// It also withholds the response to a request the client cancelled: MCP
// says the receiver of notifications/cancelled should not respond, but the
// SDK answers every request whose handler returns, and a cancelled tools/call
// returns at once with "cancelled". The line filter tells it which requests
// are in flight and which of those the client cancelled; the response with
// a cancelled id is dropped, once. A cancellation of a request already
// answered (or never made) is ignored, so that a client reusing an id after
// its response never loses the new response.
type lockedWriter struct {
	mu       sync.Mutex
	w        io.WriteCloser
	inflight map[string]bool // request ids (idKey) not yet answered; true once cancelled
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.inflight) > 0 {
		if id, ok := responseID(p); ok {
			cancelled, known := l.inflight[id]
			delete(l.inflight, id)
			if known && cancelled {
				return len(p), nil
			}
		}
	}
	return l.w.Write(p)
}

// begin records that request id is in flight.
func (l *lockedWriter) begin(id json.RawMessage) {
	key, ok := idKey(id)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inflight == nil {
		l.inflight = map[string]bool{}
	}
	// A client that sends requests without end cannot grow this without
	// bound; past it, a cancelled call may still get its response.
	if len(l.inflight) >= maxInflight {
		clear(l.inflight)
	}
	l.inflight[key] = false
}

// cancel records that the client cancelled request id, if it is in flight.
func (l *lockedWriter) cancel(id json.RawMessage) {
	key, ok := idKey(id)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.inflight[key]; ok {
		l.inflight[key] = true
	}
}

// maxInflight bounds the request ids remembered as in flight.
const maxInflight = 1 << 16

// responseID returns the id of a JSON-RPC response message, reading only as
// far as the member that shows it is a response ("result" or "error"): the
// SDK writes "id" before them, so a large result is not parsed.
func responseID(msg []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(msg))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	var id json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch t {
		case "method":
			return "", false
		case "result", "error":
			if id == nil {
				return "", false
			}
			return idKey(id)
		case "id":
			if dec.Decode(&id) != nil {
				return "", false
			}
			continue
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return "", false
		}
	}
	return "", false
}

// idKey is the comparable form of a request id: a string's JSON, or an
// integer's decimal digits.
func idKey(id json.RawMessage) (string, bool) {
	id = bytes.TrimSpace(id)
	if len(id) == 0 {
		return "", false
	}
	if id[0] == '"' {
		var s string
		if json.Unmarshal(id, &s) != nil {
			return "", false
		}
		b, _ := json.Marshal(s)
		return string(b), true
	}
	var n json.Number
	if json.Unmarshal(id, &n) != nil {
		return "", false
	}
	i, err := n.Int64()
	if err != nil {
		return "", false
	}
	return fmt.Sprint(i), true
}

func (l *lockedWriter) Close() error { return l.w.Close() }

// lineFilter passes well-formed JSON-RPC lines through to the SDK and answers
// every other line itself.
type lineFilter struct {
	src    *bufio.Reader
	closer io.Closer
	out    io.Writer
	max    int
	buf    []byte
	// track, when set, learns which requests are in flight and which the
	// client cancels.
	track *lockedWriter
}

func newLineFilter(in io.ReadCloser, out io.Writer, max int) *lineFilter {
	return &lineFilter{src: bufio.NewReaderSize(in, 64<<10), closer: in, out: out, max: max}
}

func (l *lineFilter) Close() error { return l.closer.Close() }

func (l *lineFilter) Read(p []byte) (int, error) {
	for len(l.buf) == 0 {
		line, tooLong, err := l.readLine()
		if tooLong {
			l.reply(nil, -32600, fmt.Sprintf("Invalid Request: the message is longer than %d bytes", l.max))
		} else if msg := bytes.TrimSpace(line); len(msg) > 0 && l.check(msg) {
			l.buf = append(msg, '\n')
		}
		if err != nil && len(l.buf) == 0 {
			return 0, err
		}
		if err != nil {
			break
		}
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// readLine reads one line without its newline, dropping whatever exceeds max.
func (l *lineFilter) readLine() (line []byte, tooLong bool, err error) {
	for {
		frag, err := l.src.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(frag) > l.max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), tooLong, err
	}
}

// check reports whether msg may go to the SDK, answering it otherwise.
//
// The rule is the SDK's own: a line passes only if jsonrpc.DecodeMessage —
// the decoder the SDK's stdio transport runs on every line — accepts it,
// so no line that reaches the SDK can make it end the session. Checking
// fields one by one here (as this filter once did) let through lines the
// decoder refuses (an id that is an object, an array or a boolean) and each
// of them ended `warden mcp`.
//
// Batches are refused whole. MCP removed JSON-RPC batching in 2025-06-18,
// the SDK ends the session on a batch after that version and on a
// malformed one before it, and no MCP client sends them.
func (l *lineFilter) check(msg []byte) bool {
	if !json.Valid(msg) {
		l.reply(nil, -32700, "Parse error: the line is not JSON; send one JSON-RPC 2.0 message per line")
		return false
	}
	switch msg[0] {
	case '[':
		l.reply(nil, -32600, "Invalid Request: JSON-RPC batches are not supported (MCP removed them in protocol version 2025-06-18); send one message per line")
		return false
	case '{':
	default:
		l.reply(nil, -32600, "Invalid Request: a JSON-RPC message is a JSON object")
		return false
	}
	dm, err := jsonrpc.DecodeMessage(msg)
	if err != nil {
		l.reply(echoID(msg), -32600, `Invalid Request: a JSON-RPC 2.0 message needs "jsonrpc":"2.0", an id that is a string, a number or null, and a method (a string), or a result or error`)
		return false
	}
	if req, ok := dm.(*jsonrpc.Request); ok && l.track != nil {
		switch {
		case req.IsCall():
			var m struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(msg, &m) == nil {
				l.track.begin(m.ID)
			}
		case req.Method == "notifications/cancelled":
			var p struct {
				RequestID json.RawMessage `json:"requestId"`
			}
			if json.Unmarshal(req.Params, &p) == nil {
				l.track.cancel(p.RequestID)
			}
		}
	}
	return true
}

// echoID returns the id of a refused message when it is one a response may
// carry (a string or a number), else nil: JSON-RPC answers a request whose
// id cannot be read with a null id.
func echoID(msg []byte) json.RawMessage {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(msg, &m) != nil {
		return nil
	}
	id := bytes.TrimSpace(m.ID)
	if len(id) == 0 {
		return nil
	}
	switch c := id[0]; {
	case c == '"':
		return id
	case c == '-' || c >= '0' && c <= '9':
		var n json.Number
		if json.Unmarshal(id, &n) == nil {
			if _, err := n.Int64(); err == nil {
				return id
			}
		}
	}
	return nil
}

func (l *lineFilter) reply(id json.RawMessage, code int, msg string) {
	if id == nil {
		id = json.RawMessage("null")
	}
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": code, "message": msg}})
	_, _ = l.out.Write(append(b, '\n'))
}
