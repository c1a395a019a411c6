//! `benchtop trace …`: statistics, export, import and the performance workload of `.btr` recordings.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::trace::export::{ExportOptions, export as export_trace};
use crate::trace::import::{CurrentUnit, ImportFormat, ImportOptions, TimeUnit, import_file};
use crate::trace::{Stats, Trace};

/// Options of `benchtop trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// What to do with a trace.
    #[command(subcommand)]
    pub command: TraceCommand,
}

/// `benchtop trace` subcommands.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Exact statistics of a channel between two times: count, mean, std, min, max, charge, energy.
    Stats(StatsArgs),
    /// Write the performance workload (a long recording) and time open, statistics and plot columns.
    Bench(BenchArgs),
    /// Import a CSV (time and current columns), an nRF Connect Power Profiler .ppk2 or raw f32 samples.
    Import(ImportArgs),
    /// Export a recording, or a time range of it, to CSV or Parquet.
    Export(ExportArgs),
}

/// Options of `benchtop trace import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import: .csv, .ppk2, or raw little-endian f32 amperes with --f32le.
    pub input: PathBuf,
    /// The trace to write (.btr); replaced only once the import succeeded.
    #[arg(long)]
    pub out: PathBuf,
    /// Read the input as raw little-endian 32-bit floats in amperes (needs --rate).
    #[arg(long, requires = "rate")]
    pub f32le: bool,
    /// Samples per second of a raw f32 input.
    #[arg(long, requires = "f32le")]
    pub rate: Option<f64>,
    /// Unit of the CSV time column (s, ms, us, ns), overriding the header.
    #[arg(long)]
    pub time_unit: Option<TimeUnit>,
    /// Unit of the CSV current column (A, mA, uA, nA), overriding the header.
    #[arg(long)]
    pub current_unit: Option<CurrentUnit>,
    /// Channel to take from a Benchtop long-format CSV (default: the first one in a unit of current).
    #[arg(long)]
    pub channel: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `benchtop trace export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The recording.
    pub file: PathBuf,
    /// The file to write: .csv or .parquet.
    #[arg(long)]
    pub out: PathBuf,
    /// Start, s since the recording started.
    #[arg(long)]
    pub from: Option<f64>,
    /// End, s since the recording started.
    #[arg(long)]
    pub to: Option<f64>,
    /// Channel to export (repeat for several; default: all).
    #[arg(long)]
    pub channel: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `benchtop trace stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The recording.
    pub file: PathBuf,
    /// Channel name (default: the first channel in amperes, else the first channel).
    #[arg(long)]
    pub channel: Option<String>,
    /// Start, s since the recording started.
    #[arg(long)]
    pub from: Option<f64>,
    /// End, s since the recording started.
    #[arg(long)]
    pub to: Option<f64>,
    /// Supply voltage for the energy, V (default: the recording's `voltage_v`, else none).
    #[arg(long)]
    pub voltage: Option<f64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `benchtop trace bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Samples to write (2·10⁹ is 8 GB).
    #[arg(long, default_value_t = 2_000_000_000)]
    pub samples: u64,
    /// The recording to write (kept for the next run).
    #[arg(long, default_value = "target/bench-traces/bench.btr")]
    pub out: PathBuf,
    /// Reuse the recording if an earlier run left one of the same size (skips the append measurement).
    #[arg(long)]
    pub reuse: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `benchtop trace`.
pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    match args.command {
        TraceCommand::Stats(args) => stats(args),
        TraceCommand::Bench(args) => bench(args),
        TraceCommand::Import(args) => import(args),
        TraceCommand::Export(args) => export(args),
    }
}

/// Picks `name`, or the first channel in amperes, or the first channel.
pub fn pick_channel(trace: &Trace, name: Option<&str>) -> anyhow::Result<usize> {
    if let Some(name) = name {
        return Ok(trace.find_channel(name)?);
    }
    if trace.channel_count() == 0 {
        anyhow::bail!("{} has no channels", trace.path().display());
    }
    Ok(trace.channels().position(|c| c.unit == "A").unwrap_or(0))
}

/// Sample range `[from, to)` of `channel` for times in seconds (whole recording by default).
pub fn sample_range(
    trace: &Trace,
    channel: usize,
    from_s: Option<f64>,
    to_s: Option<f64>,
) -> anyhow::Result<(u64, u64)> {
    let count = trace.sample_count(channel);
    let index = |t: f64| trace.index_at(channel, t).round().clamp(0.0, count as f64) as u64;
    let start = from_s.map_or(0, index);
    let end = to_s.map_or(count, index);
    if let (Some(from), Some(to)) = (from_s, to_s)
        && to <= from
    {
        anyhow::bail!("--to ({to} s) must be after --from ({from} s)");
    }
    Ok((start, end))
}

/// The statistics `benchtop trace stats` prints.
#[derive(Debug, Serialize)]
struct StatsOutput {
    channel: String,
    unit: String,
    from_s: f64,
    to_s: f64,
    count: u64,
    duration_s: f64,
    mean_a: f64,
    std_a: f64,
    rms_a: f64,
    min_a: f64,
    max_a: f64,
    p2p_a: f64,
    charge_c: f64,
    charge_uah: f64,
    voltage_v: Option<f64>,
    energy_j: Option<f64>,
}

fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let trace = Trace::open(&args.file)?;
    let channel = pick_channel(&trace, args.channel.as_deref())?;
    let (start, end) = sample_range(&trace, channel, args.from, args.to)?;
    let stats: Stats = trace.stats(channel, start, end)?;
    let def = trace.channel(channel).context("the channel vanished")?;
    let voltage_v = args.voltage.or_else(|| trace.meta().get("voltage_v").and_then(serde_json::Value::as_f64));
    let output = StatsOutput {
        channel: def.name.clone(),
        unit: def.unit.clone(),
        from_s: trace.time_of(channel, start as f64),
        to_s: trace.time_of(channel, end as f64),
        count: stats.count,
        duration_s: stats.duration_s,
        mean_a: stats.mean,
        std_a: stats.std,
        rms_a: stats.rms,
        min_a: stats.min,
        max_a: stats.max,
        p2p_a: stats.p2p,
        charge_c: stats.integral,
        charge_uah: stats.integral / 3.6e-3,
        voltage_v,
        energy_j: voltage_v.map(|v| v * stats.integral),
    };
    if !trace.report().finished {
        eprintln!(
            "note: {} was not finished (recording cut off); it was read up to its last complete chunk",
            args.file.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(());
    }
    let unit = &output.unit;
    println!("{} ({unit}), {:.6} s to {:.6} s", output.channel, output.from_s, output.to_s);
    println!("  samples   {} over {:.6} s", output.count, output.duration_s);
    println!("  mean      {}", si(output.mean_a, unit));
    println!("  std       {}", si(output.std_a, unit));
    println!("  rms       {}", si(output.rms_a, unit));
    println!("  min / max {} / {}", si(output.min_a, unit), si(output.max_a, unit));
    println!("  p2p       {}", si(output.p2p_a, unit));
    if unit == "A" {
        println!("  charge    {} ({:.6} µAh)", si(output.charge_c, "C"), output.charge_uah);
        match output.energy_j {
            Some(energy) => println!("  energy    {} at {} V", si(energy, "J"), voltage_v.unwrap_or_default()),
            None => println!("  energy    give --voltage V to compute it"),
        }
    }
    Ok(())
}

/// `value` with an SI prefix: 0.000123 A → "123.000 µA".
pub fn si(value: f64, unit: &str) -> String {
    if !value.is_finite() {
        return format!("– {unit}");
    }
    let magnitude = value.abs();
    let (scale, prefix) = [(1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")]
        .into_iter()
        .find(|(scale, _)| magnitude >= *scale)
        .unwrap_or((1e-12, "p"));
    let (scale, prefix) = if magnitude >= 1e3 { (1e3, "k") } else { (scale, prefix) };
    format!("{:.3} {prefix}{unit}", value / scale)
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(dir) = args.out.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    let report = crate::trace::bench::run(&args.out, args.samples, args.reuse, &mut |what| eprintln!("{what}"))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("samples                         {}", report.samples);
    println!("append (pyramid + disk)         {:.1} M samples/s", report.append_msps);
    println!("storage                         {:.4} bytes/sample", report.bytes_per_sample);
    println!("open                            {:.3} ms", report.open_ms);
    println!("statistics, all samples         {:.4} ms", report.stats_all_ms);
    println!(
        "statistics, random sub-ranges   {:.4} ms median, {:.4} ms worst",
        report.stats_range_median_ms, report.stats_range_worst_ms
    );
    println!(
        "2,000 plot columns              {:.3} ms (worst zoom, median), {:.3} ms worst call",
        report.columns_worst_zoom_ms, report.columns_worst_ms
    );
    Ok(())
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let options = ImportOptions {
        format: args.f32le.then_some(ImportFormat::F32le),
        sample_rate_hz: args.rate,
        time_unit: args.time_unit,
        current_unit: args.current_unit,
        channel: args.channel,
    };
    let summary = import_file(&args.input, &args.out, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "imported {} ({}) into {}: {:.6} s",
        summary.source_file, summary.imported_from, summary.out_file, summary.duration_s
    );
    for channel in &summary.channels {
        let unit = if channel.unit.is_empty() { String::new() } else { format!(" ({})", channel.unit) };
        println!(
            "  {}{unit}: {} samples at {} Hz, {} missing",
            channel.name, channel.samples, channel.sample_rate_hz, channel.missing_samples
        );
    }
    Ok(())
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let trace = Trace::open(&args.file)?;
    let options = ExportOptions { from_s: args.from, to_s: args.to, channels: args.channel };
    let summary = export_trace(&trace, &args.out, &options)?;
    if !trace.report().finished {
        eprintln!(
            "note: {} was not finished (recording cut off); it was exported up to its last complete chunk",
            args.file.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "exported {} rows ({} layout) of {} to {}",
        summary.rows,
        summary.layout.name(),
        summary.channels.join(", "),
        summary.out_file
    );
    Ok(())
}
