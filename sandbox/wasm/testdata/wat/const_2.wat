;; const_2.wat: every tool answers with the eight ASCII bytes "22222222", stored by
;; an i64.const: the constant is an immediate in the native code, so code
;; compiled from another constant gives another answer (the cache tests).
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "{\"result\":00000000}")
  (func (export "warden_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "warden_call") (param i32 i32 i32 i32) (result i64)
    (i64.store (i32.const 10) (i64.const 0x3232323232323232))
    (i64.const 19)))
