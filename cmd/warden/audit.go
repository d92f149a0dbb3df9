package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/audit/export"
	"github.com/wardenproject/warden/hostkey"
	"github.com/wardenproject/warden/internal/adminaudit"
)

// The audit command group: thin wrappers over package audit and audit/export.

func auditDir(home string) string { return filepath.Join(home, "audit") }

// openHostRing opens the host keyring under <home>/keys, whose current key
// signs checkpoints and whose whole history verifies them.
func openHostRing(home string) (*hostkey.Ring, error) {
	r, err := hostkey.Open(filepath.Join(home, "keys"))
	if err != nil {
		return nil, withHint(err, "check that --home is a private directory you own")
	}
	return r, nil
}

// hostVerifierKeys returns the signed-note verifier keys of every host key,
// retired ones included, so old checkpoints stay verifiable after rotation.
func hostVerifierKeys(r *hostkey.Ring) ([]string, error) {
	var out []string
	for _, k := range r.Keys() {
		vk, err := audit.VerifierKey(k.Public)
		if err != nil {
			return nil, err
		}
		out = append(out, vk)
	}
	return out, nil
}

// auditWitness is the ledger's witness, <home>/audit.witness: the latest
// checkpoint, kept outside the ledger directory (docs/audit-format.md §3.4).
// The host's audit.Open(<home>/audit) uses the same path by default.
func auditWitness(home string) string { return audit.DefaultWitnessPath(auditDir(home)) }

// openLedger opens <home>/audit for writing, or read-only when a running host
// holds it (the commands that must write say so themselves). More options
// (audit recover's WithRecovery) come after the defaults.
func openLedger(home string, more ...audit.Option) (*audit.Ledger, error) {
	l, vkeys, err := openWritableLedger(home, more...)
	if errors.Is(err, audit.ErrLocked) {
		l, err = audit.Open(auditDir(home), audit.ReadOnly(), audit.WithVerifierKeys(vkeys...))
	}
	if err != nil {
		return nil, withHint(err, ledgerHint(err))
	}
	return l, nil
}

// openWritableLedger opens <home>/audit for writing and returns the host's
// verifier keys with it; its error wraps audit.ErrLocked when a running host
// holds the ledger. Administrative events spooled while a host held it go in
// first, before anything this command appends, so that a spool never waits
// for a host that never comes. A failure to drain leaves them spooled for the
// next writer; it does not stop the command.
func openWritableLedger(home string, more ...audit.Option) (*audit.Ledger, []string, error) {
	ring, err := openHostRing(home)
	if err != nil {
		return nil, nil, err
	}
	vkeys, err := hostVerifierKeys(ring)
	if err != nil {
		return nil, nil, err
	}
	opts := append([]audit.Option{audit.WithSigner(ring.Signer()), audit.WithVerifierKeys(vkeys...),
		audit.WithWitness(auditWitness(home))}, more...)
	l, err := audit.Open(auditDir(home), opts...)
	if err != nil {
		return nil, vkeys, err
	}
	_, _ = drainSpool(context.Background(), home, l)
	return l, vkeys, nil
}

// drainSpool appends the administrative events spooled under
// <home>/audit.spool to l, which must be open for writing.
func drainSpool(ctx context.Context, home string, l *audit.Ledger) (int, error) {
	return adminaudit.Drain(ctx, adminaudit.SpoolDir(auditDir(home)), l, audit.Actor{Plugin: "warden"})
}

// ledgerHint says what to do about an error opening the ledger.
func ledgerHint(err error) string {
	var ie *audit.IntegrityError
	if errors.As(err, &ie) && isWitnessKind(ie) {
		return "the ledger does not extend the checkpoint remembered in " + ie.File + " (or its checkpoints file is gone): " +
			"its history may have been rewritten. Keep a copy of the directory and the witness as evidence. Only if you " +
			"restored or moved the ledger yourself, run 'warden audit recover --note WHY' to accept it on the record"
	}
	return "run 'warden audit verify' to see what is wrong with the ledger"
}

// hostStartHint says what to do when a host cannot start on --home: a ledger
// held by another process, or a ledger that does not pass its checks.
func hostStartHint(err error) string {
	var ie *audit.IntegrityError
	if errors.As(err, &ie) {
		return ledgerHint(err)
	}
	if errors.Is(err, audit.ErrLocked) {
		return "another warden process (such as 'warden mcp') is serving this --home; stop it or use another --home"
	}
	return "check that --home is a private directory you own"
}

// isWitnessKind reports whether Open refused the ledger for not extending
// its witness — the refusals audit.WithRecovery may override.
func isWitnessKind(ie *audit.IntegrityError) bool {
	switch ie.Kind {
	case audit.ErrWitnessMissing, audit.ErrWitnessMismatch, audit.ErrCheckpointsMissing:
		return true
	case audit.ErrRollback, audit.ErrBadSignature, audit.ErrMalformedCheckpoint:
		return filepath.IsAbs(ie.File) // named the witness, not a file in the ledger
	}
	return false
}

func init() {
	register(func(a *app) *cobra.Command {
		c := &cobra.Command{
			Use:   "audit",
			Short: "Inspect, verify, prove and export the tamper-evident audit log",
			Long: `The audit log under --home/audit holds one event per host call and per
administrative change, as leaves of an RFC 6962 Merkle tree with checkpoints
signed by the host key (docs/audit-format.md).`,
		}
		c.AddCommand(auditVerifyCmd(a), auditProveCmd(a), auditVerifyProofCmd(a), auditTailCmd(a),
			auditShowCmd(a), auditExportCmd(a), auditPubkeyCmd(a), auditRecoverCmd(a))
		return c
	})
}

func auditVerifyCmd(a *app) *cobra.Command {
	var keys, trustedFiles []string
	var ignoreMissingWitness bool
	c := &cobra.Command{
		Use:   "verify [--key VKEY]... [--trusted CHECKPOINT_FILE]...",
		Short: "Recompute the whole tree and check every record and checkpoint",
		Long: `verify reads every record, recomputes the Merkle tree, checks every checkpoint
signature, that checkpoints never go back, and that each one matches the
events it covers. It names the first bad event or checkpoint and why, and
exits 1 if anything is wrong. --key adds verifier keys (a key string or a file
holding one) besides the host's own.

The log must also extend every checkpoint verify trusts from outside the
ledger directory: the host's witness (--home/audit.witness) and each --trusted
file, a signed checkpoint note kept earlier (for example a copy of the witness
an auditor took). A log whose checkpoints were deleted and whose events were
rewritten passes the other checks as "unsigned"; against a checkpoint kept
elsewhere it fails. A log that holds events but has no witness fails as the
host refuses it, unless --ignore-missing-witness (for a copy made without it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.home()
			if err != nil {
				return err
			}
			ring, err := openHostRing(home)
			if err != nil {
				return err
			}
			vkeys, err := hostVerifierKeys(ring)
			if err != nil {
				return err
			}
			for _, k := range keys {
				vk, err := readKeyArg(k)
				if err != nil {
					return err
				}
				vkeys = append(vkeys, vk)
			}
			verifiers, err := audit.Verifiers(vkeys...)
			if err != nil {
				return usageErr(err, "pass the key printed by 'warden audit pubkey'")
			}
			// The witness is checked by VerifyDir with the rules the host's
			// Open applies, so that verify never passes a ledger the host
			// refuses.
			opts := audit.VerifyOptions{Witness: auditWitness(home), IgnoreMissingWitness: ignoreMissingWitness}
			var sources []string
			for _, f := range trustedFiles {
				data, err := os.ReadFile(f)
				if err != nil {
					return usageErr(fmt.Errorf("--trusted %s: %w", f, err), "pass a checkpoint note file, for example a copy of "+auditWitness(home))
				}
				c, err := audit.ParseCheckpoint(data, verifiers)
				if err != nil {
					return withHint(fmt.Errorf("--trusted %s: %w", f, err), "the file must be a checkpoint note signed by a host key (add old keys with --key)")
				}
				opts.MoreTrusted, sources = append(opts.MoreTrusted, c), append(sources, f)
			}
			tty := !a.json && isTerminal(a.errOut)
			if tty {
				opts.Progress = func(done, total uint64) {
					fmt.Fprintf(a.errOut, "\rverifying: %d / %d events", done, total)
				}
			}
			covers := false
			for _, t := range opts.MoreTrusted {
				covers = covers || t.Size > 0
			}
			if w, ok, err := audit.ReadWitness(auditWitness(home), verifiers); err == nil && ok {
				covers = covers || w.Size > 0
			}
			if _, err := os.Stat(filepath.Join(auditDir(home), "origin")); errors.Is(err, os.ErrNotExist) && !covers {
				if a.json {
					return a.printJSON(map[string]any{"ok": true, "report": map[string]any{"events": 0}})
				}
				fmt.Fprintln(a.out, "ok: no audit events have been logged yet")
				return nil
			}
			rep, err := audit.VerifyDir(cmdContext(cmd), auditDir(home), verifiers, opts)
			if tty {
				fmt.Fprintln(a.errOut)
			}
			var ie *audit.IntegrityError
			if errors.As(err, &ie) {
				hint := "keep a copy of the ledger directory (and " + auditWitness(home) + ") as evidence; do not open it for writing until it is examined"
				switch {
				case errors.Is(err, audit.ErrWitnessMissing):
					hint = "the host refuses this ledger too. If the directory was copied without its witness, verify it with --ignore-missing-witness; " +
						"to write to it again, examine it and run 'warden audit recover --note WHY'"
				case ie.File == auditWitness(home):
					hint = "the witness " + auditWitness(home) + " is damaged, of another log, or signed by an unknown key; pass an old host key with --key if the key was rotated"
				}
				return a.reportIntegrity(err, hint)
			}
			if err != nil {
				return withHint(err, "is --home the right directory?")
			}
			if a.json {
				m := verifyReportJSON(rep)
				var tj []map[string]any
				if w := rep.Witness; w != nil {
					tj = append(tj, map[string]any{"file": auditWitness(home), "size": w.Size, "root": w.Root.String()})
				}
				for i, t := range opts.MoreTrusted {
					tj = append(tj, map[string]any{"file": sources[i], "size": t.Size, "root": t.Root.String()})
				}
				m["witness_missing"] = rep.WitnessMissing
				m["trusted"] = tj
				return a.printJSON(map[string]any{"ok": true, "report": m})
			}
			fmt.Fprintf(a.out, "ok: %d events in %d segments, %d checkpoints", rep.Events, rep.Segments, rep.Checkpoints)
			if rep.Latest != nil {
				fmt.Fprintf(a.out, ", latest covers %d", rep.Latest.Size)
			}
			fmt.Fprintln(a.out)
			if w := rep.Witness; w != nil {
				fmt.Fprintf(a.out, "extends the trusted checkpoint of %d events in %s\n", w.Size, auditWitness(home))
			}
			if rep.WitnessMissing {
				fmt.Fprintf(a.out, "warning: the witness %s is missing (ignored as asked); the host refuses this ledger until 'warden audit recover' accepts it\n", auditWitness(home))
			}
			for i, t := range opts.MoreTrusted {
				fmt.Fprintf(a.out, "extends the trusted checkpoint of %d events in %s\n", t.Size, sources[i])
			}
			if rep.Unsigned > 0 {
				fmt.Fprintf(a.out, "note: the newest %d events are not yet covered by a checkpoint\n", rep.Unsigned)
			}
			if rep.TornTail > 0 {
				fmt.Fprintf(a.out, "note: %d bytes of an interrupted append follow the last record; the next open truncates them\n", rep.TornTail)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&keys, "key", nil, "extra verifier key (string or file)")
	c.Flags().StringArrayVar(&trustedFiles, "trusted", nil, "a signed checkpoint kept earlier that the log must extend (file)")
	c.Flags().BoolVar(&ignoreMissingWitness, "ignore-missing-witness", false, "verify a ledger whose witness is missing (a copy made without it); the host still refuses it")
	return c
}

// reportIntegrity prints an *audit.IntegrityError as verify does: a JSON
// verdict with its kind, or the error and hint; exit 1 either way.
func (a *app) reportIntegrity(err error, hint string) error {
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) {
		return withHint(err, hint)
	}
	if a.json {
		if perr := a.printJSON(map[string]any{"ok": false, "kind": ie.KindName(), "index": ie.Index,
			"checkpoint": ie.Checkpoint, "file": ie.File, "offset": ie.Offset, "error": ie.Error()}); perr != nil {
			return perr
		}
		return exitCode(1)
	}
	return withHint(err, hint)
}

func auditRecoverCmd(a *app) *cobra.Command {
	var note string
	c := &cobra.Command{
		Use:   "recover --note WHY",
		Short: "Accept a ledger its witness does not vouch for, on the record",
		Long: `recover opens the ledger for writing even though it does not extend the
checkpoint remembered in --home/audit.witness, its witness is missing, or its
checkpoints file is gone — the states a restored backup, a moved home, or a
rewritten history leave. It appends a ledger.recover event naming what it
found and your --note, signs a checkpoint over it, and writes a new witness.
It never repairs damaged records or events that do not match their own
checkpoints (see 'warden audit verify'). Stop the host first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(note) == "" {
				return usageErr(errors.New("--note is required"), "say why this ledger should be accepted, e.g. --note 'restored from the backup of 2026-05-01'")
			}
			home, err := a.home()
			if err != nil {
				return err
			}
			l, err := openLedger(home, audit.WithRecovery(note))
			if err != nil {
				return err
			}
			defer l.Close()
			if _, err := l.Checkpoint(cmdContext(cmd)); errors.Is(err, audit.ErrReadOnly) {
				return withHint(errors.New("audit recover: a running host holds the ledger"), "stop the host, then run 'warden audit recover' again")
			} else if err != nil {
				return err
			}
			rec := l.Recovered()
			if a.json {
				if rec == nil {
					rec = []string{}
				}
				return a.printJSON(map[string]any{"recovered": rec, "witness": l.WitnessPath()})
			}
			if len(rec) == 0 {
				fmt.Fprintln(a.out, "nothing to recover: the ledger extends its witness")
				return nil
			}
			for _, r := range rec {
				fmt.Fprintf(a.out, "logged ledger.recover: %s\n", r)
			}
			fmt.Fprintf(a.out, "new witness: %s\n", l.WitnessPath())
			return nil
		},
	}
	c.Flags().StringVar(&note, "note", "", "why this ledger should be accepted (goes into the ledger.recover event)")
	return c
}

func verifyReportJSON(r *audit.Report) map[string]any {
	m := map[string]any{"origin": r.Origin, "events": r.Events, "segments": r.Segments,
		"checkpoints": r.Checkpoints, "unsigned": r.Unsigned, "torn_tail_bytes": r.TornTail}
	if r.Latest != nil {
		m["latest"] = map[string]any{"size": r.Latest.Size, "root": r.Latest.Root.String()}
	}
	return m
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func auditProveCmd(a *app) *cobra.Command {
	var outFile string
	c := &cobra.Command{
		Use:   "prove EVENT_ID [-o FILE]",
		Short: "Write an inclusion proof of one event against the latest checkpoint",
		Long: `prove writes a JSON document showing that the event is in the log the host
signed: the event's canonical bytes, its leaf hash and index, the tree size,
the signed checkpoint note and the proof hashes. Anyone with the host's
verifier key ('warden audit pubkey') checks it with 'warden audit verify-proof'.
EVENT_ID is the event's id or its index.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := a.home()
			if err != nil {
				return err
			}
			l, err := openLedger(home)
			if err != nil {
				return err
			}
			defer l.Close()
			e, err := l.Find(args[0])
			if err != nil {
				return withHint(err, "list events with 'warden audit tail'")
			}
			if c, ok := l.Latest(); !ok || e.Index >= c.Size {
				if _, err := l.Checkpoint(cmdContext(cmd)); err != nil {
					if errors.Is(err, audit.ErrReadOnly) {
						return withHint(fmt.Errorf("event %s is newer than the latest checkpoint", args[0]),
							"the running host signs the next checkpoint within a second; try again")
					}
					return err
				}
			}
			p, err := l.ProveInclusion(e.Index)
			if err != nil {
				return withHint(err, "run 'warden audit verify'")
			}
			data, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
			if outFile != "" && outFile != "-" {
				if err := os.WriteFile(outFile, data, 0o644); err != nil {
					return withHint(fmt.Errorf("write proof: %w", err), "choose a writable -o path")
				}
				if !a.json {
					fmt.Fprintf(a.out, "wrote proof of event %d (tree of %d) to %s\n", p.Index, p.TreeSize, outFile)
					return nil
				}
				return a.printJSON(map[string]any{"file": outFile, "index": p.Index, "tree_size": p.TreeSize})
			}
			_, err = a.out.Write(data)
			return err
		},
	}
	c.Flags().StringVarP(&outFile, "output", "o", "", "write the proof to FILE instead of standard output")
	return c
}

// readKeyArg accepts a verifier key string or the name of a file holding one.
func readKeyArg(s string) (string, error) {
	if _, err := audit.Verifiers(s); err == nil {
		return s, nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return "", usageErr(fmt.Errorf("--key %q is neither a verifier key (name+hash+base64) nor a readable file: %w", s, err),
			"pass the key printed by 'warden audit pubkey', or a file holding it")
	}
	return strings.TrimSpace(string(b)), nil
}

func auditVerifyProofCmd(a *app) *cobra.Command {
	var key string
	c := &cobra.Command{
		Use:   "verify-proof PROOF --key HOST_PUBKEY",
		Short: "Check an inclusion proof with nothing but the host's verifier key",
		Long: `verify-proof checks a proof written by 'warden audit prove' offline: the
checkpoint signature, the event's leaf hash, and the path to the signed root.
PROOF is a file or - for standard input; HOST_PUBKEY is the verifier key
string or a file holding it. No --home is needed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return usageErr(errors.New("--key is required"), "pass the key printed by 'warden audit pubkey' on the host")
			}
			vk, err := readKeyArg(key)
			if err != nil {
				return err
			}
			verifiers, err := audit.Verifiers(vk)
			if err != nil {
				return usageErr(err, "pass the key printed by 'warden audit pubkey'")
			}
			var data []byte
			if args[0] == "-" {
				data, err = io.ReadAll(a.in)
			} else {
				data, err = os.ReadFile(args[0])
			}
			if err != nil {
				return withHint(fmt.Errorf("read proof: %w", err), "pass the file written by 'warden audit prove -o'")
			}
			ev, c, err := audit.VerifyProof(data, verifiers)
			if err != nil {
				if a.json {
					if perr := a.printJSON(map[string]any{"ok": false, "error": err.Error()}); perr != nil {
						return perr
					}
					return exitCode(1)
				}
				return withHint(err, "the proof is not valid for this key: the event or checkpoint was changed, or the key is not the host's")
			}
			if a.json {
				return a.printJSON(map[string]any{"ok": true, "origin": c.Origin, "tree_size": c.Size, "event": ev})
			}
			fmt.Fprintf(a.out, "ok: event %s (%s %s) is in log %s, signed at %d events\n", ev.ID, ev.Action, ev.Resource, c.Origin, c.Size)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "", "host verifier key, or a file holding it")
	return c
}

func auditTailCmd(a *app) *cobra.Command {
	var follow bool
	var plugin, action, since string
	var n int
	c := &cobra.Command{
		Use:   "tail [-f] [--plugin P] [--action A] [--since T] [-n N]",
		Short: "Print the newest audit events, optionally following new ones",
		Long: `tail prints the last N events that match the filters (all of them with
--since), one per line, or as JSON lines with --json. --since takes an RFC
3339 time or a duration ago (10m, 2h). -f keeps printing new events until
interrupted; it reads without locking, beside a running host.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.home()
			if err != nil {
				return err
			}
			var after time.Time
			if since != "" {
				if d, err := time.ParseDuration(since); err == nil {
					after = time.Now().Add(-d)
				} else if after, err = time.Parse(time.RFC3339Nano, since); err != nil {
					return usageErr(fmt.Errorf("--since %q is neither a duration nor an RFC 3339 time", since), "use --since 10m or --since 2025-01-02T15:04:05Z")
				}
			}
			if n < 0 {
				return usageErr(errors.New("-n must not be negative"), "use -n 20")
			}
			l, err := audit.Open(auditDir(home), audit.ReadOnly())
			if errors.Is(err, audit.ErrNotFound) && !follow {
				return nil // nothing logged yet
			}
			if err != nil {
				return withHint(err, "run 'warden audit verify'")
			}
			defer l.Close()
			match := func(e *audit.Event) bool {
				return (plugin == "" || e.Actor.Plugin == plugin) && (action == "" || e.Action == action || strings.HasSuffix(action, ".*") && strings.HasPrefix(e.Action, strings.TrimSuffix(action, "*"))) &&
					(after.IsZero() || !e.Time.Before(after))
			}
			var last []audit.Entry
			next := uint64(0)
			for e, err := range l.Read(0) {
				if err != nil {
					return withHint(err, "run 'warden audit verify'")
				}
				next = e.Index + 1
				if match(e.Event) {
					last = append(last, e)
					if since == "" && len(last) > n {
						last = last[1:]
					}
				}
			}
			for _, e := range last {
				if err := a.printEntry(e); err != nil {
					return err
				}
			}
			if !follow {
				return nil
			}
			ctx := cmdContext(cmd)
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
				for e, err := range l.Read(next) {
					if err != nil {
						return withHint(err, "run 'warden audit verify'")
					}
					next = e.Index + 1
					if match(e.Event) {
						if err := a.printEntry(e); err != nil {
							return err
						}
					}
				}
			}
		},
	}
	f := c.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events")
	f.StringVar(&plugin, "plugin", "", "only events of this plugin")
	f.StringVar(&action, "action", "", "only this action (fs.* for a family)")
	f.StringVar(&since, "since", "", "only events at or after this time (RFC 3339) or this long ago (10m)")
	f.IntVarP(&n, "lines", "n", 20, "how many of the newest matching events to print")
	return c
}

func (a *app) printEntry(e audit.Entry) error {
	if a.json {
		_, err := fmt.Fprintf(a.out, "%s\n", e.Raw)
		return err
	}
	ev := e.Event
	outcome := ev.Outcome
	if ev.Decision.Effect != "" {
		outcome = ev.Decision.Effect + "/" + outcome
	}
	// Nine fraction digits always (RFC3339Nano drops trailing zeros), so the
	// columns line up.
	_, err := fmt.Fprintf(a.out, "%s  %-8d %-14s %-16s %-12s %s\n", ev.Time.UTC().Format("2006-01-02T15:04:05.000000000Z"), e.Index,
		ev.Action, dash(ev.Actor.Plugin), dash(outcome), ev.Resource)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func auditShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Print one audit event in full",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			home, err := a.home()
			if err != nil {
				return err
			}
			l, err := audit.Open(auditDir(home), audit.ReadOnly())
			if err != nil {
				return withHint(err, "run 'warden audit verify'")
			}
			defer l.Close()
			e, err := l.Find(args[0])
			if err != nil {
				return withHint(err, "list events with 'warden audit tail'")
			}
			if a.json {
				return a.printJSON(map[string]any{"index": e.Index, "event": json.RawMessage(e.Raw)})
			}
			var pretty map[string]any
			_ = json.Unmarshal(e.Raw, &pretty)
			fmt.Fprintf(a.out, "index: %d\n", e.Index)
			enc := json.NewEncoder(a.out)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(pretty)
		},
	}
}

func auditPubkeyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "pubkey",
		Short: "Print the verifier key that checks this host's checkpoints and proofs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.home()
			if err != nil {
				return err
			}
			ring, err := openHostRing(home)
			if err != nil {
				return err
			}
			vk, err := audit.VerifierKey(ring.Signer().Public())
			if err != nil {
				return err
			}
			if a.json {
				all, err := hostVerifierKeys(ring)
				if err != nil {
					return err
				}
				return a.printJSON(map[string]any{"key": vk, "key_id": ring.Signer().KeyID(), "all": all})
			}
			fmt.Fprintln(a.out, vk)
			return nil
		},
	}
}

// exportFollowContext is the context 'audit export' follows under: done on
// SIGINT or SIGTERM. Tests replace it with one they cancel.
var exportFollowContext = func(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

func auditExportCmd(a *app) *cobra.Command {
	var once bool
	var interval time.Duration
	c := &cobra.Command{
		Use:   "export [--once | --interval D]",
		Short: "Send new audit events to the sinks in <home>/audit/export.json",
		Long: `export sends every event not yet delivered to each sink configured in
<home>/audit/export.json (NDJSON file, syslog over TCP or UDP, OTLP/HTTP logs;
native JSON or OCSF payloads), then stores each sink's cursor. Delivery is at
least once: receivers deduplicate by event id. See docs/audit-format.md.

With --once it exports what is pending and exits. Without it, it follows the
log: it looks for new events every --interval and exports them as they arrive
until interrupted (Ctrl-C). A failing sink is retried from its cursor at the
next look; the others go on. Following reads the log without locking it, so
a host can start and append while export runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once && interval <= 0 {
				return usageErr(fmt.Errorf("--interval %s is not positive", interval), "pass a poll interval such as 1s")
			}
			home, err := a.home()
			if err != nil {
				return err
			}
			dir := auditDir(home)
			cfg, raw, err := export.LoadConfig(filepath.Join(dir, export.ConfigFile))
			if err != nil {
				return withHint(err, "write "+filepath.Join(dir, export.ConfigFile)+` like {"sinks":[{"name":"siem","type":"file","path":"/var/log/warden.ndjson"}]}`)
			}
			l, err := openLedger(home)
			if err != nil {
				return err
			}
			defer func() { l.Close() }()
			ctx := cmdContext(cmd)
			if _, err := export.RecordConfig(ctx, dir, raw, l); err != nil {
				if !errors.Is(err, audit.ErrReadOnly) {
					return err
				}
				fmt.Fprintln(a.errOut, "warning: the export configuration changed, but a running host holds the ledger; it records the change")
			}
			x, err := export.New(dir, cfg)
			if err != nil {
				return withHint(err, "fix "+filepath.Join(dir, export.ConfigFile))
			}
			defer x.Close()
			if !once {
				// Follow read-only: holding the ledger for writing would keep
				// a host from starting for as long as export runs.
				if err := l.Close(); err != nil {
					return err
				}
				vkeys, err := ledgerVerifierKeys(home)
				if err != nil {
					return err
				}
				if l, err = audit.Open(dir, audit.ReadOnly(), audit.WithVerifierKeys(vkeys...)); err != nil {
					return withHint(err, ledgerHint(err))
				}
				fctx, stop := exportFollowContext(ctx)
				defer stop()
				enc := json.NewEncoder(a.out)
				return x.Follow(fctx, l, interval, func(results []export.Result, err error) {
					if a.json {
						out := map[string]any{"sinks": results, "ok": err == nil}
						if err != nil {
							out["error"] = err.Error()
						}
						_ = enc.Encode(out)
						return
					}
					for _, r := range results {
						if r.Sent > 0 {
							a.printExportResult(r)
						}
					}
					if err != nil {
						fmt.Fprintf(a.errOut, "warning: %v (retrying from the cursor in %s)\n", err, interval)
					}
				})
			}
			results, err := x.Once(ctx, l)
			if a.json {
				out := map[string]any{"sinks": results, "ok": err == nil}
				if err != nil {
					out["error"] = err.Error()
				}
				if perr := a.printJSON(out); perr != nil {
					return perr
				}
				if err != nil {
					return exitCode(1)
				}
				return nil
			}
			for _, r := range results {
				a.printExportResult(r)
			}
			if err != nil {
				return withHint(err, "the cursor of a failed sink did not move; the next run resends from there")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&once, "once", false, "export what is pending now, then exit")
	c.Flags().DurationVar(&interval, "interval", time.Second, "without --once: how often to look for new events")
	return c
}

// ledgerVerifierKeys returns the verifier keys of <home>'s host keyring.
func ledgerVerifierKeys(home string) ([]string, error) {
	ring, err := openHostRing(home)
	if err != nil {
		return nil, err
	}
	return hostVerifierKeys(ring)
}

// printExportResult prints one sink's run, and what the receiver said it
// dropped (an OTLP partial success): those events are not resent, so the
// person must hear of them.
func (a *app) printExportResult(r export.Result) {
	fmt.Fprintf(a.out, "%s: sent %d events (cursor %d)\n", r.Sink, r.Sent, r.Cursor)
	if r.Rejected > 0 {
		fmt.Fprintf(a.errOut, "warning: %s accepted the batch but dropped %d events: %s\n", r.Sink, r.Rejected, r.Warning)
	}
}
