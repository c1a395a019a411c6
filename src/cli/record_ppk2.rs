//! `benchtop record ppk2:auto|ppk2:PATH --duration 60s --out X.btr|X.csv|X.parquet [--mode ampere|source]
//! [--voltage-mv 3300] [--spike-filter]`: a PPK2's current and logic inputs recorded headless.
//!
//! The stream always goes to a `.btr` trace first (the only format that keeps 100 kS/s with exact gaps and
//! survives a crash); a `.csv` or `.parquet` output is exported from it at the end and the trace removed.

use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::record::RecordArgs;
use crate::io::ppk2::{Ppk2Event, Ppk2Options, Ppk2Stream, SAMPLE_RATE_HZ, parse_mode};
use crate::io::ppk2_trace::Ppk2TraceSink;
use crate::trace::Trace;
use crate::trace::export::{ExportOptions, export};

/// What `record` prints for a PPK2.
#[derive(Debug, Serialize)]
struct Ppk2RecordSummary {
    file: String,
    port: String,
    samples: u64,
    lost_samples: u64,
    gaps: u64,
    resyncs: u64,
    discarded_bytes: u64,
    suspected_unreported_samples: u64,
    duration_s: f64,
    achieved_sample_rate_hz: f64,
    calibration_problems: Vec<String>,
    disconnected: Option<String>,
}

/// Runs `benchtop record` for a `ppk2:` source.
pub fn run(args: &RecordArgs, target: &str) -> anyhow::Result<()> {
    let mut options = Ppk2Options::parse(target)?;
    if let Some(mode) = &args.mode {
        options.mode = parse_mode(mode)?;
    }
    if let Some(voltage_mv) = args.voltage_mv {
        crate::ppk2::Command::set_voltage(voltage_mv)?;
        options.voltage_mv = voltage_mv;
    }
    let extension = args.out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let (trace_path, export_to): (PathBuf, Option<&Path>) = match extension.as_str() {
        "btr" => (args.out.clone(), None),
        "csv" | "parquet" => (args.out.with_extension(format!("{extension}.btr")), Some(&args.out)),
        _ => anyhow::bail!("cannot record a PPK2 to `{}`: use a .btr, .csv or .parquet file", args.out.display()),
    };
    let mut stream = Ppk2Stream::open(&options)?;
    let problems: Vec<String> = stream.problems.iter().map(ToString::to_string).collect();
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    let mut sink = Ppk2TraceSink::create(&trace_path, &stream.metadata, args.spike_filter)?;
    let duration = Duration::from(args.duration);
    let started = Instant::now();
    let mut disconnected = None;
    while started.elapsed() < duration {
        let wait = duration.saturating_sub(started.elapsed()).min(Duration::from_millis(100));
        match stream.events.recv_timeout(wait) {
            Ok(Ppk2Event::Samples(block)) => sink.write(&block)?,
            Ok(Ppk2Event::Lost(reason)) => {
                disconnected = Some(reason);
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    stream.stop();
    while let Ok(Ppk2Event::Samples(block)) = stream.events.try_recv() {
        sink.write(&block)?;
    }
    let stats = stream.stats();
    let samples = sink.samples;
    sink.finish(&stats)?;
    if let Some(out) = export_to {
        let trace = Trace::open(&trace_path)?;
        export(&trace, out, &ExportOptions::default()).with_context(|| format!("could not write {}", out.display()))?;
        drop(trace);
        std::fs::remove_file(&trace_path).with_context(|| format!("could not remove {}", trace_path.display()))?;
    }
    let duration_s = samples as f64 / SAMPLE_RATE_HZ;
    let summary = Ppk2RecordSummary {
        file: args.out.display().to_string(),
        port: stream.path.clone(),
        samples,
        lost_samples: stats.lost_samples,
        gaps: stats.gaps,
        resyncs: stats.resyncs,
        discarded_bytes: stats.discarded_bytes,
        suspected_unreported_samples: stats.suspected_unreported_samples,
        duration_s,
        achieved_sample_rate_hz: (samples - stats.lost_samples) as f64 / started.elapsed().as_secs_f64(),
        calibration_problems: problems,
        disconnected: disconnected.clone(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    }
    eprintln!(
        "wrote {} samples ({:.2} s at 100 kS/s; {} lost in {} gaps, {} resyncs) from {} to {}",
        summary.samples,
        summary.duration_s,
        summary.lost_samples,
        summary.gaps,
        summary.resyncs,
        summary.port,
        summary.file
    );
    if let Some(reason) = disconnected {
        anyhow::bail!("the PPK2 went away before the end ({reason}); the samples until then are in {}", summary.file);
    }
    Ok(())
}
