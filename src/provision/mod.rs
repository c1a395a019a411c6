//! Provisioning: writing identities, keys and reporting settings into devices, one on the bench or hundreds on
//! a line, with a ledger that never hands out a key twice.
//!
//! [`keys`] holds the identifier and secret types (parsed strictly, generated from the OS random source,
//! never printed); [`template`] reads a line template; [`flow`] carries one device through identify →
//! reserve → stage → check → commit → read back → record; [`line`] watches a station's ports and provisions
//! each device that appears; [`ledger`] records every attempt (reserve → program → verify → commit, or
//! burned) in SQLite or PostgreSQL; [`export`] turns committed devices into network-server imports and TR005
//! labels.

pub mod export;
pub mod flow;
pub mod keys;
pub mod ledger;
pub mod line;
pub mod record;
pub mod template;
