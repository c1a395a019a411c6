//! `benchtop record mqtt://HOST:PORT/FILTER --duration 10s --out X.csv`: record a subscription.
//!
//! One row per value: `time, topic, value`. `time` is the host's wall clock when the message arrived, in
//! RFC 3339 UTC with milliseconds (`2026-11-24T12:59:48.123Z`); `topic` is the channel (the topic, or
//! `topic/field` with a layout); `value` is the number as decoded. Status topics and alerts go to stderr.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use firmware_protocol::LogLevel;

use super::record::RecordArgs;
use crate::io::{Telemetry, TelemetryStream};
use crate::mqtt::MqttBoard;
use crate::mqtt::url::MqttUrl;

/// Records `url`'s subscription as `args` say.
pub async fn run(args: &RecordArgs, url: &MqttUrl) -> anyhow::Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("csv") {
        anyhow::bail!("an MQTT subscription is recorded to .csv (time, topic, value); name the file X.csv");
    }
    let (board, mut telemetry) =
        MqttBoard::open(url, 65_536).await.with_context(|| format!("could not subscribe to {url}"))?;
    let duration = Duration::from(args.duration);
    let rows = write_feed(args, "topic", &mut telemetry).await?;
    let stats = board.mqtt_stats().snapshot();
    let dropped = board.stats().snapshot().dropped_messages + stats.inbox_dropped;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "file": args.out.display().to_string(),
                "rows": rows,
                "messages": stats.received,
                "dropped_messages": dropped,
                "connections": stats.connections,
            })
        );
    }
    eprintln!(
        "wrote {rows} rows from {} messages over {:.1} s to {}{}",
        stats.received,
        duration.as_secs_f64(),
        args.out.display(),
        if dropped > 0 {
            format!(" ({dropped} messages dropped: the disk or CPU could not keep up)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Writes `telemetry` for `args.duration` to `args.out` as `time, {name_column}, value` rows; returns the
/// number of rows. Info log lines go to stderr (warnings already went to the log).
pub async fn write_feed(args: &RecordArgs, name_column: &str, telemetry: &mut TelemetryStream) -> anyhow::Result<u64> {
    let file = std::fs::File::create(&args.out).with_context(|| format!("could not create {}", args.out.display()))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(file));
    writer.write_record(["time", name_column, "value"])?;
    // Wall clock of each message: the clock at start plus the monotonic time since, so rows never go backwards.
    let (wall_start, started) = (SystemTime::now(), Instant::now());
    let deadline = tokio::time::Instant::now() + Duration::from(args.duration);
    let mut rows = 0u64;
    while let Ok(Some(message)) = tokio::time::timeout_at(deadline, telemetry.rx.recv()).await {
        match message {
            Telemetry::Text { received_at, values, .. } => {
                let at = wall_start + received_at.saturating_duration_since(started);
                let time = humantime::format_rfc3339_millis(at).to_string();
                for (name, value) in values {
                    writer.write_record([time.as_str(), name.as_str(), &value.to_string()])?;
                    rows += 1;
                }
            }
            Telemetry::Log { line, .. } if line.level == LogLevel::Info => eprintln!("{}", line.text),
            _ => {}
        }
    }
    writer.flush().with_context(|| format!("could not write {}", args.out.display()))?;
    Ok(rows)
}
