;; abi_wrong_signature.wat: imports warden.call with the wrong signature.
(module (import "warden" "call" (func (param i32) (result i32))) (memory (export "memory") 1)
  (func (export "warden_alloc") (param i32) (result i32) i32.const 0)
  (func (export "warden_call") (param i32 i32 i32 i32) (result i64) i64.const 0))
