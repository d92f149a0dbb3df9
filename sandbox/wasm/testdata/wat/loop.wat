;; loop.wat: the FNV loop of the Go guest's "fnv" tool twice, plain and with
;; an epoch-style check at its header, and an infinite loop with the check
;; (interrupt_test.go measures what the check costs).
(module
  (global $stop (export "warden_stop") (mut i32) (i32.const 0))
  (func (export "fnv") (param $n i32) (result i64)
    (local $i i32) (local $h i64)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $out
      (loop $top
        (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h (i64.mul
          (i64.xor (local.get $h) (i64.extend_i32_u (i32.and (local.get $i) (i32.const 0xff))))
          (i64.const 0x100000001b3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $h))
  (func (export "fnv_checked") (param $n i32) (result i64)
    (local $i i32) (local $h i64)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $out
      (loop $top
        (if (global.get $stop) (then unreachable))
        (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h (i64.mul
          (i64.xor (local.get $h) (i64.extend_i32_u (i32.and (local.get $i) (i32.const 0xff))))
          (i64.const 0x100000001b3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (local.get $h))
  (func (export "spin_checked")
    (loop $top
      (if (global.get $stop) (then unreachable))
      (br $top))))
