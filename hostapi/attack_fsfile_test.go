package hostapi

// Attack tests of the capability filesystem's open files (issue 10, findings
// 3, 4 and the two file items of 10): an open is authorised for every access
// its flags allow and the file serves nothing else; a revoked authorisation
// reaches files already open; hashing for the audit never runs past the
// call's deadline; pwrite works where write does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/audit"
	"github.com/wardenproject/warden/capability"
	"github.com/wardenproject/warden/hostapi/internal/fsprov"
	"github.com/wardenproject/warden/policy"
	"github.com/wardenproject/warden/resource"
	"github.com/wardenproject/warden/store"
)

// fileEnv is env's data tree with an hr folder holding SALARIES, a gate
// over the real ledger and verifier with the policy polSrc ("%[1]s" is the
// data directory) and grants, and a caller holding the given tokens
// ("pattern actions,...", the pattern relative to the data directory).
type fileEnv struct {
	*env
	g        *Gate
	c        Caller
	eng      *policy.Engine
	conf     *recordingConfirmer
	hr       string
	salaries string
}

const salaries = "alice,120000\nbob,95000\n"

func newFileEnv(t *testing.T, polSrc string, grants *policy.Grants, tokens ...string) *fileEnv {
	t.Helper()
	e := newEnv(t)
	f := &fileEnv{env: e, hr: filepath.Join(e.data, "hr"), conf: &recordingConfirmer{answer: true}}
	f.salaries = filepath.Join(f.hr, "SALARIES-2026")
	must(t, os.Mkdir(f.hr, 0o755))
	must(t, os.WriteFile(f.salaries, []byte(salaries), 0o600))
	pol, err := policy.Parse(fmt.Appendf(nil, polSrc, e.data), policy.ParseOptions{File: "fsfile.yaml"})
	must(t, err)
	m, err := policy.NewManifest([]policy.Permission{{Resource: "filesystem:" + e.data + "/**", Actions: []string{"read", "write", "list", "delete"}}}, resource.Options{})
	must(t, err)
	f.eng = policy.NewEngine(pol, grants)
	f.g, err = NewGate(Config{Tokens: e.verifier, Policy: f.eng, Audit: e.ledger, Confirm: f.conf})
	must(t, err)
	f.c = e.caller
	f.c.Manifest = m
	f.c.Tokens = nil
	for _, tk := range tokens {
		res, acts, _ := strings.Cut(tk, " ")
		f.c.Tokens = append(f.c.Tokens, e.mint("filesystem:"+filepath.Join(e.data, res), strings.Split(acts, ",")...))
	}
	return f
}

const allowData = `version: 1
rules:
  - id: data
    effect: allow
    resource: "filesystem:%[1]s/**"
`

func (f *fileEnv) open(p string, flag int) (File, error) {
	return f.g.OpenFile(context.Background(), f.c, "", p, flag, 0o644)
}

// wantOpenDenied checks an open was refused with code, recorded as a deny
// of fs.open naming every access the open asked for.
func (f *fileEnv) wantOpenDenied(t *testing.T, file File, err error, code Code, access string) *audit.Event {
	t.Helper()
	if err == nil {
		b, _ := io.ReadAll(file)
		file.Close()
		t.Fatalf("the open succeeded (read %q)", b)
	}
	wantCode(t, err, code)
	ev := f.wantDenyEvent(ActionOpen, code)
	if ev.Detail["access"] != access {
		t.Fatalf("deny event detail.access %q, want %q", ev.Detail["access"], access)
	}
	return ev
}

// TestAttackOpenReadWriteNeedsRead (issue 10 finding 3): a plugin granted
// only write on a folder opened an existing file O_RDWR and read it, since
// the open was checked for write alone. Every flag combination that lets
// the file be read now needs read, and one that can change it needs write.
func TestAttackOpenReadWriteNeedsRead(t *testing.T) {
	f := newFileEnv(t, allowData, nil, "** write")
	p := filepath.Join(f.data, "a.csv")
	for _, flag := range []int{os.O_RDWR, os.O_RDWR | os.O_APPEND, os.O_RDWR | os.O_CREATE, os.O_RDONLY | os.O_TRUNC, os.O_RDONLY | os.O_CREATE} {
		t.Run(fmt.Sprintf("flag=%#x", flag), func(t *testing.T) {
			file, err := f.open(p, flag)
			ev := f.wantOpenDenied(t, file, err, CodeDenied, "read,write")
			if ev.Decision.By != "gate" || !strings.Contains(ev.Error.Message, "read") {
				t.Fatalf("deny event %+v %+v: want the gate refusing read", ev.Decision, ev.Error)
			}
		})
	}
	if b, _ := os.ReadFile(p); string(b) != "a,b\n1,2\n" {
		t.Fatalf("the file was changed: %q", b)
	}

	// Write-only opens still work with the write-only grant.
	w, err := f.open(p, os.O_WRONLY|os.O_APPEND)
	must(t, err)
	if _, err := w.Read(make([]byte, 4)); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("read of a write-only file: %v, want EBADF", err)
	}
	_, err = w.Write([]byte("3,4\n"))
	must(t, err)
	must(t, w.Close())
	if ev := f.last(ActionClose); ev.Detail["access"] != "write" || ev.Detail["written"] != "4" {
		t.Fatalf("close event detail %v", ev.Detail)
	}
	if b, _ := os.ReadFile(p); string(b) != "a,b\n1,2\n3,4\n" {
		t.Fatalf("the file is %q", b)
	}

	// With read and write granted, O_RDWR reads and writes.
	f2 := newFileEnv(t, allowData, nil, "** read,write")
	p2 := filepath.Join(f2.data, "a.csv")
	rw, err := f2.open(p2, os.O_RDWR)
	must(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(rw, buf)
	must(t, err)
	_, err = rw.Write([]byte("X"))
	must(t, err)
	must(t, rw.Close())
	if string(buf) != "a,b\n" {
		t.Fatalf("O_RDWR read %q", buf)
	}
	if ev := f2.last(ActionOpen); ev.Outcome != audit.OutcomeIntent || ev.Detail["access"] != "read,write" {
		t.Fatalf("O_RDWR open event %+v", ev)
	}

	// O_RDONLY|O_TRUNC needs write too (Linux truncates), and the file it
	// gives still serves no write.
	tr, err := f2.open(p2, os.O_RDONLY|os.O_TRUNC)
	must(t, err)
	if _, err := tr.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("write to an O_RDONLY|O_TRUNC file: %v, want EBADF", err)
	}
	if err := tr.Truncate(10); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("truncate of an O_RDONLY|O_TRUNC file: %v, want EBADF", err)
	}
	must(t, tr.Close())

	// Both access modes at once is not a mode.
	_, err = f2.open(p2, os.O_WRONLY|os.O_RDWR)
	wantCode(t, err, CodeInvalidParams)
	f2.wantDenyEvent(ActionOpen, CodeInvalidParams)
}

// TestAttackOpenReadWriteUnderDenyRead (issue 10 finding 3): with a policy
// that denies reading D/hr/** and a grant of read and write on D, an O_RDWR
// open of D/hr/SALARIES-2026 read the salaries. The policy is now asked for
// each access, directly and where a symlink leads; a person is asked for
// each access an ask rule covers.
func TestAttackOpenReadWriteUnderDenyRead(t *testing.T) {
	pol := `version: 1
rules:
  - id: hr-no-read
    effect: deny
    resource: "filesystem:%[1]s/hr/**"
    actions: [read]
  - id: shared-no-write
    effect: deny
    resource: "filesystem:%[1]s/shared/**"
    actions: [write]
  - id: ask-read
    effect: ask
    resource: "filesystem:%[1]s/ask/**"
    actions: [read]
  - id: data
    effect: allow
    resource: "filesystem:%[1]s/**"
`
	for _, grant := range []string{"** read,write", "** write"} {
		t.Run(grant, func(t *testing.T) {
			f := newFileEnv(t, pol, nil, grant)
			// With a write-only grant no capability covers the read; the
			// record still names the rule that would deny it (refuseUncovered).
			want := "rule:hr-no-read"
			for _, flag := range []int{os.O_RDWR, os.O_RDWR | os.O_APPEND} {
				file, err := f.open(f.salaries, flag)
				ev := f.wantOpenDenied(t, file, err, CodeDenied, "read,write")
				if ev.Decision.By != want || ev.Resource != "filesystem:"+f.salaries {
					t.Fatalf("deny event by %q on %q, want %q", ev.Decision.By, ev.Resource, want)
				}
			}
			// Writing alone is allowed there, and reads nothing.
			w, err := f.open(f.salaries, os.O_WRONLY|os.O_APPEND)
			must(t, err)
			if _, err := w.ReadAt(make([]byte, 8), 0); !errors.Is(err, syscall.EBADF) {
				t.Fatalf("ReadAt of a write-only file: %v", err)
			}
			must(t, w.Close())
		})
	}

	// Through a symlink: the resolved path is decided on for both accesses
	// (resolvedCheck covers the open's first to last access).
	f := newFileEnv(t, pol, nil, "** read,write")
	shared := filepath.Join(f.data, "shared")
	must(t, os.Mkdir(shared, 0o755))
	must(t, os.WriteFile(filepath.Join(shared, "notes.txt"), []byte("team notes"), 0o644))
	must(t, os.Symlink("hr/SALARIES-2026", filepath.Join(f.data, "pay.txt")))
	must(t, os.Symlink("shared/notes.txt", filepath.Join(f.data, "notes.txt")))
	for _, tc := range []struct{ link, real, rule string }{
		{"pay.txt", f.salaries, "rule:hr-no-read"},
		{"notes.txt", filepath.Join(shared, "notes.txt"), "rule:shared-no-write"},
	} {
		file, err := f.open(filepath.Join(f.data, tc.link), os.O_RDWR)
		ev := f.wantOpenDenied(t, file, err, CodeDenied, "read,write")
		if ev.Decision.By != tc.rule || ev.Resource != "filesystem:"+tc.real || ev.Detail["requested"] == "" {
			t.Fatalf("%s: deny event %+v on %q detail %v", tc.link, ev.Decision, ev.Resource, ev.Detail)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(shared, "notes.txt")); string(b) != "team notes" {
		t.Fatalf("the shared file was changed: %q", b)
	}

	// An ask rule on reads makes an O_RDWR open ask, for the read; an
	// O_WRONLY open does not ask.
	ask := filepath.Join(f.data, "ask", "form.txt")
	must(t, os.WriteFile(ask, []byte("form"), 0o644))
	rw, err := f.open(ask, os.O_RDWR)
	must(t, err)
	must(t, rw.Close())
	if asked := f.conf.take(); len(asked) != 1 || asked[0].Action != "read" {
		t.Fatalf("O_RDWR under an ask-read rule asked %+v, want one question about read", asked)
	}
	w, err := f.open(ask, os.O_WRONLY)
	must(t, err)
	must(t, w.Close())
	if asked := f.conf.take(); len(asked) != 0 {
		t.Fatalf("O_WRONLY asked %+v", asked)
	}
	f.conf.answer = false
	rw, err = f.open(ask, os.O_RDWR)
	f.wantOpenDenied(t, rw, err, CodeDeclined, "read,write")
}

// TestAttackDirectoryOpenNeedsList: opening a directory with read granted
// served its listing, an access fs.list checks as list. A directory open now
// needs list, whatever let the open start.
func TestAttackDirectoryOpenNeedsList(t *testing.T) {
	f := newFileEnv(t, allowData, nil, "** read")
	d, err := f.open(f.hr, os.O_RDONLY)
	f.wantOpenDenied(t, d, err, CodeDenied, "read,list")
	// A file under it is still read with read alone.
	r, err := f.open(f.salaries, os.O_RDONLY)
	must(t, err)
	must(t, r.Close())

	f2 := newFileEnv(t, `version: 1
rules:
  - id: hr-no-list
    effect: deny
    resource: "filesystem:%[1]s/hr"
    actions: [list]
  - id: data
    effect: allow
    resource: "filesystem:%[1]s/**"
`, nil, "** read,list")
	d, err = f2.open(f2.hr, os.O_RDONLY)
	if ev := f2.wantOpenDenied(t, d, err, CodeDenied, "read,list"); ev.Decision.By != "rule:hr-no-list" {
		t.Fatalf("deny event %+v", ev.Decision)
	}
	d, err = f2.open(f2.data, os.O_RDONLY)
	must(t, err)
	des, err := d.ReadDir(-1)
	must(t, err)
	must(t, d.Close())
	if len(des) < 2 {
		t.Fatalf("listing %v", des)
	}
	if ev := f2.last(ActionOpen); ev.Detail["access"] != "read,list" {
		t.Fatalf("directory open detail %v", ev.Detail)
	}
}

// mintFile mints a token on the data tree and returns it with its id.
func (f *fileEnv) mintFile(acts ...string) (string, string) {
	tok, c, err := f.issuer.Mint(capability.Request{Subject: testPlugin, Audience: testInstance,
		Resource: "filesystem:" + f.data + "/**", Actions: acts, TTL: time.Hour})
	must(f.t, err)
	return tok, c.ID
}

// recheckEvents returns the fs.recheck events in the ledger.
func (f *fileEnv) recheckEvents() []*audit.Event {
	var out []*audit.Event
	for _, ev := range f.events() {
		if ev.Action == ActionRecheck {
			out = append(out, ev)
		}
	}
	return out
}

// TestAttackOpenFileOutlivesRevocation (issue 10, finding 10): a file opened
// before its grant was revoked kept working for the rest of the call. Each
// read and write now re-checks while anything was revoked since; a refused
// access is EACCES in the guest (a refusal code here) and one fs.recheck
// event, however many accesses follow.
func TestAttackOpenFileOutlivesRevocation(t *testing.T) {
	for _, how := range []string{"token", "plugin", "grant"} {
		t.Run(how, func(t *testing.T) {
			pol := allowData
			if how == "grant" {
				// No allow rule: the user's grant is what allows.
				pol = "version: 1\nrules:\n  - id: elsewhere\n    effect: deny\n    resource: \"filesystem:%[1]s/elsewhere/**\"\n"
			}
			f := newFileEnv(t, pol, nil)
			tok, jti := f.mintFile("read", "write")
			f.c.Tokens = []string{tok}
			if how == "grant" {
				g, err := policy.NewGrants([]store.Grant{{ID: 7, Plugin: testPlugin, Resource: "filesystem:" + f.data + "/**", Actions: []string{"read", "write"}}}, resource.Options{})
				must(t, err)
				f.eng.SetGrants(g)
			}
			r, err := f.open(f.salaries, os.O_RDONLY)
			must(t, err)
			w, err := f.open(filepath.Join(f.data, "out.txt"), os.O_WRONLY|os.O_CREATE)
			must(t, err)
			buf := make([]byte, 6)
			_, err = r.Read(buf)
			must(t, err)
			_, err = w.Write([]byte("before"))
			must(t, err)

			wantCode := map[string]Code{"token": CodeTokenInvalid, "plugin": CodeTokenInvalid, "grant": CodeDenied}[how]
			switch how {
			case "token":
				f.revoked.Revoke(jti)
			case "plugin":
				f.revoked.RevokeSubject(testPlugin, time.Now().Add(time.Second))
			case "grant":
				f.eng.SetGrants(nil)
			}
			for i := range 3 {
				n, err := r.Read(buf)
				if n != 0 || CodeOf(err) != wantCode {
					t.Fatalf("read %d after revocation: %d bytes, %v; want %s", i, n, err, wantCode)
				}
				if n, err := r.ReadAt(buf, 0); n != 0 || CodeOf(err) != wantCode {
					t.Fatalf("ReadAt after revocation: %d bytes, %v", n, err)
				}
				if n, err := w.Write([]byte("after")); n != 0 || CodeOf(err) != wantCode {
					t.Fatalf("write after revocation: %d bytes, %v", n, err)
				}
				if n, err := w.WriteAt([]byte("after"), 0); n != 0 || CodeOf(err) != wantCode {
					t.Fatalf("WriteAt after revocation: %d bytes, %v", n, err)
				}
				if err := w.Truncate(0); CodeOf(err) != wantCode {
					t.Fatalf("truncate after revocation: %v", err)
				}
			}
			evs := f.recheckEvents()
			if len(evs) != 2 {
				t.Fatalf("%d fs.recheck events for two files, want one each: %v", len(evs), evs)
			}
			for _, ev := range evs {
				if ev.Outcome != audit.OutcomeError || ev.Error.Code != string(wantCode) || ev.Decision.Effect != audit.EffectDeny ||
					ev.Actor.Plugin != testPlugin || ev.Instance != testInstance || ev.Detail["op"] == "" {
					t.Fatalf("fs.recheck event %+v", ev)
				}
			}
			must(t, r.Close())
			must(t, w.Close())
			if ev := f.last(ActionClose); ev.Detail["refused_after_open"] != string(wantCode) || ev.Detail["written"] != "6" {
				t.Fatalf("close event detail %v", ev.Detail)
			}
			if b, _ := os.ReadFile(filepath.Join(f.data, "out.txt")); string(b) != "before" {
				t.Fatalf("the written file is %q", b)
			}
		})
	}
}

// TestOpenFileUnaffectedByOtherRevocations: a revocation of another token
// or a grants snapshot that still allows makes the next access re-check,
// and pass.
func TestOpenFileUnaffectedByOtherRevocations(t *testing.T) {
	f := newFileEnv(t, allowData, nil, "** read")
	r, err := f.open(f.salaries, os.O_RDONLY)
	must(t, err)
	_, other := f.mintFile("read")
	f.revoked.Revoke(other)
	f.revoked.RevokeSubject("someone.else", time.Now())
	f.eng.SetGrants(nil)
	b, err := io.ReadAll(r)
	must(t, err)
	must(t, r.Close())
	if string(b) != salaries || len(f.recheckEvents()) != 0 {
		t.Fatalf("read %q, recheck events %v", b, f.recheckEvents())
	}
}

// TestOpenFileConcurrentRecheck: readers of one open file racing with
// revocations see either data or the refusal, and the refusal is recorded
// once.
func TestOpenFileConcurrentRecheck(t *testing.T) {
	f := newFileEnv(t, allowData, nil)
	tok, jti := f.mintFile("read")
	f.c.Tokens = []string{tok}
	r, err := f.open(f.salaries, os.O_RDONLY)
	must(t, err)
	defer r.Close()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := r.ReadAt(buf, 0); err != nil && CodeOf(err) != CodeTokenInvalid {
					t.Errorf("read: %v", err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		f.revoked.Revoke(fmt.Sprint("unrelated-", i))
	}
	f.revoked.Revoke(jti)
	for i := range 200 {
		f.revoked.Revoke(fmt.Sprint("after-", i))
	}
	close(stop)
	wg.Wait()
	if _, err := r.ReadAt(make([]byte, 8), 0); CodeOf(err) != CodeTokenInvalid {
		t.Fatalf("read after the revocation: %v", err)
	}
	if evs := f.recheckEvents(); len(evs) != 1 {
		t.Fatalf("%d fs.recheck events, want 1", len(evs))
	}
}

// TestOpenFileTokenExpires: a token that expires while its file is open
// ends the file's reads, as a revocation does: the re-check is due at the
// token's expiry even though nothing was revoked.
func TestOpenFileTokenExpires(t *testing.T) {
	f := newFileEnv(t, allowData, nil)
	tok, _, err := f.issuer.Mint(capability.Request{Subject: testPlugin, Audience: testInstance,
		Resource: "filesystem:" + f.data + "/**", Actions: []string{"read"}, TTL: 2 * time.Second})
	must(t, err)
	f.c.Tokens = []string{tok}
	r, err := f.open(f.salaries, os.O_RDONLY)
	must(t, err)
	defer r.Close()
	buf := make([]byte, 4)
	_, err = r.ReadAt(buf, 0)
	must(t, err)
	// No timing threshold: the read must be refused once the token has
	// expired, however long the machine takes to get there.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		_, err = r.ReadAt(buf, 0)
		if err != nil || time.Now().After(deadline) {
			break
		}
	}
	wantCode(t, err, CodeTokenExpired)
	if evs := f.recheckEvents(); len(evs) != 1 || evs[0].Error.Code != string(CodeTokenExpired) {
		t.Fatalf("recheck events %v", evs)
	}
}

// hangDetector runs fn and fails the test if it has not returned after a
// deadline of minutes: the bug it guards against held the host for hours.
func hangDetector(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s did not return within three minutes: the host is hashing past the call's deadline", what)
	}
}

// TestAttackCloseHashesPastDeadline (issue 10 finding 4): truncating a file
// opened to write up to 8 TiB (sparse) and closing it kept the host hashing
// 8 TiB of zeros for the close event. The after-hash is now bounded by
// fsprov.MaxHashBytes and by the call's context, and a skipped hash is
// recorded with its reason and the file's size; the before-hash at open too.
func TestAttackCloseHashesPastDeadline(t *testing.T) {
	const huge = 8 << 40
	f := newFileEnv(t, allowData, nil, "** read,write")
	p := filepath.Join(f.data, "sparse.bin")
	w, err := f.open(p, os.O_WRONLY|os.O_CREATE)
	must(t, err)
	if err := w.Truncate(huge); err != nil {
		t.Fatalf("this filesystem does not take an 8 TiB sparse file, which the test needs: %v", err)
	}
	hangDetector(t, "closing an 8 TiB sparse file", func() { must(t, w.Close()) })
	ev := f.last(ActionClose)
	if ev.AfterHash != "" || ev.Detail["after_hash_skipped"] != fsprov.SkipTooLarge || ev.Detail["after_size"] != fmt.Sprint(huge) {
		t.Fatalf("close event after_hash %q detail %v", ev.AfterHash, ev.Detail)
	}

	// Opening it again to write: the before-hash is skipped too, and the
	// intent records why.
	var w2 File
	hangDetector(t, "opening an 8 TiB sparse file to write", func() {
		w2, err = f.open(p, os.O_WRONLY)
	})
	must(t, err)
	if ev := f.last(ActionOpen); ev.Outcome != audit.OutcomeIntent || ev.BeforeHash != "" || ev.Detail["before_hash_skipped"] != fsprov.SkipTooLarge {
		t.Fatalf("intent event %+v", ev)
	}
	must(t, w2.Truncate(0))
	must(t, w2.Close())
	if ev := f.last(ActionClose); ev.AfterHash != sha(nil) || ev.Detail["before_hash_skipped"] != fsprov.SkipTooLarge {
		t.Fatalf("close event after a skipped before-hash: %+v", ev)
	}

	// A close whose call has ended records the skip instead of hashing.
	small := filepath.Join(f.data, "small.txt")
	w3, err := f.open(small, os.O_WRONLY|os.O_CREATE)
	must(t, err)
	_, err = w3.Write([]byte("small"))
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	must(t, w3.CloseContext(ctx))
	if ev := f.last(ActionClose); ev.AfterHash != "" || ev.Detail["after_hash_skipped"] != fsprov.SkipDeadline || ev.Detail["after_size"] != "5" {
		t.Fatalf("close event of a call that ended: %+v", ev)
	}
}

// TestOpenFileWriteAt (issue 10, finding 10): pwrite through the capability
// filesystem failed because the gate's file had no WriteAt. It writes where
// write is allowed, is counted in the bytes written, and is refused on a
// read-only file (EBADF) and on an append-mode one (EINVAL).
func TestOpenFileWriteAt(t *testing.T) {
	f := newFileEnv(t, allowData, nil, "** read,write")
	p := filepath.Join(f.data, "a.csv")
	w, err := f.open(p, os.O_WRONLY)
	must(t, err)
	n, err := w.WriteAt([]byte("9,9"), 4)
	must(t, err)
	if n != 3 {
		t.Fatalf("WriteAt wrote %d", n)
	}
	must(t, w.Close())
	if b, _ := os.ReadFile(p); string(b) != "a,b\n9,9\n" {
		t.Fatalf("file is %q", b)
	}
	if ev := f.last(ActionClose); ev.Detail["written"] != "3" || ev.AfterHash != sha([]byte("a,b\n9,9\n")) {
		t.Fatalf("close event %+v", ev)
	}
	r, err := f.open(p, os.O_RDONLY)
	must(t, err)
	if _, err := r.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("WriteAt on a read-only file: %v, want EBADF", err)
	}
	must(t, r.Close())
	a, err := f.open(p, os.O_WRONLY|os.O_APPEND)
	must(t, err)
	if _, err := a.WriteAt([]byte("x"), 0); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("WriteAt on an append-mode file: %v, want EINVAL", err)
	}
	must(t, a.Close())
	if b, _ := os.ReadFile(p); string(b) != "a,b\n9,9\n" {
		t.Fatalf("file is %q", b)
	}
}
