//! The application shell: connects to one source on start and shows the device, its channels with their
//! latest values, the link's counters and the device log. The Live view builds on this.
//!
//! The connection runs on the I/O runtime and reports through a bounded channel of [`Event`]s that
//! [`BenchtopApp::logic`] drains within a time budget; the UI thread never waits on I/O.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};
use firmware_protocol::{ChannelDescriptor, DeviceInfo, LogLine};
use tokio::sync::mpsc;

use super::theme;
use crate::io::{LinkStats, Session, SessionOptions, Telemetry};
use crate::model::source::Source;

/// Events the I/O side sends to the window.
pub enum Event {
    /// The device answered.
    Connected {
        /// Its description.
        info: Box<DeviceInfo>,
        /// Its link's counters.
        stats: Arc<LinkStats>,
    },
    /// The connection failed or ended.
    Failed(String),
    /// Telemetry.
    Telemetry(Telemetry),
}

enum Connection {
    Connecting,
    Connected {
        info: Box<DeviceInfo>,
        stats: Arc<LinkStats>,
    },
    Failed(String),
}

#[derive(Default, Clone, Copy)]
struct ChannelState {
    latest: Option<f64>,
    samples: u64,
}

/// Log lines kept.
const LOG_LINES_KEPT: usize = 200;
/// Events queued between I/O and the window.
const EVENT_QUEUE: usize = 1024;
/// Longest `logic` spends draining events per frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);

/// The Benchtop window.
pub struct BenchtopApp {
    source: String,
    events: mpsc::Receiver<Event>,
    connection: Connection,
    channels: Vec<ChannelState>,
    log: VecDeque<LogLine>,
}

impl BenchtopApp {
    /// Starts connecting to `source` on `runtime`; `ctx` is woken when events arrive.
    pub fn new(ctx: egui::Context, runtime: tokio::runtime::Handle, source: &str) -> Self {
        let (tx, events) = mpsc::channel(EVENT_QUEUE);
        let source_text = source.to_string();
        runtime.spawn(connect(source_text.clone(), tx, ctx));
        Self {
            source: source_text,
            events,
            connection: Connection::Connecting,
            channels: Vec::new(),
            log: VecDeque::new(),
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Connected { info, stats } => {
                self.channels = vec![ChannelState::default(); info.channels.len()];
                self.connection = Connection::Connected { info, stats };
            }
            Event::Failed(message) => self.connection = Connection::Failed(message),
            Event::Telemetry(telemetry) => self.apply_telemetry(telemetry),
        }
    }

    fn apply_telemetry(&mut self, telemetry: Telemetry) {
        let (channel_id, last_raw, count) = match telemetry {
            Telemetry::Samples { batch, .. } => (
                batch.channel_id,
                batch.values.last().map(|&v| i64::from(v)),
                batch.values.len(),
            ),
            Telemetry::Current { batch, .. } => (
                batch.channel_id,
                batch.values.last().map(|&v| i64::from(v)),
                batch.values.len(),
            ),
            Telemetry::Log { line, .. } => {
                if self.log.len() == LOG_LINES_KEPT {
                    self.log.pop_front();
                }
                self.log.push_back(line);
                return;
            }
        };
        let Connection::Connected { info, .. } = &self.connection else {
            return;
        };
        let Some(i) = info.channels.iter().position(|c| c.id == channel_id) else {
            return;
        };
        if let Some(raw) = last_raw {
            self.channels[i].latest = Some(info.channels[i].physical(raw));
        }
        self.channels[i].samples += count as u64;
    }

    fn device_ui(&self, ui: &mut egui::Ui) {
        match &self.connection {
            Connection::Connecting => {
                ui.colored_label(theme::PENDING, format!("Connecting to {}…", self.source));
            }
            Connection::Failed(message) => {
                ui.colored_label(theme::ERROR, format!("{}: {message}", self.source));
            }
            Connection::Connected { info, stats } => {
                let v = info.firmware_version;
                ui.horizontal(|ui| {
                    ui.colored_label(theme::OK, "●");
                    ui.heading(format!("Device {:016x}", info.device_id));
                });
                ui.label(
                    RichText::new(format!(
                        "{}  ·  firmware {}.{}.{}  ·  hardware {}  ·  protocol {}",
                        self.source,
                        v.major,
                        v.minor,
                        v.patch,
                        info.hardware_revision,
                        info.protocol_version
                    ))
                    .color(theme::MUTED),
                );
                ui.add_space(theme::SECTION_SPACING);
                channels_ui(ui, &info.channels, &self.channels);
                ui.add_space(theme::SECTION_SPACING);
                let s = stats.snapshot();
                ui.label(format!(
                    "Received {} bytes in {} frames · {} decode errors · {} bytes discarded · {} messages dropped",
                    s.bytes_rx,
                    s.frames_rx,
                    s.decode_errors(),
                    s.discarded_bytes,
                    s.dropped_messages
                ));
            }
        }
    }

    fn log_ui(&self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Device log").strong());
        egui::ScrollArea::vertical()
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for line in &self.log {
                    ui.monospace(format!(
                        "{:>10.3} s  {:<5}  {}",
                        line.device_time_us as f64 * 1e-6,
                        format!("{:?}", line.level).to_lowercase(),
                        line.text
                    ));
                }
            });
    }
}

fn channels_ui(ui: &mut egui::Ui, descriptors: &[ChannelDescriptor], states: &[ChannelState]) {
    egui::Grid::new("channels")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for header in ["Channel", "Latest", "Unit", "Samples"] {
                ui.label(RichText::new(header).strong());
            }
            ui.end_row();
            for (descriptor, state) in descriptors.iter().zip(states) {
                ui.label(descriptor.name.as_str());
                ui.monospace(
                    state
                        .latest
                        .map_or_else(|| "–".to_string(), |v| format!("{v:.3}")),
                );
                ui.label(descriptor.unit.as_str());
                ui.monospace(state.samples.to_string());
                ui.end_row();
            }
        });
}

impl eframe::App for BenchtopApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        while started.elapsed() < DRAIN_BUDGET {
            match self.events.try_recv() {
                Ok(event) => self.apply(event),
                Err(_) => break,
            }
        }
        if !self.events.is_empty() {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::Panel::top("title").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Benchtop");
                ui.label(
                    RichText::new("live view, power, inspector and provisioning arrive here")
                        .color(theme::MUTED),
                );
            });
        });
        egui::Panel::bottom("log")
            .resizable(true)
            .default_size(180.0)
            .show(ui, |ui| self.log_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| self.device_ui(ui));
    }
}

/// Connects and forwards telemetry to the window until the session ends.
async fn connect(source_text: String, tx: mpsc::Sender<Event>, ctx: egui::Context) {
    let wake = |ctx: &egui::Context| ctx.request_repaint_after(Duration::from_millis(16));
    let source = match Source::parse(&source_text) {
        Ok(source) => source,
        Err(e) => {
            let _ = tx.send(Event::Failed(e.to_string())).await;
            wake(&ctx);
            return;
        }
    };
    let session = match Session::open(&source, SessionOptions::default()).await {
        Ok(session) => session,
        Err(e) => {
            let _ = tx.send(Event::Failed(e.to_string())).await;
            wake(&ctx);
            return;
        }
    };
    let stats = session.stats().clone();
    let info = Box::new(session.info().clone());
    if tx
        .send(Event::Connected {
            info,
            stats: stats.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    wake(&ctx);
    let mut telemetry = match session.telemetry(EVENT_QUEUE).await {
        Ok(telemetry) => telemetry,
        Err(e) => {
            let _ = tx.send(Event::Failed(e.to_string())).await;
            return;
        }
    };
    while let Some(message) = telemetry.rx.recv().await {
        match tx.try_send(Event::Telemetry(message)) {
            Ok(()) => wake(&ctx),
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats
                    .dropped_messages
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
    let _ = tx
        .send(Event::Failed("the device disconnected".into()))
        .await;
    wake(&ctx);
}
