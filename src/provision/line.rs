//! Line mode: watch for serial devices as they are plugged into a test station and provision each one.
//!
//! A station watches the USB serial ports (filtered by `vid:pid`) and, optionally, directories of links to
//! serial devices such as `/dev/serial/by-id`. Each port that appears gets its own worker with its own ledger
//! connection, so several fixtures are provisioned at once; a port is taken again only after it has gone
//! away (the next board in the fixture). Events go to a channel the CLI prints and the window draws;
//! counters give passed, failed and devices per hour.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::runtime::Handle;

use super::flow::{Outcome, Station, Step, session_options};
use super::ledger::{Interrupted, Ledger};
use crate::io::session::Session;
use crate::model::source::{BoardFormat, ControlLines, Source};

/// How often the ports are listed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Where a line station looks for devices.
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// USB ids (`vid:pid`, lowercase hex) to take; empty takes every USB serial port.
    pub usb: Vec<String>,
    /// Directories whose entries (links to serial devices) are all taken.
    pub dirs: Vec<PathBuf>,
    /// Baud rate.
    pub baud: u32,
}

impl Watch {
    /// The ports present now.
    pub fn ports(&self) -> BTreeSet<String> {
        let mut ports: BTreeSet<String> = crate::io::ports::list_ports()
            .into_iter()
            .filter(|port| match port.usb_id() {
                Some(id) => self.usb.is_empty() || self.usb.contains(&id),
                None => false,
            })
            .map(|port| port.path)
            .collect();
        for dir in &self.dirs {
            if let Ok(entries) = std::fs::read_dir(dir) {
                ports.extend(entries.flatten().map(|e| e.path().display().to_string()));
            }
        }
        ports
    }

    /// The source for one port.
    pub fn source(&self, port: &str) -> Source {
        Source::Serial {
            path: Some(port.to_string()),
            baud: self.baud,
            format: BoardFormat::Protocol,
            lines: ControlLines::default(),
        }
    }
}

/// What a line station reports.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum LineEvent {
    /// Rows a previous run left unfinished, now marked failed.
    Reconciled {
        /// How many.
        count: usize,
        /// Their serials.
        serials: Vec<i64>,
    },
    /// A device appeared on a port.
    Appeared {
        /// The port.
        port: String,
    },
    /// A step completed.
    Step {
        /// The port.
        port: String,
        /// The step.
        step: Step,
    },
    /// A device is finished, passed or failed.
    Done {
        /// The port.
        port: String,
        /// What happened.
        outcome: Outcome,
    },
    /// The port went away.
    Gone {
        /// The port.
        port: String,
    },
}

/// Passed, failed, and the pace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counters {
    /// Devices committed and verified.
    pub passed: u64,
    /// Devices that failed.
    pub failed: u64,
    /// Passed devices per hour since the station started; 0 during its first minute, when a rate would
    /// only extrapolate the first device.
    pub devices_per_hour: f64,
    /// Mean time per finished device, in seconds.
    pub mean_device_s: f64,
}

impl Counters {
    /// Time a station runs before its rate is shown.
    pub const RATE_AFTER: Duration = Duration::from_secs(60);

    /// Adds one outcome; `elapsed` is the time since the station started.
    pub fn count(&mut self, outcome: &Outcome, elapsed: Duration) {
        let finished_before = (self.passed + self.failed) as f64;
        if outcome.passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        self.mean_device_s = (self.mean_device_s * finished_before + outcome.elapsed_s) / (finished_before + 1.0);
        self.devices_per_hour =
            if elapsed >= Self::RATE_AFTER { self.passed as f64 / (elapsed.as_secs_f64() / 3600.0) } else { 0.0 };
    }

    /// One line: passed, failed, mean time per device and (after a minute) devices per hour.
    pub fn summary(&self) -> String {
        let mut text =
            format!("{} passed, {} failed, {:.2} s per device", self.passed, self.failed, self.mean_device_s);
        if self.devices_per_hour > 0.0 {
            text.push_str(&format!(", {:.0} devices per hour", self.devices_per_hour));
        }
        text
    }
}

/// Provisions the device at `source` with its own session; a session that does not open is a failed identify.
pub fn provision_source(
    rt: &Handle,
    station: &Station,
    ledger: &mut Ledger,
    source: &Source,
    progress: &mut dyn FnMut(Step),
) -> Outcome {
    let started = Instant::now();
    match rt.block_on(Session::open(source, session_options())) {
        Ok(session) => {
            let outcome = station.provision(rt, &session, ledger, progress);
            session.close();
            outcome
        }
        Err(error) => Outcome::untouched(Step::Identify, format!("{source}: {error}"), started.elapsed().as_secs_f64()),
    }
}

/// A running line station; dropping it stops watching and waits for devices in progress.
pub struct LineStation {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LineStation {
    /// Opens the ledger (reconciling this station's unfinished rows), then watches until stopped or until
    /// `count` devices are finished. Fails only if the ledger does not open.
    pub fn start(
        rt: Handle,
        station: Station,
        ledger_url: &str,
        watch: Watch,
        count: Option<u64>,
        events: Sender<LineEvent>,
    ) -> Result<LineStation, super::ledger::LedgerError> {
        let mut ledger = Ledger::open(ledger_url)?;
        let interrupted: Vec<Interrupted> = ledger.reconcile(&station.station)?;
        if !interrupted.is_empty() {
            let _ = events.send(LineEvent::Reconciled {
                count: interrupted.len(),
                serials: interrupted.iter().map(|i| i.serial).collect(),
            });
        }
        drop(ledger);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let url = ledger_url.to_string();
        let thread = std::thread::Builder::new()
            .name("line-station".into())
            .spawn(move || watch_loop(rt, Arc::new(station), url, watch, count, events, thread_stop))
            .map_err(|e| super::ledger::LedgerError::Database(format!("could not start the station: {e}")))?;
        Ok(LineStation { stop, thread: Some(thread) })
    }

    /// Whether the station stopped by itself (the count was reached).
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops watching; devices in progress are finished first.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LineStation {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch_loop(
    rt: Handle,
    station: Arc<Station>,
    ledger_url: String,
    watch: Watch,
    count: Option<u64>,
    events: Sender<LineEvent>,
    stop: Arc<AtomicBool>,
) {
    // Ports seen and not yet gone; a worker per port while its device is in progress.
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut workers: HashMap<String, JoinHandle<()>> = HashMap::new();
    let started = Arc::new(std::sync::Mutex::new(0u64));
    loop {
        let finished = *started.lock().unwrap_or_else(|e| e.into_inner());
        let reached = count.is_some_and(|n| finished >= n);
        if stop.load(Ordering::Relaxed) || reached {
            break;
        }
        let now = watch.ports();
        for gone in present.difference(&now).cloned().collect::<Vec<_>>() {
            present.remove(&gone);
            let _ = events.send(LineEvent::Gone { port: gone });
        }
        workers.retain(|_, worker| !worker.is_finished());
        for port in now.difference(&present).cloned().collect::<Vec<_>>() {
            // Never start more devices than the count asks for.
            let in_flight = workers.len() as u64;
            if count.is_some_and(|n| finished + in_flight >= n) {
                break;
            }
            present.insert(port.clone());
            let _ = events.send(LineEvent::Appeared { port: port.clone() });
            let (rt, station, url, events, done) =
                (rt.clone(), station.clone(), ledger_url.clone(), events.clone(), started.clone());
            let source = watch.source(&port);
            let key = port.clone();
            let worker = std::thread::Builder::new().name(format!("provision {port}")).spawn(move || {
                let outcome = match Ledger::open(&url) {
                    Ok(mut ledger) => {
                        let mut progress = |step| {
                            let _ = events.send(LineEvent::Step { port: port.clone(), step });
                        };
                        provision_source(&rt, &station, &mut ledger, &source, &mut progress)
                    }
                    Err(error) => Outcome::untouched(Step::Reserve, error.to_string(), 0.0),
                };
                *done.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                let _ = events.send(LineEvent::Done { port: port.clone(), outcome });
            });
            if let Ok(worker) = worker {
                workers.insert(key, worker);
            }
        }
        std::thread::sleep(POLL_INTERVAL);
    }
    for (_, worker) in workers {
        let _ = worker.join();
    }
}
