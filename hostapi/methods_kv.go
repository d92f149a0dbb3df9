package hostapi

// The key-value and log methods.

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/wardenproject/warden/hostapi/internal/kvprov"
	"github.com/wardenproject/warden/hostapi/internal/logprov"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

func kvAccess(field, action string) func(a *args) ([]Access, *Error) {
	return func(a *args) ([]Access, *Error) {
		k := a.Str(field)
		return []Access{{Kind: resource.KV, Name: "kv:" + k, Action: action}}, nil
	}
}

func (c *call) kv() (KVStore, *Error) {
	if c.g.cfg.KV == nil {
		return nil, Errorf(CodeUnavailable, "%s: this host has no key-value storage", c.name)
	}
	return c.g.cfg.KV, nil
}

func kvError(err error, method, key string) *Error {
	var code Code
	var msg string
	switch {
	case errors.Is(err, store.ErrTooLarge):
		code, msg = CodeTooLarge, "the key or value is over the storage's size cap"
	case errors.Is(err, store.ErrQuotaExceeded):
		code, msg = CodeQuota, "the plugin's storage quota would be exceeded; delete keys first"
	case errors.Is(err, store.ErrInvalid):
		code, msg = CodeInvalidParams, "the key is not valid UTF-8 text without NUL"
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = CodeTimeout, "the call's deadline passed"
	default:
		code, msg = CodeIO, "the storage failed"
	}
	return &Error{Code: code, Message: method + " " + Sanitize(key, 256) + ": " + msg, Err: err}
}

func runKVGet(ctx context.Context, c *call) ([]byte, *Error) {
	s, herr := c.kv()
	if herr != nil {
		return nil, herr
	}
	key := c.args.Str("key")
	v, found, err := kvprov.Get(ctx, s, c.caller.Plugin, key)
	if err != nil {
		return nil, kvError(err, c.name, key)
	}
	if !found {
		return []byte(`{"found":false}`), nil
	}
	c.ev.Bytes = int64(len(v))
	b := append(make([]byte, 0, 32+base64.StdEncoding.EncodedLen(len(v))), `{"found":true,"value":"`...)
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, `"}`...), nil
}

func runKVSet(ctx context.Context, c *call) ([]byte, *Error) {
	s, herr := c.kv()
	if herr != nil {
		return nil, herr
	}
	key, v := c.args.Str("key"), c.args.Bytes("value")
	if err := kvprov.Set(ctx, s, c.caller.Plugin, key, v); err != nil {
		return nil, kvError(err, c.name, key)
	}
	c.ev.Bytes = int64(len(v))
	return []byte(`{}`), nil
}

func runKVDelete(ctx context.Context, c *call) ([]byte, *Error) {
	s, herr := c.kv()
	if herr != nil {
		return nil, herr
	}
	key := c.args.Str("key")
	existed, err := kvprov.Delete(ctx, s, c.caller.Plugin, key)
	if err != nil {
		return nil, kvError(err, c.name, key)
	}
	if existed {
		return []byte(`{"existed":true}`), nil
	}
	return []byte(`{"existed":false}`), nil
}

func runKVList(ctx context.Context, c *call) ([]byte, *Error) {
	s, herr := c.kv()
	if herr != nil {
		return nil, herr
	}
	prefix := c.args.Str("prefix")
	grant := c.caps[0].Resource
	keys, err := kvprov.List(ctx, s, c.caller.Plugin, prefix, func(k string) bool { return grant.Match("kv:" + k) })
	if err != nil {
		return nil, kvError(err, c.name, prefix)
	}
	var b strings.Builder
	b.WriteString(`{"keys":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(appendJSONString(nil, k))
	}
	b.WriteString("]}")
	c.ev.Bytes = int64(len(keys))
	return []byte(b.String()), nil
}

func runLogWrite(ctx context.Context, c *call) ([]byte, *Error) {
	msg := c.args.Str("message")
	logprov.Write(ctx, c.g.cfg.Logger, c.caller.Plugin, c.caller.Instance, c.args.Str("level"), msg)
	// The event records that the plugin logged and how much, not what: the
	// log is the place for the text, and the ledger must not become a
	// channel a plugin can fill with whatever it likes.
	c.ev.Bytes = int64(len(msg))
	return []byte(`{}`), nil
}
