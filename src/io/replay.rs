//! Reading a recording back (`file:` sources): the CSV or Parquet files Benchtop writes, one row per sample
//! (`time_s`, `channel`, `value`, `unit`), grouped into channels for viewing.
//!
//! A damaged file is reported with the row that broke it; nothing is guessed.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use arrow_array::{Array, Float32Array, Float64Array, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thiserror::Error;

/// One channel of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedChannel {
    /// Channel name.
    pub name: String,
    /// Unit, possibly empty.
    pub unit: String,
    /// Samples, in file order.
    pub points: Vec<(f64, f32)>,
}

/// Why a recording could not be read.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// Opening or reading the file failed.
    #[error("could not read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not a Benchtop recording.
    #[error("{path} is not a Benchtop recording: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong, with the row.
        reason: String,
    },
}

/// Reads a `.csv` or `.parquet` recording.
pub fn read_recording(path: &Path) -> Result<Vec<RecordedChannel>, ReplayError> {
    let shown = path.display().to_string();
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let rows = match extension.as_str() {
        "csv" => read_csv(path, &shown)?,
        "parquet" => read_parquet(path, &shown)?,
        _ => {
            return Err(ReplayError::Format { path: shown, reason: "open a .csv or .parquet recording".into() });
        }
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut channels: Vec<RecordedChannel> = Vec::new();
    for (t, name, value, unit) in rows {
        let i = *index.entry(name.clone()).or_insert_with(|| {
            channels.push(RecordedChannel { name, unit, points: Vec::new() });
            channels.len() - 1
        });
        channels[i].points.push((t, value));
    }
    Ok(channels)
}

type Row = (f64, String, f32, String);

fn read_csv(path: &Path, shown: &str) -> Result<Vec<Row>, ReplayError> {
    let read_error = |reason: String| ReplayError::Read { path: shown.to_string(), reason };
    let format_error = |reason: String| ReplayError::Format { path: shown.to_string(), reason };
    let mut reader = csv::Reader::from_path(path).map_err(|e| read_error(e.to_string()))?;
    let headers = reader.headers().map_err(|e| read_error(e.to_string()))?.clone();
    if headers.iter().collect::<Vec<_>>() != ["time_s", "channel", "value", "unit"] {
        return Err(format_error(format!(
            "the header is `{}`, not `time_s,channel,value,unit`",
            headers.iter().collect::<Vec<_>>().join(",")
        )));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format_error(format!("line {line}: {e}")))?;
        let field = |k: usize| record.get(k).unwrap_or("");
        let t: f64 =
            field(0).parse().map_err(|_| format_error(format!("line {line}: time `{}` is not a number", field(0))))?;
        let value: f32 =
            field(2).parse().map_err(|_| format_error(format!("line {line}: value `{}` is not a number", field(2))))?;
        rows.push((t, field(1).to_string(), value, field(3).to_string()));
    }
    Ok(rows)
}

fn read_parquet(path: &Path, shown: &str) -> Result<Vec<Row>, ReplayError> {
    let read_error = |reason: String| ReplayError::Read { path: shown.to_string(), reason };
    let format_error = |reason: &str| ReplayError::Format { path: shown.to_string(), reason: reason.to_string() };
    let file = File::open(path).map_err(|e| read_error(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|builder| builder.build())
        .map_err(|e| read_error(format!("{e} (a recording cut off before it was finished has no footer)")))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| read_error(e.to_string()))?;
        let column =
            |name: &str| batch.column_by_name(name).ok_or_else(|| format_error(&format!("no `{name}` column")));
        let time = column("time_s")?
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| format_error("`time_s` is not float64"))?;
        let channel = column("channel")?
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| format_error("`channel` is not text"))?;
        let value = column("value")?
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| format_error("`value` is not float32"))?;
        let unit =
            column("unit")?.as_any().downcast_ref::<StringArray>().ok_or_else(|| format_error("`unit` is not text"))?;
        for i in 0..batch.num_rows() {
            if time.is_null(i) || value.is_null(i) {
                continue;
            }
            rows.push((time.value(i), channel.value(i).to_string(), value.value(i), unit.value(i).to_string()));
        }
    }
    Ok(rows)
}
