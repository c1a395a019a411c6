//! `benchtop record coap://HOST/PATH --duration 10s --out X.csv`: record an observed (or polled) resource.
//!
//! One row per value: `time, resource, value`, with `time` the host's wall clock in RFC 3339 UTC with
//! milliseconds, `resource` the path (or `path/field` for JSON, CBOR, SenML and layouts). At the end the
//! observation is deregistered and a summary goes to stderr (and stdout with `--json`): notifications, lost
//! ones by the Observe numbers, retransmissions and re-registrations.

use anyhow::Context as _;

use super::record::RecordArgs;
use super::record_mqtt::write_feed;
use crate::coap::{CoapBoard, CoapUrl};

/// Records the resource in `url` as `args` say.
pub async fn run(args: &RecordArgs, url: &CoapUrl) -> anyhow::Result<()> {
    if args.out.extension().and_then(|e| e.to_str()) != Some("csv") {
        anyhow::bail!("a CoAP resource is recorded to .csv (time, resource, value); name the file X.csv");
    }
    let (board, mut telemetry) = CoapBoard::open(url, 65_536).await.with_context(|| format!("could not read {url}"))?;
    let rows = write_feed(args, "resource", &mut telemetry).await?;
    let representations = board.stats().snapshot().frames_rx;
    let dropped = board.stats().snapshot().dropped_messages;
    let stats = board.coap_stats().snapshot();
    board.stop().await;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "file": args.out.display().to_string(),
                "rows": rows,
                "representations": representations,
                "lost_notifications": stats.lost_notifications,
                "retransmissions": stats.retransmissions,
                "reregistrations": stats.reregistrations,
                "malformed_datagrams": stats.malformed,
                "dropped_messages": dropped,
            })
        );
    }
    eprintln!(
        "wrote {rows} rows from {representations} representations of {} over {:.1} s to {} ({} lost notifications, {} retransmissions, {} re-registrations)",
        url.resource(),
        std::time::Duration::from(args.duration).as_secs_f64(),
        args.out.display(),
        stats.lost_notifications,
        stats.retransmissions,
        stats.reregistrations,
    );
    Ok(())
}
