package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event is one audited fact: who did what, to what, with which capability, what
// was decided and what came of it. Its canonical encoding (see MarshalJSON and
// docs/audit-format.md) is the leaf of the ledger's Merkle tree, so the same
// event hashes to the same bytes in every implementation.
//
// Zero-valued fields are omitted from the encoding. ID is assigned by the ledger
// when the event is appended, and Time is set then if it is zero.
type Event struct {
	ID         string            `json:"id"`
	Time       time.Time         `json:"time"`
	Actor      Actor             `json:"actor,omitzero"`
	Session    string            `json:"session,omitempty"`
	Instance   string            `json:"instance,omitempty"`
	Action     string            `json:"action"`
	Resource   string            `json:"resource,omitempty"`
	CapHash    string            `json:"cap_hash,omitempty"`
	Decision   Decision          `json:"decision,omitzero"`
	Outcome    string            `json:"outcome,omitempty"`
	Error      *Error            `json:"error,omitempty"`
	BeforeHash string            `json:"before_hash,omitempty"`
	AfterHash  string            `json:"after_hash,omitempty"`
	Bytes      int64             `json:"bytes,omitempty"`
	DurationNS int64             `json:"duration_ns,omitempty"`
	Detail     map[string]string `json:"detail,omitempty"`
}

// Actor names the plugin on whose behalf an action ran. Administrative events
// done by a person through the CLI use Plugin "warden".
type Actor struct {
	Plugin    string `json:"plugin,omitempty"`
	Version   string `json:"version,omitempty"`
	Publisher string `json:"publisher,omitempty"`
}

// Decision records what the policy decided and why. Answer is the person's
// answer when Effect is ask.
type Decision struct {
	Effect string `json:"effect,omitempty"`
	Answer string `json:"answer,omitempty"`
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Error is the stable code and human message of a failed action.
type Error struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Decision effects and answers.
const (
	EffectAllow = "allow"
	EffectDeny  = "deny"
	EffectAsk   = "ask"
)

// Outcomes. An effect that leaves the sandbox is written first as an intent
// event (durable before the effect) and then as an ok or error event.
const (
	OutcomeOK     = "ok"
	OutcomeError  = "error"
	OutcomeIntent = "intent"
)

// Administrative actions: changes to who may do what, and to the ledger itself.
const (
	ActionGrant         = "grant"
	ActionRevoke        = "revoke"
	ActionInstall       = "install"
	ActionUninstall     = "uninstall"
	ActionPolicyLoad    = "policy.load"
	ActionKeyCreate     = "key.create"
	ActionKeyRotate     = "key.rotate"
	ActionExportConfig  = "export.config"
	ActionLedgerRecover = "ledger.recover"
	// ActionTokenMint is a token minted by hand (`warden token mint`),
	// outside the host's policy and grants: the trail must show every token
	// that exists, however it was made.
	ActionTokenMint = "token.mint"
	// ActionCacheReject is a compilation cache entry the host refused to
	// load (its MAC did not verify): evidence that someone other than warden
	// wrote native code where warden keeps its own.
	ActionCacheReject = "cache.reject"
	// ActionLedgerOutage records a stretch during which the ledger could not
	// write (its disk was full) and refused events: from, to, cause, and how
	// many events and waits it refused (outage.go).
	ActionLedgerOutage = "ledger.outage"
)

// ErrInvalidEvent is returned (wrapped) when an event cannot be encoded: a
// required field is missing or a field is out of its documented range.
var ErrInvalidEvent = errors.New("invalid audit event")

// MaxEventSize bounds one event's canonical encoding. Bigger events are refused
// so a plugin cannot make one record swallow the disk or the reader's memory.
const MaxEventSize = 1 << 20

// maxSafeInt is 2^53-1, the largest integer every JSON implementation (RFC 8785
// follows ECMAScript numbers) represents exactly.
const maxSafeInt = 1<<53 - 1

const timeLayout = "2006-01-02T15:04:05.000000000Z"

func (e *Event) validate() error {
	if e.Action == "" {
		return fmt.Errorf("%w: action is empty", ErrInvalidEvent)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("%w: time is zero", ErrInvalidEvent)
	}
	if y := e.Time.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%w: time %v is outside years 1..9999", ErrInvalidEvent, e.Time)
	}
	for _, f := range [...]struct{ name, value string }{{"cap_hash", e.CapHash}, {"before_hash", e.BeforeHash}, {"after_hash", e.AfterHash}} {
		if f.value != "" && !validSHA256(f.value) {
			return fmt.Errorf("%w: %s %q is not \"sha256:\" followed by 64 lowercase hex digits", ErrInvalidEvent, f.name, f.value)
		}
	}
	switch e.Decision.Effect {
	case "", EffectAllow, EffectDeny, EffectAsk:
	default:
		return fmt.Errorf("%w: decision.effect %q is not allow, deny or ask", ErrInvalidEvent, e.Decision.Effect)
	}
	switch e.Decision.Answer {
	case "", EffectAllow, EffectDeny:
	default:
		return fmt.Errorf("%w: decision.answer %q is not allow or deny", ErrInvalidEvent, e.Decision.Answer)
	}
	if e.Bytes < 0 || e.Bytes > maxSafeInt {
		return fmt.Errorf("%w: bytes %d is outside 0..2^53-1", ErrInvalidEvent, e.Bytes)
	}
	if e.DurationNS < 0 || e.DurationNS > maxSafeInt {
		return fmt.Errorf("%w: duration_ns %d is outside 0..2^53-1", ErrInvalidEvent, e.DurationNS)
	}
	for k := range e.Detail {
		if !validDetailKey(k) {
			return fmt.Errorf("%w: detail key %q must be 1-64 characters of a-z 0-9 _ . -", ErrInvalidEvent, k)
		}
	}
	return nil
}

func validSHA256(s string) bool {
	const p = "sha256:"
	if len(s) != len(p)+64 || s[:len(p)] != p {
		return false
	}
	for i := len(p); i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validDetailKey(k string) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// MarshalJSON returns the canonical encoding, so json.Marshal of an Event is
// byte-identical to what the ledger hashed.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendCanonical(nil) }

// AppendCanonical appends the canonical encoding of e to dst: RFC 8785 (JCS)
// of the JSON object whose members are the non-zero fields of e. The event must
// carry an ID (the ledger assigns one).
func (e *Event) AppendCanonical(dst []byte) ([]byte, error) {
	if err := e.validate(); err != nil {
		return dst, err
	}
	if e.ID == "" {
		return dst, fmt.Errorf("%w: id is empty (the ledger assigns it on append)", ErrInvalidEvent)
	}
	dst = e.appendBeforeID(dst)
	dst = appendIDMember(dst, e.ID)
	dst = e.appendAfterID(dst)
	if len(dst) > MaxEventSize {
		return dst, fmt.Errorf("%w: encoding is %d bytes, more than %d", ErrInvalidEvent, len(dst), MaxEventSize)
	}
	return dst, nil
}

// The members in JCS order (keys sorted by code unit) are: action, actor,
// after_hash, before_hash, bytes, cap_hash, decision, detail, duration_ns,
// error, id, instance, outcome, resource, session, time. The encoder is split
// around id so that the ledger can encode an event outside its lock and splice
// in the id it assigns under the lock. action and time are never empty, so the
// part before id always ends with a comma and the part after starts with one.

func (e *Event) appendBeforeID(b []byte) []byte {
	b = append(b, `{"action":`...)
	b = appendString(b, e.Action)
	if e.Actor != (Actor{}) {
		b = append(b, `,"actor":{`...)
		sep := false
		b, sep = member(b, sep, "plugin", e.Actor.Plugin)
		b, sep = member(b, sep, "publisher", e.Actor.Publisher)
		b, _ = member(b, sep, "version", e.Actor.Version)
		b = append(b, '}')
	}
	b, _ = member(b, true, "after_hash", e.AfterHash)
	b, _ = member(b, true, "before_hash", e.BeforeHash)
	if e.Bytes != 0 {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, e.Bytes, 10)
	}
	b, _ = member(b, true, "cap_hash", e.CapHash)
	if e.Decision != (Decision{}) {
		b = append(b, `,"decision":{`...)
		sep := false
		b, sep = member(b, sep, "answer", e.Decision.Answer)
		b, sep = member(b, sep, "by", e.Decision.By)
		b, sep = member(b, sep, "effect", e.Decision.Effect)
		b, _ = member(b, sep, "reason", e.Decision.Reason)
		b = append(b, '}')
	}
	if len(e.Detail) > 0 {
		b = append(b, `,"detail":{`...)
		var kb [8]string
		for i, k := range sortedKeys(e.Detail, kb[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, e.Detail[k])
		}
		b = append(b, '}')
	}
	if e.DurationNS != 0 {
		b = append(b, `,"duration_ns":`...)
		b = strconv.AppendInt(b, e.DurationNS, 10)
	}
	if e.Error != nil && *e.Error != (Error{}) {
		b = append(b, `,"error":{`...)
		sep := false
		b, sep = member(b, sep, "code", e.Error.Code)
		b, _ = member(b, sep, "message", e.Error.Message)
		b = append(b, '}')
	}
	return append(b, ',')
}

func appendIDMember(b []byte, id string) []byte {
	b = append(b, `"id":`...)
	return appendString(b, id)
}

func (e *Event) appendAfterID(b []byte) []byte {
	b, _ = member(b, true, "instance", e.Instance)
	b, _ = member(b, true, "outcome", e.Outcome)
	b, _ = member(b, true, "resource", e.Resource)
	b, _ = member(b, true, "session", e.Session)
	b = append(b, `,"time":"`...)
	b = appendTime(b, e.Time)
	return append(b, `"}`...)
}

// appendTime appends t in UTC as timeLayout does, for years 0..9999 (validate
// allows 1..9999), without time.Format's layout interpretation: this runs on
// every audited call.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond(), 9)
	return append(b, 'Z')
}

// appendDigits appends the non-negative v in exactly width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	n := len(b)
	for range width {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// member appends "key":"value" when value is not empty, preceded by a comma
// when sep is true; it reports whether the next member needs a comma.
func member(b []byte, sep bool, key, value string) ([]byte, bool) {
	if value == "" {
		return b, sep
	}
	if sep {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return appendString(b, value), true
}

// sortedKeys orders detail keys by bytes, which for the ASCII keys validate
// allows is also RFC 8785's UTF-16 code unit order. Details are small, so the
// keys are sorted into buf (on the caller's stack) by insertion when they fit:
// this runs on every audited call.
func sortedKeys(m map[string]string, buf []string) []string {
	if len(m) > cap(buf) {
		return slices.Sorted(maps.Keys(m))
	}
	keys := buf[:0]
	for k := range m {
		i := len(keys)
		keys = append(keys, k)
		for ; i > 0 && keys[i-1] > k; i-- {
			keys[i] = keys[i-1]
		}
		keys[i] = k
	}
	return keys
}

const hexDigits = "0123456789abcdef"

// appendString writes s as an RFC 8785 string: only '"', '\\' and control
// characters are escaped (with the short forms \b \t \n \f \r where JSON has
// them, else \u00xx in lowercase hex); everything else is literal UTF-8.
// Invalid UTF-8 becomes U+FFFD, so a hostile file name cannot make an event
// unencodable.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		// Copy the run of characters that need no escaping in one go.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		if j > i {
			b = append(b, s[i:j]...)
			i = j
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b = append(b, '\\', '"')
			case c == '\\':
				b = append(b, '\\', '\\')
			case c >= 0x20:
				b = append(b, c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ParseEvent decodes one canonical event. It accepts any JSON object with the
// event's members; the ledger hashes stored bytes as they are, so ParseEvent
// is for reading, not for deciding what a leaf hash is.
func ParseEvent(data []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode audit event: %w", err)
	}
	return &e, nil
}
