package wasm

// Attack tests added by the independent security review (docs/threat-model.md).

import (
	"context"
	"testing"
)

// routesOutWAT tries every socket entry point WASI preview 1 has
// (sock_accept, sock_recv, sock_send, sock_shutdown) on descriptors 0..15,
// and counts the preopened directories (fd_prestat_get on 3..15) and the
// environment and argument strings. Its one tool returns a JSON string of
// two-digit counts: "S<socket calls that succeeded>P<preopens>E<env vars>A<args>".
const routesOutWAT = `(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envsz (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $argsz (param i32 i32) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 256) "x")
  (func (export "warden_alloc") (param i32) (result i32) (i32.const 65536))
  (func $put2 (param $at i32) (param $n i32)
    (i32.store8 (local.get $at) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.add (local.get $at) (i32.const 1)) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10)))))
  (func (export "warden_call") (param i32 i32 i32 i32) (result i64)
    (local $fd i32) (local $ok i32) (local $pre i32)
    ;; an iovec at 0: 1 byte at 256
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.const 1))
    (local.set $fd (i32.const 0))
    (loop $each
      (if (i32.eqz (call $accept (local.get $fd) (i32.const 0) (i32.const 16)))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (if (i32.eqz (call $recv (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 20) (i32.const 24)))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (if (i32.eqz (call $send (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 28)))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (if (i32.eqz (call $shutdown (local.get $fd) (i32.const 3)))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (if (i32.and (i32.ge_u (local.get $fd) (i32.const 3))
                   (i32.eqz (call $prestat (local.get $fd) (i32.const 32))))
        (then (local.set $pre (i32.add (local.get $pre) (i32.const 1)))))
      (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $fd) (i32.const 16))))
    (drop (call $envsz (i32.const 40) (i32.const 44)))
    (drop (call $argsz (i32.const 48) (i32.const 52)))
    ;; {"result":"SnnPnnEnnAnn"} at 1024
    (i32.store8 (i32.const 1024) (i32.const 123))
    (i32.store8 (i32.const 1025) (i32.const 34))
    (i32.store8 (i32.const 1026) (i32.const 114))
    (i32.store8 (i32.const 1027) (i32.const 101))
    (i32.store8 (i32.const 1028) (i32.const 115))
    (i32.store8 (i32.const 1029) (i32.const 117))
    (i32.store8 (i32.const 1030) (i32.const 108))
    (i32.store8 (i32.const 1031) (i32.const 116))
    (i32.store8 (i32.const 1032) (i32.const 34))
    (i32.store8 (i32.const 1033) (i32.const 58))
    (i32.store8 (i32.const 1034) (i32.const 34))
    (i32.store8 (i32.const 1035) (i32.const 83))
    (call $put2 (i32.const 1036) (local.get $ok))
    (i32.store8 (i32.const 1038) (i32.const 80))
    (call $put2 (i32.const 1039) (local.get $pre))
    (i32.store8 (i32.const 1041) (i32.const 69))
    (call $put2 (i32.const 1042) (i32.load (i32.const 40)))
    (i32.store8 (i32.const 1044) (i32.const 65))
    (call $put2 (i32.const 1045) (i32.load (i32.const 48)))
    (i32.store8 (i32.const 1047) (i32.const 34))
    (i32.store8 (i32.const 1048) (i32.const 125))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 25))))`

// TestReviewNoRouteOut: the exfiltration row's first line is "no sockets in
// WASM". A guest that tries every socket call WASI preview 1 offers, on every
// low descriptor, gets an error from each; it sees exactly one preopen (the
// capability filesystem's "/"), no environment and no arguments. (It cannot
// import anything else: TestCompileChecksDigestAndABI refuses foreign
// imports at compile time.)
func TestReviewNoRouteOut(t *testing.T) {
	inst := instantiate(t, compile(t, assemble(t, routesOutWAT)), InstanceConfig{})
	out, err := inst.Invoke(context.Background(), "probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `"S00P01E00A00"`; got != want {
		t.Fatalf("routes out: %s, want %s (S: socket calls that succeeded, P: preopens, E: env vars, A: args)", got, want)
	}
}
