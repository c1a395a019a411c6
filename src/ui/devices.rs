//! The window's view of each open device: its state, live data, plots, console and rates, updated from the
//! device task's events. No I/O here: commands go out on the device's channel and are never awaited.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use postcard_rpc::host_client::SchemaReport;
use tokio::sync::mpsc;

use super::plot::{PlotLayout, PlotState};
use crate::io::capture::FrameListener;
use crate::io::device_task::{DeviceCommand, DeviceEvent, RecordingStatus};
use crate::io::{LinkStats, LinkStatsSnapshot, Telemetry};
use crate::model::live::LiveDevice;
use crate::model::series::SeriesLimits;

/// Console lines kept per device.
pub const CONSOLE_LINES_KEPT: usize = 2000;

/// Where a device is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    /// Opening (attempt number).
    Connecting(u32),
    /// Streaming.
    Connected,
    /// Gone; waiting for it to come back.
    Lost(String),
    /// Could not be opened.
    Failed(String),
    /// Disconnected by the user.
    Closed,
    /// A recording read from a file.
    File,
}

impl DeviceState {
    /// A short label for the connections panel.
    pub fn label(&self) -> String {
        match self {
            DeviceState::Connecting(1) => "connecting".into(),
            DeviceState::Connecting(n) => format!("waiting for the board (attempt {n})"),
            DeviceState::Connected => "connected".into(),
            DeviceState::Lost(_) => "lost, waiting for it to return".into(),
            DeviceState::Failed(_) => "failed".into(),
            DeviceState::Closed => "disconnected".into(),
            DeviceState::File => "recording".into(),
        }
    }
}

/// Bytes and frames per second, from counter snapshots about a second apart.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    last: Option<(Instant, LinkStatsSnapshot)>,
    /// Bytes received per second.
    pub bytes_per_s: f64,
    /// Frames (or text lines) received per second.
    pub frames_per_s: f64,
}

impl Rates {
    fn update(&mut self, now: Instant, snapshot: LinkStatsSnapshot) {
        match self.last {
            Some((then, before)) => {
                let dt = now.duration_since(then).as_secs_f64();
                if dt >= 1.0 {
                    self.bytes_per_s = snapshot.bytes_rx.saturating_sub(before.bytes_rx) as f64 / dt;
                    self.frames_per_s = snapshot.frames_rx.saturating_sub(before.frames_rx) as f64 / dt;
                    self.last = Some((now, snapshot));
                }
            }
            None => self.last = Some((now, snapshot)),
        }
    }
}

/// One device as the window shows it.
pub struct DeviceEntry {
    /// Id tagging this device's events.
    pub id: u64,
    /// The source string it was opened with.
    pub source: String,
    /// Its state.
    pub state: DeviceState,
    /// Live data, once connected (kept across a reconnect of the same device).
    pub live: Option<LiveDevice>,
    /// Plot settings, once connected.
    pub plots: Option<PlotState>,
    /// How the plot panes are arranged.
    pub layout: PlotLayout,
    /// Link counters of the current connection.
    pub stats: Option<Arc<LinkStats>>,
    /// Whether it is a text board (the console can send to it).
    pub text: bool,
    /// Log lines and text lines, with host time.
    pub console: VecDeque<(f64, String)>,
    /// Rates for the connections panel.
    pub rates: Rates,
    /// The last refused command or recording outcome, shown until the next one.
    pub notice: Option<String>,
    /// The file being recorded to.
    pub recording: Option<std::path::PathBuf>,
    /// Copies of the protocol frames of the current connection, for the Inspect tab's capture list.
    pub frames: Option<FrameListener>,
    /// What the board reported about its messages, for decoding its frames.
    pub schema: Option<Arc<SchemaReport>>,
    /// For an MQTT source: the devices seen on status topics, online or offline.
    pub broker_statuses: Option<Arc<std::sync::Mutex<crate::mqtt::source::DeviceStatuses>>>,
    commands: mpsc::Sender<DeviceCommand>,
}

impl DeviceEntry {
    /// A device whose task listens on `commands`.
    pub fn new(id: u64, source: String, commands: mpsc::Sender<DeviceCommand>) -> Self {
        Self {
            id,
            source,
            state: DeviceState::Connecting(1),
            live: None,
            plots: None,
            layout: PlotLayout::new(id),
            stats: None,
            text: false,
            console: VecDeque::new(),
            rates: Rates::default(),
            notice: None,
            recording: None,
            frames: None,
            schema: None,
            broker_statuses: None,
            commands,
        }
    }

    /// Whether the device's task still runs.
    pub fn active(&self) -> bool {
        !matches!(self.state, DeviceState::Failed(_) | DeviceState::Closed | DeviceState::File)
    }

    /// Asks the task to disconnect (a full command queue means it is already going).
    pub fn disconnect(&self) {
        let _ = self.commands.try_send(DeviceCommand::Disconnect);
    }

    /// Starts recording to `path`, or stops the recording in progress.
    pub fn toggle_recording(&mut self, path: std::path::PathBuf) {
        let command =
            if self.recording.is_some() { DeviceCommand::StopRecording } else { DeviceCommand::StartRecording(path) };
        if self.commands.try_send(command).is_err() {
            self.notice = Some("the device is busy; try again".into());
        }
    }

    /// A file name for a new recording of this device, in the current folder.
    pub fn recording_path(&self) -> std::path::PathBuf {
        let name: String =
            self.source.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        std::path::PathBuf::from(format!("benchtop-{name}-{stamp}.csv"))
    }

    /// Sends bytes to a text board.
    pub fn send(&mut self, bytes: Vec<u8>) {
        if self.commands.try_send(DeviceCommand::Send(bytes)).is_err() {
            self.notice = Some("the board is busy; try again".into());
        }
    }

    /// Applies an event; `host_s` turns arrival instants into timeline seconds. Returns a message worth a
    /// toast (and whether it reports a failure).
    pub fn apply(&mut self, event: DeviceEvent, host_s: impl Fn(Instant) -> f64) -> Option<(bool, String)> {
        let toast = match &event {
            DeviceEvent::Failed(reason) => Some((true, format!("{}: {reason}", self.source))),
            DeviceEvent::Lost { reason } => {
                Some((true, format!("{}: {reason}. Benchtop reconnects when it is back.", self.source)))
            }
            DeviceEvent::Connected { .. }
                if matches!(self.state, DeviceState::Lost(_) | DeviceState::Connecting(2..)) =>
            {
                Some((false, format!("{} is back", self.source)))
            }
            DeviceEvent::Refused(reason) => Some((true, reason.clone())),
            // Threshold alerts of an MQTT source (`alert=temperature>30` in its URL).
            DeviceEvent::Telemetry(Telemetry::Log { line, .. })
                if line.level == firmware_protocol::LogLevel::Warn && line.text.starts_with("alert:") =>
            {
                Some((true, format!("{}: {}", self.source, line.text)))
            }
            DeviceEvent::Recording(RecordingStatus::Failed(reason)) => {
                Some((true, format!("Recording failed: {reason}")))
            }
            DeviceEvent::Recording(RecordingStatus::Stopped { path, samples }) => {
                Some((false, format!("Recorded {samples} samples to {}", path.display())))
            }
            _ => None,
        };
        match event {
            DeviceEvent::Connecting { attempt } => self.state = DeviceState::Connecting(attempt),
            DeviceEvent::Connected { info, stats, text } => {
                let same_device = self.live.as_ref().is_some_and(|live| live.info.device_id == info.device_id);
                match self.live.as_mut() {
                    // The same board back after a reconnect: keep its history, take its clock afresh.
                    Some(live) if same_device => live.clock.reset(),
                    _ => {
                        let live = LiveDevice::new(*info, SeriesLimits::default());
                        self.plots = Some(PlotState::for_device(&live));
                        self.live = Some(live);
                    }
                }
                self.stats = Some(stats);
                self.text = text;
                self.rates = Rates::default();
                self.state = DeviceState::Connected;
            }
            DeviceEvent::Telemetry(telemetry) => self.apply_telemetry(telemetry, host_s),
            DeviceEvent::Lost { reason } => self.state = DeviceState::Lost(reason),
            DeviceEvent::Failed(reason) => self.state = DeviceState::Failed(reason),
            DeviceEvent::Refused(reason) => self.notice = Some(reason),
            DeviceEvent::Recording(RecordingStatus::Started(path)) => {
                self.notice = None;
                self.recording = Some(path);
            }
            DeviceEvent::Recording(RecordingStatus::Stopped { path, samples }) => {
                self.recording = None;
                self.notice = Some(format!("Recorded {samples} samples to {}", path.display()));
            }
            DeviceEvent::Recording(RecordingStatus::Failed(reason)) => {
                self.recording = None;
                self.notice = Some(format!("Recording failed: {reason}"));
            }
            DeviceEvent::Frames(listener) => self.frames = Some(listener),
            DeviceEvent::Schema(report) => self.schema = Some(Arc::from(report)),
            DeviceEvent::BrokerStatuses(table) => self.broker_statuses = Some(table),
            DeviceEvent::Closed => self.state = DeviceState::Closed,
            DeviceEvent::Loaded(channels) => {
                let info = firmware_protocol::DeviceInfo {
                    protocol_version: 0,
                    device_id: 0,
                    firmware_version: firmware_protocol::FirmwareVersion { major: 0, minor: 0, patch: 0 },
                    hardware_revision: heapless::String::new(),
                    capabilities: firmware_protocol::Capabilities::empty(),
                    channels: heapless::Vec::new(),
                };
                let mut live = LiveDevice::new(info, SeriesLimits::default());
                for channel in &channels {
                    live.ingest_points(&channel.name, &channel.unit, &channel.points);
                }
                let mut plots = PlotState::for_device(&live);
                // A recording is looked at whole, not followed.
                plots.follow = false;
                plots.fit_all = true;
                self.plots = Some(plots);
                self.live = Some(live);
                self.state = DeviceState::File;
            }
        }
        toast
    }

    fn apply_telemetry(&mut self, telemetry: Telemetry, host_s: impl Fn(Instant) -> f64) {
        let Some(live) = self.live.as_mut() else { return };
        let line = match telemetry {
            Telemetry::Samples { batch, received_at } => return live.ingest_samples(&batch, host_s(received_at)),
            Telemetry::Current { batch, received_at } => return live.ingest_current(&batch, host_s(received_at)),
            Telemetry::Log { line, received_at } => {
                (host_s(received_at), format!("{:<5} {}", format!("{:?}", line.level).to_lowercase(), line.text))
            }
            Telemetry::Text { received_at, line, values } => {
                live.ingest_named(&values, host_s(received_at));
                if let Some(plots) = self.plots.as_mut() {
                    plots.sync(live);
                }
                (host_s(received_at), line)
            }
        };
        if self.console.len() == CONSOLE_LINES_KEPT {
            self.console.pop_front();
        }
        self.console.push_back(line);
    }

    /// Refreshes the rates from the link counters.
    pub fn tick(&mut self, now: Instant) {
        if let Some(stats) = &self.stats {
            self.rates.update(now, stats.snapshot());
        }
    }
}
