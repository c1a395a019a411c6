//! Network-server imports and TR005 labels made from the ledger.
