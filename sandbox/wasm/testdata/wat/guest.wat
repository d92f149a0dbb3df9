;; guest.wat: a warden guest written by hand, to prove that the ABI in
;; docs/abi.md is not Go-specific. It imports warden.call and warden.result,
;; exports memory, warden_alloc and warden_call, and dispatches on the first
;; byte of the tool name:
;;
;;   e  echo: the result is the input, verbatim (the input must be JSON)
;;   h  host call: input "METHOD PARAMS"; the result is the host's envelope
;;   o  host call with an out-of-bounds method pointer
;;   O  host call whose output buffer overlaps its params
;;   H  host call with a 2 GiB params length
;;   l  an infinite loop
;;   g  memory.grow towards 4 GiB; result "refused" or "granted"
;;   r  unbounded recursion
;;   f  a result as large as the rest of memory
;;   b  a result pointer outside memory
;;   u  unreachable
;;   w  WASI: create the file named by the input and write to it; result errno
;;   x  WASI: open the file named by the input and read it; result errno
;;   m  WASI: create the file, write to it, then trap
;;
;; Memory: 0..1023 scratch and constants, 1024..4095 host-call results,
;; 4096..8191 read buffer, 65536.. input (warden_alloc), 196608.. output.
(module
  (import "warden" "call"
    (func $call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "warden" "result"
    (func $result (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))

  (memory (export "memory") 6)

  (data (i32.const 512) "{\"result\":")        ;; 10 bytes
  (data (i32.const 560) "wat was here")        ;; 12 bytes
  (data (i32.const 580) "\"refused\"")         ;; 9 bytes
  (data (i32.const 592) "\"granted\"")         ;; 9 bytes
  (data (i32.const 604) "fs.stat")             ;; 7 bytes
  (data (i32.const 612) "{}")                  ;; 2 bytes
  (data (i32.const 640) "{\"error\":{\"code\":\"unknown_tool\",\"message\":\"the WAT guest has no such tool\"}}") ;; 76 bytes

  (global $in i32 (i32.const 65536))
  (global $out i32 (i32.const 196608))

  ;; warden_alloc: one fixed 128 KiB input region; 0 (refused) when too big.
  (func (export "warden_alloc") (param $size i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $size) (i32.const 131072))
      (then (i32.const 0))
      (else (global.get $in))))

  ;; emit wraps len bytes at src as {"result":...} and packs ptr<<32|len.
  (func $emit (param $src i32) (param $len i32) (result i64)
    (memory.copy (global.get $out) (i32.const 512) (i32.const 10))
    (memory.copy (i32.add (global.get $out) (i32.const 10)) (local.get $src) (local.get $len))
    (i32.store8 (i32.add (global.get $out) (i32.add (local.get $len) (i32.const 10))) (i32.const 125)) ;; '}'
    (i64.or
      (i64.shl (i64.extend_i32_u (global.get $out)) (i64.const 32))
      (i64.extend_i32_u (i32.add (local.get $len) (i32.const 11)))))

  ;; emit_num emits a small unsigned number (< 100) as the result.
  (func $emit_num (param $n i32) (result i64)
    (if (i32.lt_u (local.get $n) (i32.const 10))
      (then
        (i32.store8 (i32.const 100) (i32.add (i32.const 48) (local.get $n)))
        (return (call $emit (i32.const 100) (i32.const 1)))))
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (i32.div_u (local.get $n) (i32.const 10))))
    (i32.store8 (i32.const 101) (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
    (call $emit (i32.const 100) (i32.const 2)))

  ;; open_path opens the path at p,n relative to the "/" preopen (fd 3),
  ;; skipping a leading '/'. It stores the new fd at 16 and returns the errno.
  (func $open_path (param $p i32) (param $n i32) (param $oflags i32) (param $rights i64) (result i32)
    (if (i32.and (i32.gt_u (local.get $n) (i32.const 0))
                 (i32.eq (i32.load8_u (local.get $p)) (i32.const 47)))
      (then
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))))
    (call $path_open (i32.const 3) (i32.const 1) (local.get $p) (local.get $n)
      (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 16)))

  ;; write_hello writes "wat was here" to the fd at 16 and returns the errno.
  (func $write_hello (result i32)
    (i32.store (i32.const 0) (i32.const 560))
    (i32.store (i32.const 4) (i32.const 12))
    (call $fd_write (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 20)))

  (func $rec (param $n i32) (result i32)
    (i32.add (call $rec (i32.add (local.get $n) (i32.const 1))) (i32.const 1)))

  (func (export "warden_call") (param $name i32) (param $nlen i32) (param $inp i32) (param $ilen i32) (result i64)
    (local $t i32) (local $i i32) (local $n i32) (local $e i32)
    (local.set $t (i32.load8_u (local.get $name)))

    ;; e: echo
    (if (i32.eq (local.get $t) (i32.const 101))
      (then (return (call $emit (local.get $inp) (local.get $ilen)))))

    ;; h: host call "METHOD PARAMS"
    (if (i32.eq (local.get $t) (i32.const 104))
      (then
        (local.set $i (i32.const 0))
        (block $found
          (loop $scan
            (br_if $found (i32.ge_u (local.get $i) (local.get $ilen)))
            (br_if $found (i32.eq (i32.load8_u (i32.add (local.get $inp) (local.get $i))) (i32.const 32)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scan)))
        (if (i32.ge_u (local.get $i) (local.get $ilen))
          (then
            ;; no params: call with "{}"
            (local.set $n (call $call (local.get $inp) (local.get $ilen) (i32.const 612) (i32.const 2)
              (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3072))))
          (else
            (local.set $n (call $call (local.get $inp) (local.get $i)
              (i32.add (local.get $inp) (i32.add (local.get $i) (i32.const 1)))
              (i32.sub (local.get $ilen) (i32.add (local.get $i) (i32.const 1)))
              (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3072)))))
        (if (i32.gt_u (local.get $n) (i32.const 3072))
          (then (unreachable)))
        (return (call $emit (i32.const 1024) (local.get $n)))))

    ;; o: out-of-bounds method pointer
    (if (i32.eq (local.get $t) (i32.const 111))
      (then
        (local.set $n (call $call (i32.const 0xFFFFFF00) (i32.const 512) (i32.const 612) (i32.const 2)
          (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3072)))
        (return (call $emit (i32.const 1024) (local.get $n)))))

    ;; O: output buffer overlapping params; fetch the held envelope
    (if (i32.eq (local.get $t) (i32.const 79))
      (then
        (local.set $n (call $call (i32.const 604) (i32.const 7) (i32.const 612) (i32.const 2)
          (i32.const 0) (i32.const 0) (i32.const 600) (i32.const 100)))
        (drop (call $result (i32.const 1024) (i32.const 3072)))
        (return (call $emit (i32.const 1024) (local.get $n)))))

    ;; H: huge params length
    (if (i32.eq (local.get $t) (i32.const 72))
      (then
        (local.set $n (call $call (i32.const 604) (i32.const 7) (i32.const 612) (i32.const 0x7FFFFFFF)
          (i32.const 0) (i32.const 0) (i32.const 1024) (i32.const 3072)))
        ;; the claimed params span covers the output buffer, so the error is held
        (drop (call $result (i32.const 1024) (i32.const 3072)))
        (return (call $emit (i32.const 1024) (local.get $n)))))

    ;; l: loop forever
    (if (i32.eq (local.get $t) (i32.const 108))
      (then (loop $forever (br $forever))))

    ;; g: grow memory towards 4 GiB
    (if (i32.eq (local.get $t) (i32.const 103))
      (then
        (if (i32.eq (memory.grow (i32.sub (i32.const 65536) (memory.size))) (i32.const -1))
          (then (return (call $emit (i32.const 580) (i32.const 9)))))
        (return (call $emit (i32.const 592) (i32.const 9)))))

    ;; r: recurse without end
    (if (i32.eq (local.get $t) (i32.const 114))
      (then (drop (call $rec (i32.const 0)))))

    ;; f: a result as large as the rest of memory (not JSON, and too big)
    (if (i32.eq (local.get $t) (i32.const 102))
      (then
        (return (i64.or
          (i64.shl (i64.extend_i32_u (global.get $out)) (i64.const 32))
          (i64.extend_i32_u (i32.sub (i32.mul (memory.size) (i32.const 65536)) (global.get $out)))))))

    ;; b: a result pointer outside memory
    (if (i32.eq (local.get $t) (i32.const 98))
      (then (return (i64.const 0xFFFFFFF000000010))))

    ;; u: unreachable
    (if (i32.eq (local.get $t) (i32.const 117))
      (then (unreachable)))

    ;; w: create and write a file
    (if (i32.eq (local.get $t) (i32.const 119))
      (then
        ;; oflags CREAT|TRUNC (1|8), rights FD_WRITE (0x40)
        (local.set $e (call $open_path (local.get $inp) (local.get $ilen) (i32.const 9) (i64.const 0x40)))
        (if (i32.ne (local.get $e) (i32.const 0))
          (then (return (call $emit_num (local.get $e)))))
        (local.set $e (call $write_hello))
        (drop (call $fd_close (i32.load (i32.const 16))))
        (return (call $emit_num (local.get $e)))))

    ;; x: open and read a file
    (if (i32.eq (local.get $t) (i32.const 120))
      (then
        ;; rights FD_READ (0x2)
        (local.set $e (call $open_path (local.get $inp) (local.get $ilen) (i32.const 0) (i64.const 0x2)))
        (if (i32.ne (local.get $e) (i32.const 0))
          (then (return (call $emit_num (local.get $e)))))
        (i32.store (i32.const 0) (i32.const 4096))
        (i32.store (i32.const 4) (i32.const 4096))
        (local.set $e (call $fd_read (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 20)))
        (drop (call $fd_close (i32.load (i32.const 16))))
        (return (call $emit_num (local.get $e)))))

    ;; m: write then trap
    (if (i32.eq (local.get $t) (i32.const 109))
      (then
        (local.set $e (call $open_path (local.get $inp) (local.get $ilen) (i32.const 9) (i64.const 0x40)))
        (if (i32.ne (local.get $e) (i32.const 0))
          (then (return (call $emit_num (local.get $e)))))
        (drop (call $write_hello))
        (unreachable)))

    ;; unknown tool: an error envelope
    (i64.or (i64.shl (i64.const 640) (i64.const 32)) (i64.const 76)))
)
