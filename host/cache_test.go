package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenproject/warden/audit"
)

// Attack (issue 10, finding 1): a plugin that could write the compilation
// cache rewrote its own entry — the native code patched, wazero's CRC-32C
// recomputed — so that the next run executed its code inside warden. The
// host must refuse the entry before wazero loads it, run the plugin's own
// code (compiled afresh), and log the refusal as a cache.reject event.
func TestCacheForgeryIsRefusedAndAudited(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	// The guest answers with the 8 bytes of an i64.const: an immediate in
	// its native code, which the forgery changes from "1"s to "2"s. It is
	// sandbox/wasm's committed testdata/wat/const_1.wasm (assembled from the
	// .wat beside it), so the test never needs wat2wasm.
	wasmPath := filepath.Join("..", "sandbox", "wasm", "testdata", "wat", "const_1.wasm")
	man := map[string]any{
		"name": "constant", "version": "1.0.0", "description": "Answers a constant.", "entry": "plugin.wasm", "runtime": "wasm",
		"publisher": map[string]any{"name": "tests", "key_id": "ed25519:0123456789abcdef"},
		"tools":     []map[string]any{{"name": "x", "description": "answer", "input_schema": map[string]any{"type": "object"}}},
	}
	// The home's own cache (<home>/cache/wasm) and its own secret.
	home := filepath.Join(base, "home")
	h, err := New(ctx, Config{Home: home, manualRefresh: true})
	must(t, err)
	defer h.Close()
	p, err := h.Install(ctx, pluginDir(t, wasmPath, man), InstallOptions{})
	must(t, err)
	if res, err := h.Invoke(ctx, "constant", "x", []byte(`{}`)); err != nil || string(res.Output) != "11111111" {
		t.Fatalf("before the forgery: %v, %v", res, err)
	}
	h.evict(ctx, "constant") // the next call loads the module from the cache

	forged := 0
	must(t, filepath.WalkDir(filepath.Join(home, "cache", "wasm"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		must(t, err)
		off := bytes.Index(data, []byte("WAZEVO"))
		if off < 0 {
			return nil
		}
		// wazevo's layout: magic, version, function offsets, code length,
		// code, CRC-32C of the code.
		c := data[off:]
		q := 7 + int(c[6])
		q += 4 + 8*int(binary.LittleEndian.Uint32(c[q:]))
		n := int(binary.LittleEndian.Uint64(c[q:]))
		q += 8
		code := c[q : q+n]
		i := bytes.Index(code, []byte("11111111"))
		if i < 0 {
			code[n/2] ^= 0xff
		} else {
			copy(code[i:], "22222222")
		}
		binary.LittleEndian.PutUint32(c[q+n:], crc32.Checksum(code, crc32.MakeTable(crc32.Castagnoli)))
		must(t, os.WriteFile(path, data, 0o600))
		forged++
		return nil
	}))
	if forged == 0 {
		t.Fatal("no compilation cache entry to forge")
	}

	from := h.Ledger().Len()
	res, err := h.Invoke(ctx, "constant", "x", []byte(`{}`))
	if err != nil || string(res.Output) != "11111111" {
		t.Fatalf("after the forgery: output %v, error %v; want the plugin's own 11111111", res, err)
	}
	var rejected *audit.Event
	for i := from; i < h.Ledger().Len(); i++ {
		e, err := h.Ledger().Get(i)
		must(t, err)
		if e.Event.Action == audit.ActionCacheReject {
			rejected = e.Event
		}
	}
	if rejected == nil {
		t.Fatal("no cache.reject event in the ledger")
	}
	if rejected.Detail["digest"] != p.Digest || rejected.Decision.Effect != audit.EffectDeny || rejected.Outcome != audit.OutcomeError ||
		rejected.Detail["entry_sha256"] == "" || rejected.Decision.Reason == "" {
		t.Fatalf("cache.reject event %+v: want the plugin's digest %s, a deny with its reason and the entry's hash", rejected, p.Digest)
	}
}
