//! Importing current recordings made by other tools into a `.btr` trace: CSV with a time and a current column
//! (Benchtop's own long-format CSV included), nRF Connect Power Profiler `.ppk2` files, and raw little-endian
//! `f32` samples in amperes.
//!
//! Every importer streams: rows and frames go to the [`TraceWriter`] in pieces, so a file of any length costs
//! the same memory. Values are converted to SI units (amperes, seconds); a stretch of missing rows becomes a
//! gap of NaN samples of exactly the missing length, never invented values. The trace is written to
//! `OUT.part` and renamed over `OUT` only once it is complete, so a failed import leaves no half file and
//! keeps an older `OUT` intact. Every import records `source_file` and `imported_from` in the trace's
//! metadata. Errors are sentences that say what is wrong and what to do, with the line number where there is
//! one and the path last.

mod csv_file;
mod ppk2_file;
#[cfg(test)]
pub(crate) mod tests;

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use super::format::ChannelDef;
use super::writer::{TraceWriter, WriteError};

/// Samples buffered per channel before they are handed to the writer.
const PIECE_SAMPLES: usize = 64 * 1024;

/// The kinds of file an import reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// Text with a time column and a current column (or Benchtop's long format).
    Csv,
    /// An nRF Connect Power Profiler file (a zip of `session.raw` and `metadata.json`).
    Ppk2,
    /// Raw little-endian `f32` samples in amperes at a rate given in [`ImportOptions::sample_rate_hz`].
    F32le,
}

impl ImportFormat {
    /// The format of `path` from its extension, else from its first bytes (a zip is taken for `.ppk2`).
    pub fn detect(path: &Path) -> Self {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match extension.as_str() {
            "ppk2" => Self::Ppk2,
            "csv" | "tsv" | "txt" => Self::Csv,
            _ => {
                let mut magic = [0u8; 4];
                let zip =
                    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"PK\x03\x04";
                if zip { Self::Ppk2 } else { Self::Csv }
            }
        }
    }
}

/// A unit of time in a CSV time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds (the default when the header names none).
    Seconds,
    /// Milliseconds.
    Milliseconds,
    /// Microseconds.
    Microseconds,
    /// Nanoseconds.
    Nanoseconds,
}

impl TimeUnit {
    /// Seconds per one of this unit.
    pub fn seconds(self) -> f64 {
        match self {
            Self::Seconds => 1.0,
            Self::Milliseconds => 1e-3,
            Self::Microseconds => 1e-6,
            Self::Nanoseconds => 1e-9,
        }
    }

    /// The unit a symbol names (`s`, `ms`, `us`, `µs`, `ns`, any case); `None` for anything else.
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        Some(match symbol.trim().to_lowercase().as_str() {
            "s" | "sec" | "secs" | "seconds" => Self::Seconds,
            "ms" => Self::Milliseconds,
            "us" | "µs" | "μs" => Self::Microseconds,
            "ns" => Self::Nanoseconds,
            _ => return None,
        })
    }
}

impl FromStr for TimeUnit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_symbol(s).ok_or_else(|| format!("`{s}` is not a unit of time; use s, ms, us or ns"))
    }
}

/// A unit of current in a CSV current column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentUnit {
    /// Amperes (the default when the header names none).
    Amperes,
    /// Milliamperes.
    Milliamperes,
    /// Microamperes.
    Microamperes,
    /// Nanoamperes.
    Nanoamperes,
}

impl CurrentUnit {
    /// Amperes per one of this unit.
    pub fn amperes(self) -> f64 {
        match self {
            Self::Amperes => 1.0,
            Self::Milliamperes => 1e-3,
            Self::Microamperes => 1e-6,
            Self::Nanoamperes => 1e-9,
        }
    }

    /// The unit a symbol names (`A`, `mA`, `uA`, `µA`, `nA`, any case); `None` for anything else.
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        Some(match symbol.trim().to_lowercase().as_str() {
            "a" => Self::Amperes,
            "ma" => Self::Milliamperes,
            "ua" | "µa" | "μa" => Self::Microamperes,
            "na" => Self::Nanoamperes,
            _ => return None,
        })
    }
}

impl FromStr for CurrentUnit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_symbol(s).ok_or_else(|| format!("`{s}` is not a unit of current; use A, mA, uA or nA"))
    }
}

/// How to read the input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// The input's format; `None` picks it from the extension (and the first bytes).
    pub format: Option<ImportFormat>,
    /// Samples per second of a raw `f32` file (required there, not used otherwise).
    pub sample_rate_hz: Option<f64>,
    /// Unit of a CSV time column, overriding what the header says.
    pub time_unit: Option<TimeUnit>,
    /// Unit of a CSV current column, overriding what the header (or a long-format row) says.
    pub current_unit: Option<CurrentUnit>,
    /// Channel to take from a long-format CSV (default: the first channel whose unit is a current).
    pub channel: Option<String>,
}

/// One channel an import wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedChannel {
    /// Channel name.
    pub name: String,
    /// Unit of its values (`A` for current, empty for logic lines).
    pub unit: String,
    /// Samples per second.
    pub sample_rate_hz: f64,
    /// Time of sample 0, s.
    pub start_s: f64,
    /// Samples written, gaps included.
    pub samples: u64,
    /// Samples that are gaps (NaN).
    pub missing_samples: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The file read.
    pub source_file: String,
    /// The trace written.
    pub out_file: String,
    /// What the input was read as: `csv`, `benchtop-csv` (the long format), `ppk2` or `f32le`.
    pub imported_from: &'static str,
    /// Channels written, in order.
    pub channels: Vec<ImportedChannel>,
    /// Samples written over all channels, gaps included.
    pub samples: u64,
    /// Length of the longest channel, s.
    pub duration_s: f64,
}

/// Why an import failed.
#[derive(Debug, Error)]
pub enum ImportError {
    /// The input could not be read.
    #[error("could not read the input ({reason}); check the path: {path}")]
    Read {
        /// The input.
        path: PathBuf,
        /// The system's reason (part of the message, not a chained cause, so the path stays last).
        reason: std::io::Error,
    },
    /// A line of a CSV input is not usable.
    #[error("line {line}: {problem}: {path}")]
    Line {
        /// The input.
        path: PathBuf,
        /// Line number, from 1.
        line: u64,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The input as a whole is not usable.
    #[error("{problem}: {path}")]
    Content {
        /// The input.
        path: PathBuf,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The trace could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Imports `input` into the trace `out` (replacing it only once the import succeeded).
pub fn import_file(input: &Path, out: &Path, options: &ImportOptions) -> Result<ImportSummary, ImportError> {
    let content = |problem: &str| ImportError::Content { path: input.to_path_buf(), problem: problem.into() };
    if let (Ok(a), Ok(b)) = (input.canonicalize(), out.canonicalize())
        && a == b
    {
        return Err(content("the output would replace the input; give --out another file name"));
    }
    if !folder_exists(out) {
        return Err(ImportError::Content {
            path: out.to_path_buf(),
            problem: "the folder for the output does not exist; create it or choose another --out".into(),
        });
    }
    let part = part_path(out);
    let format = options.format.unwrap_or_else(|| ImportFormat::detect(input));
    let result = match format {
        ImportFormat::Csv => csv_file::import(input, &part, options),
        ImportFormat::Ppk2 => ppk2_file::import(input, &part),
        ImportFormat::F32le => import_f32le(input, &part, options),
    };
    let (imported_from, channels) = match result {
        Ok(done) => done,
        Err(error) => {
            let _ = std::fs::remove_file(&part);
            return Err(error);
        }
    };
    std::fs::rename(&part, out).map_err(|error| {
        let _ = std::fs::remove_file(&part);
        WriteError::Create { path: out.to_path_buf(), error }
    })?;
    let duration_s = channels.iter().map(|c| c.samples as f64 / c.sample_rate_hz).fold(0.0, f64::max);
    Ok(ImportSummary {
        source_file: input.display().to_string(),
        out_file: out.display().to_string(),
        imported_from,
        samples: channels.iter().map(|c| c.samples).sum(),
        channels,
        duration_s,
    })
}

/// Whether the folder `path` would be created in exists (the current folder for a bare file name).
pub(crate) fn folder_exists(path: &Path) -> bool {
    path.parent().is_none_or(|dir| dir.as_os_str().is_empty() || dir.is_dir())
}

/// `OUT.part`: where an import writes until it is complete.
fn part_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    out.with_file_name(name)
}

/// Raw little-endian `f32` amperes: one channel `current` at the given rate.
fn import_f32le(
    input: &Path,
    part: &Path,
    options: &ImportOptions,
) -> Result<(&'static str, Vec<ImportedChannel>), ImportError> {
    let content = |problem: &str| ImportError::Content { path: input.to_path_buf(), problem: problem.into() };
    let rate_hz = options
        .sample_rate_hz
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| content("raw f32 samples carry no sample rate; give it with --rate HZ"))?;
    let mut file = File::open(input).map_err(|reason| ImportError::Read { path: input.to_path_buf(), reason })?;
    let mut out = Output::create(part, None)?;
    let ch = out.add_channel(ChannelDef {
        name: "current".into(),
        unit: "A".into(),
        sample_rate_hz: rate_hz,
        start_s: 0.0,
    })?;
    out.source_meta(input, "f32le")?;
    let mut bytes = vec![0u8; PIECE_SAMPLES * 4];
    loop {
        let n = read_full(&mut file, &mut bytes)
            .map_err(|reason| ImportError::Read { path: input.to_path_buf(), reason })?;
        let whole = n - n % 4;
        for value in bytes[..whole].chunks_exact(4) {
            out.push(ch, f32::from_le_bytes([value[0], value[1], value[2], value[3]]))?;
        }
        if whole != n {
            return Err(content(&format!(
                "the file ends {} bytes into a sample (its length is not a multiple of 4); check that it holds \
                 only 32-bit floats",
                n - whole
            )));
        }
        if n < bytes.len() {
            break;
        }
    }
    Ok(("f32le", out.finish()?))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One channel's samples on their way to the writer.
struct ChannelSink {
    id: usize,
    def: ChannelDef,
    buffer: Vec<f32>,
    samples: u64,
    missing: u64,
}

/// The trace an importer writes, with a buffer per channel so rows can arrive one at a time.
struct Output {
    writer: TraceWriter,
    channels: Vec<ChannelSink>,
}

impl Output {
    /// Creates the trace; `created_unix_ms` keeps the source's own start time when it has one.
    fn create(path: &Path, created_unix_ms: Option<u64>) -> Result<Self, WriteError> {
        let writer = match created_unix_ms {
            Some(ms) => TraceWriter::create_with_time(path, ms)?,
            None => TraceWriter::create(path)?,
        };
        Ok(Self { writer, channels: Vec::new() })
    }

    fn add_channel(&mut self, def: ChannelDef) -> Result<usize, WriteError> {
        let id = self.writer.add_channel(def.clone())?;
        self.channels.push(ChannelSink { id, def, buffer: Vec::with_capacity(PIECE_SAMPLES), samples: 0, missing: 0 });
        Ok(self.channels.len() - 1)
    }

    fn source_meta(&mut self, input: &Path, imported_from: &str) -> Result<(), WriteError> {
        let name = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
        self.writer.set_meta("source_file", serde_json::Value::String(name))?;
        self.writer.set_meta("imported_from", serde_json::Value::String(imported_from.into()))
    }

    fn set_meta(&mut self, key: &str, value: serde_json::Value) -> Result<(), WriteError> {
        self.writer.set_meta(key, value)
    }

    /// Adds one sample (NaN for a missing one).
    fn push(&mut self, channel: usize, value: f32) -> Result<(), WriteError> {
        let sink = &mut self.channels[channel];
        sink.buffer.push(value);
        sink.samples += 1;
        sink.missing += u64::from(value.is_nan());
        if sink.buffer.len() >= PIECE_SAMPLES {
            self.drain(channel)?;
        }
        Ok(())
    }

    /// Adds `count` missing samples.
    fn gap(&mut self, channel: usize, count: u64) -> Result<(), WriteError> {
        if count == 0 {
            return Ok(());
        }
        self.drain(channel)?;
        let sink = &mut self.channels[channel];
        sink.samples += count;
        sink.missing += count;
        self.writer.append_gap(sink.id, count)
    }

    fn drain(&mut self, channel: usize) -> Result<(), WriteError> {
        let sink = &mut self.channels[channel];
        self.writer.append(sink.id, &sink.buffer)?;
        sink.buffer.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<ImportedChannel>, WriteError> {
        for channel in 0..self.channels.len() {
            self.drain(channel)?;
        }
        self.writer.finish()?;
        Ok(self
            .channels
            .into_iter()
            .map(|c| ImportedChannel {
                name: c.def.name,
                unit: c.def.unit,
                sample_rate_hz: c.def.sample_rate_hz,
                start_s: c.def.start_s,
                samples: c.samples,
                missing_samples: c.missing,
            })
            .collect())
    }
}
