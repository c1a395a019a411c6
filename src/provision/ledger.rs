//! The provisioning ledger.
