;; abi_unknown_import.wat: the ABI, plus a warden import that does not exist.
(module (import "warden" "exec" (func)) (memory (export "memory") 1)
  (func (export "warden_alloc") (param i32) (result i32) i32.const 0)
  (func (export "warden_call") (param i32 i32 i32 i32) (result i64) i64.const 0))
