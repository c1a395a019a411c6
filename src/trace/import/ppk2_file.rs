//! nRF Connect Power Profiler (`.ppk2`) import: the current and the eight logic lines of a PPK2 session.
//!
//! A `.ppk2` file is a zip holding `metadata.json` (`{"metadata": {"samplesPerSecond", "startSystemTime"},
//! "formatVersion": 2}`), `session.raw` (one 6-byte frame per sample: the current as an `f32` little-endian in
//! µA, then a `u16` big-endian of logic bit pairs) and `minimap.raw` (the app's own overview, not needed here:
//! the trace builds its summary pyramid from the samples).
//!
//! Each logic line N owns bits 2N+1..2N of the `u16`: `01` low, `10` high, `11` toggled within the sample's
//! window (the app ORs the pairs of the samples it averages into one), `00` no data. They become channels
//! `D0`…`D7` with an empty unit and the values 0.0 (low), 1.0 (high), 0.5 (toggled: its mean over the window
//! is somewhere between, and 0.5 keeps the plot honest) and NaN (no data, like a lost current sample). The
//! current becomes channel `current` in amperes; NaN (a sample the app lost) stays NaN. The trace's start time
//! is the session's `startSystemTime`.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{ImportError, ImportedChannel, Output, read_full};
use crate::trace::format::ChannelDef;

/// The only `.ppk2` format version written by Power Profiler 4.x (older `.ppk` files are a different format).
const FORMAT_VERSION: u64 = 2;
/// Bytes of one sample in `session.raw`.
const FRAME_BYTES: usize = 6;
/// Frames read from `session.raw` per piece.
const FRAMES_PER_PIECE: usize = 64 * 1024;
/// Logic lines of a PPK2.
const LOGIC_LINES: usize = 8;

/// What `metadata.json` says.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Session {
    samples_per_second: f64,
    start_unix_ms: Option<u64>,
}

/// The value of logic line `line` in a frame's bit pairs: 0 low, 1 high, 0.5 toggled, NaN no data.
pub(super) fn logic_value(bits: u16, line: usize) -> f32 {
    match (bits >> (2 * line)) & 0b11 {
        0b01 => 0.0,
        0b10 => 1.0,
        0b11 => 0.5,
        _ => f32::NAN,
    }
}

fn parse_metadata(text: &[u8]) -> Result<Session, String> {
    let json: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
        format!("its metadata.json is not valid JSON ({e}); export the session again from Power Profiler")
    })?;
    let version = json.get("formatVersion").and_then(serde_json::Value::as_u64);
    if version != Some(FORMAT_VERSION) {
        let found = version.map_or_else(|| "no format version".to_string(), |v| format!("format version {v}"));
        return Err(format!(
            "its metadata.json has {found}, and Benchtop reads .ppk2 format version {FORMAT_VERSION}; open the file \
             in a current nRF Connect Power Profiler and save it again"
        ));
    }
    let metadata = json.get("metadata");
    let samples_per_second = metadata
        .and_then(|m| m.get("samplesPerSecond"))
        .and_then(serde_json::Value::as_f64)
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or("its metadata.json has no positive metadata.samplesPerSecond; export the session again")?;
    let start_unix_ms = metadata
        .and_then(|m| m.get("startSystemTime"))
        .and_then(serde_json::Value::as_f64)
        .filter(|t| t.is_finite() && *t >= 0.0)
        .map(|t| t as u64);
    Ok(Session { samples_per_second, start_unix_ms })
}

/// Imports a `.ppk2` file into the trace at `part`.
pub(super) fn import(path: &Path, part: &Path) -> Result<(&'static str, Vec<ImportedChannel>), ImportError> {
    let content = |problem: String| ImportError::Content { path: path.to_path_buf(), problem };
    let read = |reason| ImportError::Read { path: path.to_path_buf(), reason };
    let file = File::open(path).map_err(read)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| {
        content(format!(
            "this is not a readable .ppk2 file (its zip structure is broken: {e}); export the session again from \
             Power Profiler"
        ))
    })?;
    let session = {
        let mut entry = archive.by_name("metadata.json").map_err(|_| {
            content("this .ppk2 file has no metadata.json; export the session again from Power Profiler".into())
        })?;
        let mut text = Vec::new();
        entry.by_ref().take(1 << 20).read_to_end(&mut text).map_err(|e| {
            content(format!("its metadata.json cannot be unpacked ({e}); export the session again from Power Profiler"))
        })?;
        parse_metadata(&text).map_err(content)?
    };
    let mut raw = archive.by_name("session.raw").map_err(|_| {
        content("this .ppk2 file has no session.raw (the samples); export the session again from Power Profiler".into())
    })?;

    let mut out = Output::create(part, session.start_unix_ms)?;
    let def = |name: &str, unit: &str| ChannelDef {
        name: name.into(),
        unit: unit.into(),
        sample_rate_hz: session.samples_per_second,
        start_s: 0.0,
    };
    let current = out.add_channel(def("current", "A"))?;
    let mut logic = [0usize; LOGIC_LINES];
    for (line, id) in logic.iter_mut().enumerate() {
        *id = out.add_channel(def(&format!("D{line}"), ""))?;
    }
    out.source_meta(path, "ppk2")?;
    out.set_meta("ppk2_format_version", serde_json::json!(FORMAT_VERSION))?;
    if let Some(ms) = session.start_unix_ms {
        out.set_meta("start_unix_ms", serde_json::json!(ms))?;
    }

    let mut bytes = vec![0u8; FRAMES_PER_PIECE * FRAME_BYTES];
    loop {
        let n = read_full(&mut raw, &mut bytes).map_err(|e| {
            content(format!("its session.raw cannot be unpacked ({e}); the file is damaged, export it again"))
        })?;
        let whole = n - n % FRAME_BYTES;
        for frame in bytes[..whole].chunks_exact(FRAME_BYTES) {
            let microamps = f32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
            out.push(current, (f64::from(microamps) * 1e-6) as f32)?;
            let bits = u16::from_be_bytes([frame[4], frame[5]]);
            for (line, &id) in logic.iter().enumerate() {
                out.push(id, logic_value(bits, line))?;
            }
        }
        if whole != n {
            return Err(content(format!(
                "its session.raw ends {} bytes into a sample (samples are {FRAME_BYTES} bytes); the file is \
                 damaged, export it again",
                n - whole
            )));
        }
        if n < bytes.len() {
            break;
        }
    }
    Ok(("ppk2", out.finish()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_pairs_decode_per_line() {
        // D0 high (10), D1 low (01), D2 toggled (11), D3 no data (00), D7 high.
        let bits: u16 = 0b10_00_00_00_00_11_01_10;
        assert_eq!(logic_value(bits, 0), 1.0);
        assert_eq!(logic_value(bits, 1), 0.0);
        assert_eq!(logic_value(bits, 2), 0.5);
        assert!(logic_value(bits, 3).is_nan());
        assert_eq!(logic_value(bits, 7), 1.0);
    }

    #[test]
    fn metadata_needs_version_two_and_a_rate() {
        let good = br#"{"metadata":{"samplesPerSecond":100000,"startSystemTime":1700000000123},"formatVersion":2}"#;
        assert_eq!(
            parse_metadata(good),
            Ok(Session { samples_per_second: 1e5, start_unix_ms: Some(1_700_000_000_123) })
        );
        let old = br#"{"metadata":{"samplesPerSecond":100000},"formatVersion":1}"#;
        assert!(parse_metadata(old).unwrap_err().contains("format version 1"));
        let no_rate = br#"{"metadata":{},"formatVersion":2}"#;
        assert!(parse_metadata(no_rate).unwrap_err().contains("samplesPerSecond"));
        assert!(parse_metadata(b"{not json").unwrap_err().contains("not valid JSON"));
    }
}
