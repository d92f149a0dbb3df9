;; abi_no_call.wat: exports warden_alloc but not warden_call.
(module (memory (export "memory") 1)
  (func (export "warden_alloc") (param i32) (result i32) i32.const 0))
