package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
)

// tokenRevocations is the seam through which `warden token verify` learns
// what was revoked. It returns an empty set until the lead wires it to the
// state store (which records `warden revoke`), e.g. by loading every stored
// revocation into the set with Revoke and RevokeSubject.
var tokenRevocations = func(a *app, homeDir string) (*capability.RevocationSet, error) {
	return capability.NewRevocationSet(), nil
}

// verifyHints tells the user what to do about each way a token can fail.
var verifyHints = map[string]string{
	"too_large":        "a capability token is a few hundred bytes; this is not one",
	"malformed":        "the token was damaged or was not made by warden; copy it again in full",
	"algorithm":        "warden tokens are signed with EdDSA only; this one was forged or made by another tool",
	"unknown_key":      "the token was signed by another host, or by a key rotated out; check --home",
	"bad_signature":    "the token was altered or forged",
	"wrong_issuer":     "the token comes from another issuer",
	"expired":          "mint a new token",
	"not_yet_valid":    "wait until its not-before time, or check the clocks",
	"wrong_audience":   "the token was issued for another plugin instance (--aud)",
	"wrong_subject":    "the token was issued to another plugin (--sub)",
	"revoked":          "the token, or every token of its plugin, was revoked",
	"revoked_ancestor": "a token it was delegated from was revoked",
}

func init() {
	register(func(a *app) *cobra.Command {
		cmd := &cobra.Command{
			Use:   "token",
			Short: "Inspect, verify or (for development) mint capability tokens",
			Long: `A capability token grants one plugin one resource pattern and some actions,
for a short time, for one plugin instance. See docs/tokens.md.`,
		}
		cmd.AddCommand(tokenInspectCmd(a), tokenVerifyCmd(a), tokenMintCmd(a))
		return cmd
	})
}

// readTokenArg returns the token argument, or stdin's first line for "-".
func (a *app) readTokenArg(arg string) (string, error) {
	if arg != "-" {
		return strings.TrimSpace(arg), nil
	}
	// One byte over the limit is enough to refuse as too large.
	line, err := bufio.NewReader(io.LimitReader(a.in, capability.MaxTokenSize+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read token from stdin: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func tokenInspectCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect TOKEN|-",
		Short: "Decode a token and explain it, without checking it",
		Long: `inspect decodes a token's header and claims and shows them with readable
times. It needs no key and checks no signature: use 'warden token verify' to
know whether the token is valid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := a.readTokenArg(args[0])
			if err != nil {
				return err
			}
			in, err := capability.Inspect(tok)
			if err != nil {
				return withHint(err, verifyHints[capability.ErrorCode(err)])
			}
			now := time.Now()
			cl := in.Claims
			if a.json {
				return a.printJSON(map[string]any{
					"header": in.Header, "claims": cl, "hash": in.Hash, "problem": in.Problem,
					"issued_at": unixTime(cl.Iat), "not_before": unixTime(cl.Nbf), "expires": unixTime(cl.Exp),
					"expired": cl.Exp != 0 && !now.Before(time.Unix(cl.Exp, 0)),
				})
			}
			w := a.out
			fmt.Fprintln(w, "not verified: inspect shows what the token claims, not whether it is valid")
			fmt.Fprintf(w, "header      alg %s, typ %s, key %s\n", in.Header.Alg, in.Header.Typ, in.Header.Kid)
			fmt.Fprintf(w, "issuer      %s\n", cl.Iss)
			fmt.Fprintf(w, "subject     %s (the plugin holding it)\n", cl.Sub)
			fmt.Fprintf(w, "audience    %s (the instance it is for)\n", cl.Aud)
			fmt.Fprintf(w, "resource    %s\n", cl.Res)
			fmt.Fprintf(w, "actions     %s\n", strings.Join(cl.Acts, ", "))
			fmt.Fprintf(w, "issued      %s\n", humanTime(cl.Iat, now))
			fmt.Fprintf(w, "not before  %s\n", humanTime(cl.Nbf, now))
			fmt.Fprintf(w, "expires     %s\n", humanTime(cl.Exp, now))
			fmt.Fprintf(w, "id (jti)    %s\n", cl.Jti)
			if cl.Dep > 0 {
				fmt.Fprintf(w, "delegated   depth %d from %s\n", cl.Dep, cl.Par)
				fmt.Fprintf(w, "ancestors   %s\n", strings.Join(cl.Chain, " → "))
			}
			fmt.Fprintf(w, "hash        %s\n", in.Hash)
			if in.Problem != "" {
				fmt.Fprintf(w, "problem     %s\n", in.Problem)
			}
			return nil
		},
	}
}

func unixTime(s int64) any {
	if s == 0 {
		return nil
	}
	return time.Unix(s, 0).UTC()
}

// humanTime shows a NumericDate in local time and relative to now.
func humanTime(s int64, now time.Time) string {
	if s == 0 {
		return "(missing)"
	}
	t := time.Unix(s, 0)
	d := t.Sub(now).Round(time.Second)
	rel := "now"
	switch {
	case d > 0:
		rel = "in " + d.String()
	case d < 0:
		rel = (-d).String() + " ago"
	}
	return fmt.Sprintf("%s (%s)", t.Local().Format(time.RFC3339), rel)
}

func tokenVerifyCmd(a *app) *cobra.Command {
	var exp capability.Expect
	cmd := &cobra.Command{
		Use:   "verify TOKEN|-",
		Short: "Check a token against this host's keys; exit 0 only if it is valid",
		Long: `verify checks a token's signature against the host keys under --home, its
validity window, the revocations this host knows and, when given, the plugin
presenting it (--sub) and the instance it is presented to (--aud). It exits 0
only for a valid token, 1 for an invalid one, and names the reason.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := a.readTokenArg(args[0])
			if err != nil {
				return err
			}
			ring, err := a.openHostKeys()
			if err != nil {
				return err
			}
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			revoked, err := tokenRevocations(a, homeDir)
			if err != nil {
				return withHint(err, "the revocation list could not be read, so no token can be trusted")
			}
			v := capability.NewVerifier(ring).WithRevocations(revoked).WithCacheSize(0)
			c, verr := v.Verify(tok, exp, time.Now())
			code := capability.ErrorCode(verr)
			if a.json {
				out := map[string]any{"valid": verr == nil, "hash": capability.TokenHash(tok)}
				if verr != nil {
					out["code"], out["error"] = code, verr.Error()
				} else {
					out["capability"] = capJSON(c)
				}
				if err := a.printJSON(out); err != nil {
					return err
				}
				if verr != nil {
					return exitCode(1)
				}
				return nil
			}
			if verr != nil {
				return withHint(verr, verifyHints[code])
			}
			fmt.Fprintf(a.out, "valid: %s may %s %s until %s\n", c.Subject, strings.Join(c.Actions, ","), c.Resource, c.Expires.Local().Format(time.RFC3339))
			var unchecked []string
			if exp.Subject == "" {
				unchecked = append(unchecked, "subject (--sub)")
			}
			if exp.Audience == "" {
				unchecked = append(unchecked, "audience (--aud)")
			}
			if len(unchecked) > 0 {
				fmt.Fprintf(a.errOut, "note: %s not checked\n", strings.Join(unchecked, " and "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&exp.Audience, "aud", "", "the instance the token must be for")
	cmd.Flags().StringVar(&exp.Subject, "sub", "", "the plugin the token must belong to")
	return cmd
}

// mintEvent is the audit event of a hand-minted token: what it grants, to
// whom, until when, and its hash (never the token itself).
func mintEvent(c *capability.Capability) *audit.Event {
	return &audit.Event{
		Action: audit.ActionTokenMint, Resource: c.Resource.String(), CapHash: c.Hash, Outcome: audit.OutcomeOK,
		Decision: audit.Decision{Effect: audit.EffectAllow, By: "cli", Reason: "minted by hand with 'warden token mint' (development only): policy and grants were not asked"},
		Detail: map[string]string{
			"subject": c.Subject, "audience": c.Audience, "actions": strings.Join(c.Actions, ","),
			"jti": c.ID, "expires": c.Expires.UTC().Format(time.RFC3339),
		},
	}
}

// capJSON is the --json view of a capability.
func capJSON(c *capability.Capability) map[string]any {
	m := map[string]any{
		"kid": c.KeyID, "iss": c.Issuer, "sub": c.Subject, "aud": c.Audience,
		"res": c.Resource.String(), "acts": c.Actions, "jti": c.ID, "hash": c.Hash,
		"issued_at": c.IssuedAt, "not_before": c.NotBefore, "expires": c.Expires,
	}
	if c.Depth > 0 {
		m["par"], m["dep"], m["chain"] = c.Parent, c.Depth, c.Chain
	}
	return m
}

func tokenMintCmd(a *app) *cobra.Command {
	var req capability.Request
	var acts string
	cmd := &cobra.Command{
		Use:   "mint --sub PLUGIN --aud AUDIENCE --res PATTERN --acts a,b [--ttl 60s]",
		Short: "Mint a token with the host key (development only)",
		Long: `mint signs a token with the host key under --home, bypassing policy and
grants. It exists for developing and testing plugins; a running host mints
tokens itself. The minting is recorded in the audit ledger (a token.mint event
with the token's hash, never the token) before the token is shown. The token
alone is the last line of standard output.`,
		Example: `  TOKEN=$(warden token mint --sub acme.sheets --aud dev --res 'filesystem:/tmp/x/**' --acts read --ttl 60s)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []string{"sub", "aud", "res", "acts"} {
				if !cmd.Flags().Changed(f) {
					return usageErr(fmt.Errorf("--%s is required", f), "run 'warden token mint --help' for usage")
				}
			}
			for _, s := range strings.Split(acts, ",") {
				if s = strings.TrimSpace(s); s != "" {
					req.Actions = append(req.Actions, s)
				}
			}
			ring, err := a.openHostKeys()
			if err != nil {
				return err
			}
			homeDir, err := a.home()
			if err != nil {
				return err
			}
			fmt.Fprintln(a.errOut, "warning: development only — this token bypasses policy and grants")
			tok, c, err := capability.NewIssuer(ring.Signer()).Mint(req)
			if err != nil {
				return usageErr(err, "check --res, --acts (valid for the resource kind) and --ttl (1s to 1h)")
			}
			// The token is shown only once its minting is in the trail: a
			// token that bypasses policy must never exist unrecorded.
			if err := (ledgerRecorder{home: homeDir, notice: a.errOut}).append(ctxOf(cmd), mintEvent(c), audit.ActionTokenMint); err != nil {
				return fmt.Errorf("token mint: the audit ledger refused the event, so the token is not shown: %w", err)
			}
			if a.json {
				return a.printJSON(map[string]any{"token": tok, "capability": capJSON(c)})
			}
			fmt.Fprintf(a.errOut, "jti %s, expires %s\n", c.ID, c.Expires.Local().Format(time.RFC3339))
			fmt.Fprintln(a.out, tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Subject, "sub", "", "plugin id the token is issued to")
	f.StringVar(&req.Audience, "aud", "", "plugin instance the token is for")
	f.StringVar(&req.Resource, "res", "", "resource pattern, e.g. 'filesystem:~/Documents/**'")
	f.StringVar(&acts, "acts", "", "comma-separated actions, e.g. read,list")
	f.DurationVar(&req.TTL, "ttl", 60*time.Second, "lifetime (1s to 1h)")
	return cmd
}
