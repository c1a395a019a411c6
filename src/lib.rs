//! Benchtop: a desktop workbench for people who build battery-powered connected devices.
//!
//! The crate is the whole application as a library, so that tests and benchmarks build the real thing; the
//! `benchtop` binary is a thin wrapper around [`cli::run`]. Dependencies point one way:
//! `firmware_protocol` ← [`model`] ← [`trace`] ← [`io`] / [`mqtt`] / [`coap`] / [`ble`] ← [`ui`]; [`sim`] is a device written against the protocol.

pub mod ble;
pub mod cli;
pub mod coap;
pub mod inspect;
pub mod io;
pub mod model;
pub mod mqtt;
pub mod ppk2;
pub mod provision;
pub mod sim;
pub mod trace;
pub mod ui;

pub use firmware_protocol as protocol;
