//! One device's life on the I/O runtime: open, stream, and when the board vanishes, wait for it to come back
//! and reconnect, until the user disconnects.
//!
//! The window talks to it with [`DeviceCommand`]s and hears from it through [`DeviceEvent`]s on bounded
//! channels; the task wakes the window through a callback, never by waiting on it. A serial board is found
//! again by its USB serial number when it returns on another path (ttyACM0 → ttyACM1), else by its path.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use firmware_protocol::DeviceInfo;
use postcard_rpc::host_client::SchemaReport;
use tokio::sync::mpsc;

use super::board::{Board, OpenBoard};
use super::capture::FrameListener;
use super::link::LinkStats;
use super::ports::{find_by_serial_number, usb_serial_number};
use super::recorder::Recorder;
use super::replay::{RecordedChannel, read_recording};
use super::session::{SessionOptions, Telemetry};
use crate::model::live::LiveDevice;
use crate::model::series::SeriesLimits;
use crate::model::source::Source;

/// Longest a device task waits for a board's schema report (frames decode with the built-in table meanwhile).
const SCHEMA_TIMEOUT: Duration = Duration::from_secs(5);

/// What the window asks of a device task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceCommand {
    /// Send these bytes to a text board (a console line, hex bytes).
    Send(Vec<u8>),
    /// Start recording every channel to this file (CSV), until stopped; survives reconnects.
    StartRecording(PathBuf),
    /// Stop recording and close the file.
    StopRecording,
    /// Close the connection and end the task.
    Disconnect,
}

/// What a device task tells the window.
pub enum DeviceEvent {
    /// Trying to open the board (`attempt` counts from 1).
    Connecting {
        /// Which attempt.
        attempt: u32,
    },
    /// The board is open.
    Connected {
        /// Its description (a text board's grows as it names channels).
        info: Box<DeviceInfo>,
        /// Its link's counters.
        stats: Arc<LinkStats>,
        /// Whether it prints text rather than speaking the protocol.
        text: bool,
    },
    /// Telemetry from the board.
    Telemetry(Telemetry),
    /// Copies of the protocol frames the board sends and receives from now on, or of the PUBLISH packets an
    /// MQTT source receives (sent once per connection right after [`DeviceEvent::Connected`]; not for text
    /// boards).
    Frames(FrameListener),
    /// What the board reported about its endpoints and topics (postcard-rpc's schema report), for decoding
    /// its frames; sent once per connection when the board answers.
    Schema(Box<SchemaReport>),
    /// An MQTT source's table of device statuses (`online`/`offline` on status topics), kept up to date.
    BrokerStatuses(std::sync::Arc<std::sync::Mutex<crate::mqtt::source::DeviceStatuses>>),
    /// The board went away; the task waits for it to return.
    Lost {
        /// Why, in a sentence.
        reason: String,
    },
    /// The board could not be opened and the task gave up.
    Failed(String),
    /// A command could not be carried out (the board stays connected).
    Refused(String),
    /// A recording started, stopped or failed.
    Recording(RecordingStatus),
    /// A recording file was read (`file:` sources); the task has ended.
    Loaded(Vec<RecordedChannel>),
    /// The user disconnected; the task has ended.
    Closed,
}

/// What happened to a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingStatus {
    /// Writing to this file.
    Started(PathBuf),
    /// Closed, with what was written.
    Stopped {
        /// The file.
        path: PathBuf,
        /// Samples written.
        samples: u64,
    },
    /// Could not write; the rows before the failure are in the file.
    Failed(String),
}

/// A recording in progress inside a device task.
struct ActiveRecording {
    path: PathBuf,
    recorder: Recorder,
    /// Places telemetry on the recording's timeline (seconds since it started).
    placer: LiveDevice,
    started: Instant,
}

impl ActiveRecording {
    fn start(path: PathBuf, info: &DeviceInfo) -> Result<Self, String> {
        let recorder = Recorder::create(&path).map_err(|e| e.to_string())?;
        let placer = LiveDevice::new(info.clone(), SeriesLimits { raw_samples: 1, blocks_per_level: 1 });
        Ok(Self { path, recorder, placer, started: Instant::now() })
    }

    fn write(&mut self, telemetry: &Telemetry) -> Result<(), String> {
        let origin = self.started;
        let host_s = |at: Instant| at.saturating_duration_since(origin).as_secs_f64();
        let placed = match telemetry {
            Telemetry::Samples { batch, received_at } => {
                self.placer.place_samples(batch, host_s(*received_at)).into_iter().collect()
            }
            Telemetry::Current { batch, received_at } => {
                self.placer.place_current(batch, host_s(*received_at)).into_iter().collect()
            }
            Telemetry::Text { values, received_at, .. } => self.placer.place_named(values, host_s(*received_at)),
            Telemetry::Log { .. } => Vec::new(),
        };
        for placed in placed {
            self.recorder.write(&self.placer, &placed).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn stop(self) -> RecordingStatus {
        let path = self.path;
        match self.recorder.finish() {
            Ok(summary) => RecordingStatus::Stopped { path, samples: summary.samples },
            Err(e) => RecordingStatus::Failed(e.to_string()),
        }
    }
}

/// How a device task behaves.
#[derive(Debug, Clone, Copy)]
pub struct DeviceTaskOptions {
    /// Session timeouts and retries.
    pub session: SessionOptions,
    /// Wait for a vanished board and reconnect.
    pub reconnect: bool,
    /// Time between attempts while waiting.
    pub retry_interval: Duration,
    /// Telemetry messages queued from the board.
    pub telemetry_capacity: usize,
}

impl Default for DeviceTaskOptions {
    fn default() -> Self {
        Self {
            session: SessionOptions::default(),
            reconnect: true,
            retry_interval: Duration::from_millis(500),
            telemetry_capacity: 4096,
        }
    }
}

/// Where a device task's events go: one bounded channel shared by all devices, tagged with the device's id,
/// and a callback that wakes the window.
#[derive(Clone)]
pub struct EventSink {
    /// The device's id in the window.
    pub device: u64,
    /// The channel.
    pub tx: mpsc::Sender<(u64, DeviceEvent)>,
    /// Wakes the window (for egui: `request_repaint_after`).
    pub wake: Arc<dyn Fn() + Send + Sync>,
}

impl EventSink {
    /// Delivers a state change, waiting for room if the window is behind; false once nobody listens.
    pub async fn state(&self, event: DeviceEvent) -> bool {
        let delivered = self.tx.send((self.device, event)).await.is_ok();
        (self.wake)();
        delivered
    }

    /// Delivers telemetry without waiting; a full queue drops it and returns false.
    pub fn telemetry(&self, telemetry: Telemetry) -> bool {
        let delivered = self.tx.try_send((self.device, DeviceEvent::Telemetry(telemetry))).is_ok();
        (self.wake)();
        delivered
    }

    fn closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Runs a device until the user disconnects (or, without reconnect, until it goes away).
pub async fn run_device(
    source: Source,
    options: DeviceTaskOptions,
    mut commands: mpsc::Receiver<DeviceCommand>,
    sink: EventSink,
) {
    if let Source::Other { kind: "file", target } = &source {
        let path = std::path::PathBuf::from(target);
        let event = match tokio::task::spawn_blocking(move || read_recording(&path)).await {
            Ok(Ok(channels)) => DeviceEvent::Loaded(channels),
            Ok(Err(error)) => DeviceEvent::Failed(error.to_string()),
            Err(_) => DeviceEvent::Failed("reading the recording stopped unexpectedly".into()),
        };
        sink.state(event).await;
        return;
    }
    let mut current = source.clone();
    let mut serial_number: Option<String> = None;
    let mut attempt = 0u32;
    let mut ever_connected = false;
    let mut recording: Option<ActiveRecording> = None;
    loop {
        attempt += 1;
        if !sink.state(DeviceEvent::Connecting { attempt }).await {
            return;
        }
        let opened = Board::open(&current, options.session, options.telemetry_capacity).await;
        let OpenBoard { board, mut telemetry } = match opened {
            Ok(opened) => opened,
            Err(error) if !ever_connected || !options.reconnect => {
                sink.state(DeviceEvent::Failed(error.to_string())).await;
                return;
            }
            Err(_) => {
                // Still gone: wait, then look again (by serial number first).
                if wait_or_disconnect(&mut commands, options.retry_interval, &mut recording, &sink).await {
                    sink.state(DeviceEvent::Closed).await;
                    return;
                }
                current = relocate(&source, serial_number.as_deref());
                continue;
            }
        };
        ever_connected = true;
        attempt = 0;
        if let Source::Serial { path: Some(path), .. } = &current {
            serial_number = usb_serial_number(path).or(serial_number);
        }
        let stats = board.stats().clone();
        let text = board.names_channels();
        if let Some(active) = recording.as_mut() {
            active.placer.clock.reset();
        }
        if !sink
            .state(DeviceEvent::Connected { info: Box::new(board.info().clone()), stats: stats.clone(), text })
            .await
        {
            return;
        }
        if let Some(frames) = board.frames()
            && !sink.state(DeviceEvent::Frames(frames)).await
        {
            return;
        }
        if let Board::Mqtt(mqtt) = &board
            && !sink.state(DeviceEvent::BrokerStatuses(mqtt.status_table())).await
        {
            return;
        }
        if let Board::Protocol(session) = &board {
            // The report takes a moment to gather; telemetry flows meanwhile.
            let (client, sink) = (session.client().clone(), sink.clone());
            tokio::spawn(async move {
                if let Ok(Ok(report)) = tokio::time::timeout(SCHEMA_TIMEOUT, client.get_schema_report()).await {
                    sink.state(DeviceEvent::Schema(Box::new(report))).await;
                }
            });
        }
        let reason = loop {
            tokio::select! {
                message = telemetry.rx.recv() => match message {
                    Some(message) => {
                        if let Some(active) = recording.as_mut()
                            && let Err(reason) = active.write(&message)
                        {
                            recording = None;
                            sink.state(DeviceEvent::Recording(RecordingStatus::Failed(reason))).await;
                        }
                        if !sink.telemetry(message) {
                            if sink.closed() {
                                return;
                            }
                            stats.dropped_messages.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    None => break "the board stopped answering; it may have been unplugged or reset".to_string(),
                },
                command = commands.recv() => match command {
                    None | Some(DeviceCommand::Disconnect) => {
                        drop(board);
                        if let Some(active) = recording.take() {
                            sink.state(DeviceEvent::Recording(active.stop())).await;
                        }
                        sink.state(DeviceEvent::Closed).await;
                        return;
                    }
                    Some(DeviceCommand::StartRecording(path)) => {
                        if let Some(active) = recording.take() {
                            sink.state(DeviceEvent::Recording(active.stop())).await;
                        }
                        let status = match ActiveRecording::start(path.clone(), board.info()) {
                            Ok(active) => {
                                recording = Some(active);
                                RecordingStatus::Started(path)
                            }
                            Err(reason) => RecordingStatus::Failed(reason),
                        };
                        sink.state(DeviceEvent::Recording(status)).await;
                    }
                    Some(DeviceCommand::StopRecording) => {
                        if let Some(active) = recording.take() {
                            sink.state(DeviceEvent::Recording(active.stop())).await;
                        }
                    }
                    Some(DeviceCommand::Send(bytes)) => match &board {
                        Board::Text(text) => {
                            if let Err(e) = text.send(bytes).await {
                                sink.state(DeviceEvent::Refused(e.to_string())).await;
                            }
                        }
                        Board::Protocol(_) => {
                            let reason = "this board speaks the Benchtop protocol; raw bytes would corrupt its frames";
                            sink.state(DeviceEvent::Refused(reason.into())).await;
                        }
                        Board::Mqtt(_) => {
                            let reason = "an MQTT source only subscribes; publish with mosquitto_pub or a bridge";
                            sink.state(DeviceEvent::Refused(reason.into())).await;
                        }
                        Board::Coap(_) => {
                            let reason = "a CoAP source reads its resource; write with PUT or POST (benchtop coap put)";
                            sink.state(DeviceEvent::Refused(reason.into())).await;
                        }
                    },
                },
            }
        };
        drop(board);
        if !options.reconnect {
            sink.state(DeviceEvent::Failed(reason)).await;
            return;
        }
        if !sink.state(DeviceEvent::Lost { reason }).await {
            return;
        }
        if wait_or_disconnect(&mut commands, options.retry_interval, &mut recording, &sink).await {
            sink.state(DeviceEvent::Closed).await;
            return;
        }
        current = relocate(&source, serial_number.as_deref());
    }
}

/// Waits `interval`; true if the user disconnected meanwhile. A recording stays open while the board is away
/// (stopping it is honoured; nothing can be sent or started).
async fn wait_or_disconnect(
    commands: &mut mpsc::Receiver<DeviceCommand>,
    interval: Duration,
    recording: &mut Option<ActiveRecording>,
    sink: &EventSink,
) -> bool {
    let deadline = tokio::time::Instant::now() + interval;
    loop {
        match tokio::time::timeout_at(deadline, commands.recv()).await {
            Err(_) => return false,
            Ok(None) | Ok(Some(DeviceCommand::Disconnect)) => {
                if let Some(active) = recording.take() {
                    sink.state(DeviceEvent::Recording(active.stop())).await;
                }
                return true;
            }
            Ok(Some(DeviceCommand::StopRecording)) => {
                if let Some(active) = recording.take() {
                    sink.state(DeviceEvent::Recording(active.stop())).await;
                }
            }
            Ok(Some(DeviceCommand::StartRecording(_))) => {
                let reason = "the board is not connected; start the recording once it is back".to_string();
                sink.state(DeviceEvent::Recording(RecordingStatus::Failed(reason))).await;
            }
            Ok(Some(DeviceCommand::Send(_))) => {}
        }
    }
}

/// The source to try next: the port now carrying the board's USB serial number, else the original.
fn relocate(original: &Source, serial_number: Option<&str>) -> Source {
    match (original, serial_number.and_then(find_by_serial_number)) {
        (Source::Serial { baud, format, lines, .. }, Some(path)) => {
            Source::Serial { path: Some(path), baud: *baud, format: *format, lines: *lines }
        }
        _ => original.clone(),
    }
}
