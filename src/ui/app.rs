//! The application shell: connects to one source on start and shows the device, its channels with their
//! latest values, the link's counters and the device log. The Live view builds on this.
//!
//! The connection runs on the I/O runtime and reports through a bounded channel of [`Event`]s that
//! [`BenchtopApp::logic`] drains within a time budget; the UI thread never waits on I/O.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};
use firmware_protocol::DeviceInfo;
use tokio::sync::mpsc;

use super::plot::{self, PlotState, WINDOWS_S};
use super::theme;
use crate::io::{Board, LinkStats, OpenBoard, SessionOptions, Telemetry};
use crate::model::live::LiveDevice;
use crate::model::series::SeriesLimits;
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
    Connected { device: Box<LiveDevice>, plots: PlotState, stats: Arc<LinkStats> },
    Failed(String),
}

/// Console lines kept.
const CONSOLE_LINES_KEPT: usize = 2000;
/// Events queued between I/O and the window.
const EVENT_QUEUE: usize = 1024;
/// Longest `logic` spends draining events per frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);

/// The Benchtop window.
pub struct BenchtopApp {
    source: String,
    events: mpsc::Receiver<Event>,
    connection: Connection,
    /// Log lines of protocol boards and text lines of text boards, with their host times.
    console: VecDeque<(f64, String)>,
    /// Zero of the host timeline that plots use.
    started: Instant,
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
            console: VecDeque::new(),
            started: Instant::now(),
        }
    }

    /// Whether the plots are paused; `None` until a device is connected.
    pub fn paused(&self) -> Option<bool> {
        match &self.connection {
            Connection::Connected { plots, .. } => Some(plots.paused_at_s.is_some()),
            _ => None,
        }
    }

    /// Samples received so far over all channels of the connected device.
    pub fn samples_received(&self) -> u64 {
        match &self.connection {
            Connection::Connected { device, .. } => device.channels.iter().map(|c| c.series.samples_total()).sum(),
            _ => 0,
        }
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Connected { info, stats } => {
                let device = Box::new(LiveDevice::new(*info, SeriesLimits::default()));
                let plots = PlotState::for_device(&device);
                self.connection = Connection::Connected { device, plots, stats };
            }
            Event::Failed(message) => self.connection = Connection::Failed(message),
            Event::Telemetry(telemetry) => self.apply_telemetry(telemetry),
        }
    }

    fn apply_telemetry(&mut self, telemetry: Telemetry) {
        let host_s = |at: Instant| at.saturating_duration_since(self.started).as_secs_f64();
        let Connection::Connected { device, plots, .. } = &mut self.connection else {
            return;
        };
        let (t_s, text) = match telemetry {
            Telemetry::Samples { batch, received_at } => return device.ingest_samples(&batch, host_s(received_at)),
            Telemetry::Current { batch, received_at } => return device.ingest_current(&batch, host_s(received_at)),
            Telemetry::Log { line, received_at } => {
                (host_s(received_at), format!("{:<5} {}", format!("{:?}", line.level).to_lowercase(), line.text))
            }
            Telemetry::Text { received_at, line, values } => {
                device.ingest_named(&values, host_s(received_at));
                plots.sync(device);
                (host_s(received_at), line)
            }
        };
        if self.console.len() == CONSOLE_LINES_KEPT {
            self.console.pop_front();
        }
        self.console.push_back((t_s, text));
    }

    fn device_ui(&mut self, ui: &mut egui::Ui) {
        match &mut self.connection {
            Connection::Connecting => {
                ui.colored_label(theme::PENDING, format!("Connecting to {}…", self.source));
            }
            Connection::Failed(message) => {
                ui.colored_label(theme::ERROR, format!("{}: {message}", self.source));
            }
            Connection::Connected { device, plots, stats } => {
                toolbar_ui(ui, device, plots);
                if let Some(t) = plot::plots_ui(ui, device, plots) {
                    plot::readout_ui(ui, device, plots, t);
                }
                let _ = stats;
            }
        }
    }

    fn side_ui(&mut self, ui: &mut egui::Ui) {
        let Connection::Connected { device, plots, stats } = &mut self.connection else {
            ui.label(RichText::new("No device").color(theme::MUTED));
            return;
        };
        let info = &device.info;
        let v = info.firmware_version;
        ui.horizontal(|ui| {
            ui.colored_label(theme::OK, "Connected");
            ui.strong(format!("{:016x}", info.device_id));
        });
        let description = if info.protocol_version == 0 {
            format!("{} · text board", self.source)
        } else {
            format!("{} · firmware {}.{}.{} · {}", self.source, v.major, v.minor, v.patch, info.hardware_revision)
        };
        ui.label(RichText::new(description).color(theme::MUTED));
        ui.add_space(theme::SECTION_SPACING);
        egui::Grid::new("channels").num_columns(3).spacing([8.0, 4.0]).show(ui, |ui| {
            for (i, channel) in device.channels.iter().enumerate() {
                let mut shown = plots.visible.get(i).copied().unwrap_or(true);
                let name = RichText::new(channel.name.as_str()).color(plot::channel_color(i));
                if ui.checkbox(&mut shown, name).changed()
                    && let Some(slot) = plots.visible.get_mut(i)
                {
                    *slot = shown;
                }
                let latest = channel.series.last().map_or_else(|| "–".to_string(), |(_, v)| format!("{v:.3}"));
                ui.monospace(latest);
                ui.label(channel.unit.as_str());
                ui.end_row();
            }
        });
        ui.add_space(theme::SECTION_SPACING);
        let s = stats.snapshot();
        ui.label(RichText::new("Link").strong());
        ui.label(format!("{} bytes, {} frames", s.bytes_rx, s.frames_rx));
        ui.label(format!("{} decode errors, {} bytes discarded", s.decode_errors(), s.discarded_bytes));
        ui.label(format!(
            "{} messages dropped, {} samples dropped by the device",
            s.dropped_messages,
            device.dropped_samples()
        ));
    }

    fn console_ui(&self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Console").strong());
        egui::ScrollArea::vertical().stick_to_bottom(true).auto_shrink(false).show(ui, |ui| {
            for (t_s, text) in &self.console {
                ui.monospace(format!("{:>10}  {text}", plot::format_time(*t_s)));
            }
        });
    }
}

fn toolbar_ui(ui: &mut egui::Ui, device: &LiveDevice, plots: &mut PlotState) {
    ui.horizontal(|ui| {
        let paused = plots.paused_at_s.is_some();
        let label = if paused { "Resume" } else { "Pause" };
        if ui.button(label).on_hover_text("Space").clicked() {
            plots.toggle_pause(device.newest_s().unwrap_or(0.0));
        }
        ui.checkbox(&mut plots.follow, "Follow");
        egui::ComboBox::from_label("Window").selected_text(format!("last {}", window_name(plots.window_s))).show_ui(
            ui,
            |ui| {
                for window in WINDOWS_S {
                    ui.selectable_value(&mut plots.window_s, window, window_name(window));
                }
            },
        );
        if paused {
            ui.colored_label(theme::PENDING, "paused");
        }
    });
}

fn window_name(window_s: f64) -> String {
    if window_s < 60.0 {
        format!("{window_s} s")
    } else if window_s < 3600.0 {
        format!("{} min", window_s / 60.0)
    } else {
        format!("{} h", window_s / 3600.0)
    }
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
        if ui.input(|i| i.key_pressed(egui::Key::Space))
            && let Connection::Connected { device, plots, .. } = &mut self.connection
        {
            plots.toggle_pause(device.newest_s().unwrap_or(0.0));
        }
        egui::Panel::top("title").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Benchtop");
                ui.label(RichText::new("live view").color(theme::MUTED));
            });
        });
        egui::Panel::left("device").resizable(true).default_size(260.0).show(ui, |ui| self.side_ui(ui));
        egui::Panel::bottom("console").resizable(true).default_size(140.0).show(ui, |ui| self.console_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| self.device_ui(ui));
    }
}

/// Connects and forwards telemetry to the window until the board goes away.
async fn connect(source_text: String, tx: mpsc::Sender<Event>, ctx: egui::Context) {
    let wake = |ctx: &egui::Context| ctx.request_repaint_after(Duration::from_millis(16));
    let opened = match Source::parse(&source_text) {
        Ok(source) => Board::open(&source, SessionOptions::default(), EVENT_QUEUE).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let OpenBoard { board, mut telemetry } = match opened {
        Ok(opened) => opened,
        Err(message) => {
            let _ = tx.send(Event::Failed(message)).await;
            wake(&ctx);
            return;
        }
    };
    let stats = board.stats().clone();
    let info = Box::new(board.info().clone());
    if tx.send(Event::Connected { info, stats: stats.clone() }).await.is_err() {
        return;
    }
    wake(&ctx);
    while let Some(message) = telemetry.rx.recv().await {
        match tx.try_send(Event::Telemetry(message)) {
            Ok(()) => wake(&ctx),
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats.dropped_messages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
    drop(board);
    let _ = tx.send(Event::Failed("the device disconnected".into())).await;
    wake(&ctx);
}
