;; no_abi.wat: a valid module with memory and nothing of the ABI.
(module (memory (export "memory") 1))
