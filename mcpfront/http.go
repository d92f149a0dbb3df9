package mcpfront

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/wardenproject/warden/internal/home"
)

// TokenFileName is the bearer token's file under --home.
const TokenFileName = "mcp-http.token"

// ErrRemoteAddr is returned when asked to listen on an address that is not
// loopback without an explicit opt-in.
var ErrRemoteAddr = errors.New("not a loopback address")

// CheckListenAddr refuses a listen address whose host is not loopback
// (127.0.0.0/8, ::1, localhost) unless allowRemote is set. An empty host
// (":8080") listens on every interface and so is refused too.
func CheckListenAddr(addr string, allowRemote bool) error {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w (write HOST:PORT, e.g. 127.0.0.1:8765)", addr, err)
	}
	if allowRemote || isLoopbackHost(h) {
		return nil
	}
	return fmt.Errorf("listen address %q: %w; warden serves plugins to this machine only unless you pass --allow-remote", addr, ErrRemoteAddr)
}

func isLoopbackHost(h string) bool {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// LoadOrCreateToken returns the bearer token stored at path, creating a new
// random one (256 bits, base64url) when there is none or rotate is set. created
// reports that the token is new, so the caller prints it once. The file is
// mode 0600 and refused when other users can read it.
func LoadOrCreateToken(path string, rotate bool) (token string, created bool, err error) {
	if !rotate {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := home.CheckPrivate(path); err != nil {
				return "", false, fmt.Errorf("read MCP token: %w (or run with --rotate-token to make a new one)", err)
			}
			tok := strings.TrimSpace(string(b))
			if len(tok) < 32 {
				return "", false, fmt.Errorf("read MCP token %s: it is too short to be one warden wrote; run with --rotate-token", path)
			}
			return tok, false, nil
		case !errors.Is(err, os.ErrNotExist):
			return "", false, fmt.Errorf("read MCP token: %w", err)
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", false, fmt.Errorf("make MCP token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", false, fmt.Errorf("write MCP token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(tok + "\n")
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			return "", false, fmt.Errorf("write MCP token %s: %w", path, err)
		}
	} else {
		tmp.Close()
		return "", false, fmt.Errorf("write MCP token %s: %w", path, err)
	}
	return tok, true, nil
}

// HTTPOptions configures HTTPHandler.
type HTTPOptions struct {
	// Token is the bearer token every request must carry. Required.
	Token string
	// ExtraHosts are Host header names accepted besides loopback ones (the
	// address warden listens on when --allow-remote is given).
	ExtraHosts []string
}

// HTTPHandler serves f over MCP streamable HTTP behind three checks, in this
// order: the Host header must name a loopback host (or one of ExtraHosts),
// against DNS rebinding; an Origin header, when present, must be a loopback
// origin, so that no web page can drive the server from a browser; and the
// request must carry "Authorization: Bearer TOKEN".
func HTTPHandler(f *Front, o HTTPOptions) (http.Handler, error) {
	if len(o.Token) < 32 {
		return nil, errors.New("mcp http: a bearer token of at least 32 characters is required")
	}
	inner := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return f.server }, &mcp.StreamableHTTPOptions{
		Logger:              f.cfg.Logger,
		MaxRequestBodyBytes: int64(f.cfg.MaxArgumentBytes) + 64<<10,
	})
	want := []byte("Bearer " + o.Token)
	extra := map[string]bool{}
	for _, h := range o.ExtraHosts {
		extra[strings.ToLower(h)] = true
	}
	hostOK := func(h string) bool {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		return isLoopbackHost(h) || extra[strings.ToLower(strings.Trim(h, "[]"))]
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hostOK(r.Host) {
			http.Error(w, "warden: Host header "+fmt.Sprintf("%q", r.Host)+" is not a loopback host; refused against DNS rebinding", http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !hostOK(u.Host) {
				http.Error(w, "warden: Origin "+fmt.Sprintf("%q", origin)+" is not a loopback origin; refused", http.StatusForbidden)
				return
			}
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="warden"`)
			http.Error(w, "warden: missing or wrong bearer token; it is in "+TokenFileName+" under warden's --home", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}), nil
}
