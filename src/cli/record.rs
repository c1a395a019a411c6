//! `benchtop record SOURCE --duration 10s --out FILE.btr|FILE.csv|FILE.parquet`: record a board headless;
//! an MQTT subscription (`mqtt://HOST:PORT/FILTER`) is recorded as `time, topic, value` rows (see
//! [`super::record_mqtt`]); a CoAP resource (`coap://HOST/PATH`) as `time, resource, value` rows (see
//! [`super::record_coap`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use crate::io::recorder::Recorder;
use crate::io::{Board, SessionOptions, Telemetry};
use crate::model::live::LiveDevice;
use crate::model::series::SeriesLimits;
use crate::model::source::Source;

/// Options of `benchtop record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The device: sim, serial:/dev/ttyACM0[?baud=…&format=plotter|csv], tcp:HOST:PORT, ble:NAME, ppk2:auto, ppk2:PATH,
    /// an MQTT subscription mqtt://HOST:PORT/TOPIC-FILTER (recorded to .csv as time, topic, value), or a CoAP
    /// resource coap://HOST[:PORT]/PATH, observed (recorded to .csv as time, resource, value).
    pub source: String,
    /// How long to record, e.g. 10s, 2min.
    #[arg(long, default_value = "10s")]
    pub duration: humantime::Duration,
    /// The file to write; its extension chooses the format: .btr (trace: fixed-rate channels in SI units,
    /// survives a crash up to the last 0.2 s), .csv or .parquet (one row per sample).
    #[arg(long)]
    pub out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// PPK2 only: ampere (measure a supply outside) or source (the PPK2 powers the device).
    #[arg(long, value_name = "ampere|source")]
    pub mode: Option<String>,
    /// PPK2 only: the regulator voltage in source mode, mV (800–5000).
    #[arg(long, value_name = "MV")]
    pub voltage_mv: Option<u16>,
    /// PPK2 only: also record `current_filtered`, the range-switch spike filter's output.
    #[arg(long)]
    pub spike_filter: bool,
}

/// Runs `benchtop record`.
pub async fn run(args: RecordArgs) -> anyhow::Result<()> {
    let source = Source::parse(&args.source)?;
    if let Source::Other { kind: "ppk2", target } = &source {
        let target = target.clone();
        return tokio::task::spawn_blocking(move || super::record_ppk2::run(&args, &target))
            .await
            .context("the PPK2 recording stopped unexpectedly")?;
    }
    if args.mode.is_some() || args.voltage_mv.is_some() || args.spike_filter {
        anyhow::bail!("--mode, --voltage-mv and --spike-filter are for PPK2 sources (ppk2:auto or ppk2:PATH)");
    }
    if let Source::Mqtt(url) = &source {
        return super::record_mqtt::run(&args, url).await;
    }
    if let Source::Coap(url) = &source {
        return super::record_coap::run(&args, url).await;
    }
    let mut recorder = Recorder::create(&args.out)?;
    let opened = Board::open(&source, SessionOptions::default(), 65_536)
        .await
        .with_context(|| format!("could not open {source}"))?;
    let (board, mut telemetry) = (opened.board, opened.telemetry);
    recorder.describe("source", serde_json::json!(source.to_string()))?;
    let info = board.info();
    recorder.describe(
        "device",
        serde_json::json!({
            "device_id": format!("{:016x}", info.device_id),
            "hardware_revision": info.hardware_revision.as_str(),
            "firmware_version": format!(
                "{}.{}.{}",
                info.firmware_version.major, info.firmware_version.minor, info.firmware_version.patch
            ),
        }),
    )?;
    // Placement only: nothing is kept in memory beyond the batch being written.
    let mut device = LiveDevice::new(board.info().clone(), SeriesLimits { raw_samples: 1, blocks_per_level: 1 });
    let started = Instant::now();
    let duration = Duration::from(args.duration);
    let deadline = tokio::time::Instant::now() + duration;
    let host_s = |at: Instant| at.saturating_duration_since(started).as_secs_f64();
    let mut disconnected = false;
    loop {
        let message = match tokio::time::timeout_at(deadline, telemetry.rx.recv()).await {
            Err(_) => break,
            Ok(None) => {
                disconnected = true;
                break;
            }
            Ok(Some(message)) => message,
        };
        let placed = match message {
            Telemetry::Samples { batch, received_at } => {
                device.place_samples(&batch, host_s(received_at)).into_iter().collect()
            }
            Telemetry::Current { batch, received_at } => {
                device.place_current(&batch, host_s(received_at)).into_iter().collect()
            }
            Telemetry::Text { values, received_at, .. } => device.place_named(&values, host_s(received_at)),
            Telemetry::Log { .. } => Vec::new(),
        };
        for placed in placed {
            recorder.write(&device, &placed)?;
        }
    }
    let summary = recorder.finish()?;
    let dropped = board.stats().snapshot().dropped_messages;
    if summary.skipped_channels > 0 {
        eprintln!(
            "note: {} channel(s) without a fixed sample rate (text) were left out of the trace; record to .csv to keep them",
            summary.skipped_channels
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "file": args.out.display().to_string(),
                "samples": summary.samples,
                "channels": summary.channels,
                "skipped_channels": summary.skipped_channels,
                "dropped_messages": dropped,
                "disconnected": disconnected,
            })
        );
    }
    eprintln!(
        "wrote {} samples of {} channels over {:.1} s to {}{}",
        summary.samples,
        summary.channels,
        started.elapsed().as_secs_f64().min(duration.as_secs_f64()),
        args.out.display(),
        if dropped > 0 {
            format!(" ({dropped} messages dropped: the disk or CPU could not keep up)")
        } else {
            String::new()
        }
    );
    if disconnected {
        anyhow::bail!(
            "the device disconnected before the end; the samples received until then are in {}",
            args.out.display()
        );
    }
    Ok(())
}
