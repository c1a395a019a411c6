//! Current traces on disk: the `.btr` recording format, its writer and reader, and the summary pyramid that
//! makes plots and exact statistics of hours of samples cost the same as seconds.
//!
//! A trace channel is sampled at a fixed rate (sample `i` at `start_s + i / sample_rate_hz`), with NaN marking
//! samples that are missing, so a gap keeps its exact length and nothing is invented. This module does file
//! I/O but no UI and no async; `docs/btr-format.md` specifies the bytes. [`import`] brings in CSV, `.ppk2`
//! and raw recordings from other tools, [`export`] writes CSV and Parquet.

pub mod bench;
pub mod export;
pub mod format;
pub mod import;
pub mod reader;
pub mod selection;
pub mod summary;
pub mod writer;

#[cfg(test)]
mod tests;

pub use format::ChannelDef;
pub use reader::{Columns, OpenReport, Trace, TraceError};
pub use summary::{Accumulator, Stats, Summary};
pub use writer::{TraceWriter, WriteError};
