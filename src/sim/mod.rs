//! The simulated board: a complete Benchtop device in software, the demo on first start and the peer of the
//! integration tests.
//!
//! [`SimBoard`] is the device itself, pure and driven by the caller's clock; [`serve`] runs one on a byte
//! stream (a pseudo-terminal, a TCP connection or an in-process pipe) with the wall clock. [`ppk2`] is a second,
//! unrelated device: an emulated Nordic Power Profiler Kit II speaking its own USB protocol.

pub mod board;
pub mod faults;
pub mod ppk2;
pub mod serve;
pub mod storage;
pub mod stream;
pub mod waveform;

pub use board::{SimBoard, SimCounters, SimOptions};
pub use faults::{Faults, FaultsError};
