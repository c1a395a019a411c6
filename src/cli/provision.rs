//! `benchtop provision`: provision one device on a port, or watch a line station's ports and provision each
//! device as it is plugged in, recording every attempt in the ledger.
//!
//! Exit status 0 when every device passed, 1 when any failed or nothing could start (bad template,
//! unreachable ledger: a clear error and nothing written).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::model::source::Source;
use crate::provision::flow::Station;
use crate::provision::ledger::Ledger;
use crate::provision::line::{Counters, LineEvent, LineStation, Watch, provision_source};
use crate::provision::template::Template;

/// Options of `benchtop provision`.
#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// The line template (TOML): JoinEUI, DevEUI rule, interval, MQTT.
    #[arg(long)]
    pub template: PathBuf,
    /// The ledger: sqlite:FILE or postgres://USER@HOST/DB.
    #[arg(long)]
    pub ledger: String,
    /// Provision the device on this port (a path such as /dev/ttyACM0, or a source such as sim or tcp:HOST:PORT).
    #[arg(long, conflicts_with = "watch", required_unless_present = "watch")]
    pub port: Option<String>,
    /// Watch for USB serial devices (the template's vid:pid filter) and provision each as it appears.
    #[arg(long)]
    pub watch: bool,
    /// Also take every entry of this directory of links to serial devices (e.g. /dev/serial/by-id).
    #[arg(long = "watch-dir", requires = "watch")]
    pub watch_dirs: Vec<PathBuf>,
    /// Stop after this many devices (passed or failed); watching runs until interrupted without it.
    #[arg(long)]
    pub count: Option<u64>,
    /// Station name recorded in the ledger (default: the template's).
    #[arg(long)]
    pub station: Option<String>,
    /// Operator name recorded in the ledger (default: the template's).
    #[arg(long)]
    pub operator: Option<String>,
    /// One JSON object per line (events and the summary) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `benchtop provision`.
pub fn run(args: ProvisionArgs, rt: tokio::runtime::Handle) -> anyhow::Result<()> {
    let template = Template::load(&args.template)?;
    let station = Station {
        station: args.station.clone().unwrap_or_else(|| template.station.clone()),
        operator: args.operator.clone().unwrap_or_else(|| template.operator.clone()),
        template,
    };
    if station.station.trim().is_empty() || station.operator.trim().is_empty() {
        bail!(
            "the station and operator must be named: set station and operator in the template, or pass --station and --operator"
        );
    }
    let started = Instant::now();
    let mut counters = Counters::default();
    if let Some(port) = &args.port {
        let source = port_source(port, station.template.baud)?;
        let mut ledger = Ledger::open(&args.ledger)?;
        let interrupted = ledger.reconcile(&station.station)?;
        if !interrupted.is_empty() {
            report(
                &args,
                &LineEvent::Reconciled {
                    count: interrupted.len(),
                    serials: interrupted.iter().map(|i| i.serial).collect(),
                },
            );
        }
        let rounds = args.count.unwrap_or(1);
        for _ in 0..rounds {
            let mut progress = |step| report(&args, &LineEvent::Step { port: port.clone(), step });
            let outcome = provision_source(&rt, &station, &mut ledger, &source, &mut progress);
            counters.count(&outcome, started.elapsed());
            report(&args, &LineEvent::Done { port: port.clone(), outcome });
        }
    } else {
        let watch = Watch {
            usb: station.template.watch_usb.clone(),
            dirs: args.watch_dirs.clone(),
            baud: station.template.baud,
        };
        let (tx, rx) = mpsc::channel();
        if !args.json {
            let filter = if watch.usb.is_empty() { "every USB serial port".to_string() } else { watch.usb.join(", ") };
            eprintln!("watching {filter}; plug in a device (Ctrl-C stops)");
        }
        let line = LineStation::start(rt, station, &args.ledger, watch, args.count, tx)?;
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(event) => {
                    if let LineEvent::Done { outcome, .. } = &event {
                        counters.count(outcome, started.elapsed());
                    }
                    report(&args, &event);
                }
                Err(mpsc::RecvTimeoutError::Timeout) if line.finished() => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        line.stop();
        while let Ok(event) = rx.try_recv() {
            if let LineEvent::Done { outcome, .. } = &event {
                counters.count(outcome, started.elapsed());
            }
            report(&args, &event);
        }
    }
    if args.json {
        let summary = serde_json::json!({
            "event": "summary",
            "passed": counters.passed,
            "failed": counters.failed,
            "mean_device_s": counters.mean_device_s,
            "devices_per_hour": counters.devices_per_hour,
        });
        println!("{summary}");
    } else {
        println!("{}", counters.summary());
    }
    if counters.failed > 0 {
        bail!(
            "{} device(s) failed; each failure above says what happened and what the device runs now",
            counters.failed
        );
    }
    Ok(())
}

/// A `--port` value: a path is a serial port at the template's baud rate; anything else is a source string.
fn port_source(port: &str, baud: u32) -> anyhow::Result<Source> {
    let text = if port.starts_with('/') || port.starts_with("COM") {
        format!("serial:{port}?baud={baud}&format=protocol")
    } else {
        port.to_string()
    };
    Source::parse(&text).with_context(|| format!("--port {port}"))
}

fn report(args: &ProvisionArgs, event: &LineEvent) {
    if args.json {
        if let Ok(line) = serde_json::to_string(event) {
            println!("{line}");
        }
        return;
    }
    match event {
        LineEvent::Reconciled { count, serials } => {
            println!("reconciled {count} attempt(s) a previous run left unfinished, now burned: serials {serials:?}");
        }
        LineEvent::Appeared { port } => println!("{port}: device appeared"),
        LineEvent::Step { .. } => {}
        LineEvent::Done { port, outcome } => println!("{port}: {}", outcome.summary()),
        LineEvent::Gone { port } => println!("{port}: removed"),
    }
}
