//! A board of any kind: one that speaks the Benchtop protocol (a [`Session`]), one that prints text lines (a
//! [`TextBoard`]; also a BLE device without the Benchtop service, whose notifications become lines), an MQTT
//! subscription (an [`MqttBoard`]) or a CoAP resource (a [`CoapBoard`]), behind one type so that the window and
//! the recorder treat them alike.
//!
//! With [`BoardFormat::Detect`], opening probes the link: it sends a ping frame and watches what comes back.
//! A valid frame means a protocol board; a few complete text lines without one mean a text board. Nothing read
//! while probing is lost: the chunks are handed to whichever reader takes over.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use firmware_protocol::firmware::FrameWriter;
use firmware_protocol::postcard_rpc::Endpoint;
use firmware_protocol::{Capabilities, DeviceInfo, FirmwareVersion, FrameDecoder, PingEndpoint};
use tokio::sync::mpsc;

use super::capture::FrameListener;
use super::link::{Link, LinkCloser, LinkError, LinkStats};
use super::session::{Session, SessionError, SessionOptions, Telemetry, TelemetryStream};
use crate::coap::CoapBoard;
use crate::model::source::{BoardFormat, Source};
use crate::model::textline::{LineSplitter, TextDecoder, TextFormat};
use crate::mqtt::MqttBoard;

/// Longest a probe waits for a board to show what it speaks (boards that reset when the port opens take a
/// second or more to boot).
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(2500);
/// Complete lines without a frame after which a board is taken for a text board.
const TEXT_LINES_TO_DECIDE: usize = 3;

/// An open board.
pub enum Board {
    /// Speaks the Benchtop protocol.
    Protocol(Session),
    /// Prints text lines.
    Text(TextBoard),
    /// An MQTT subscription: one channel per topic.
    Mqtt(MqttBoard),
    /// A CoAP resource: one channel per resource (or field of it).
    Coap(CoapBoard),
}

/// A board and its telemetry, as opened.
pub struct OpenBoard {
    /// The board.
    pub board: Board,
    /// Its telemetry.
    pub telemetry: TelemetryStream,
}

impl Board {
    /// Opens `source`, probing what it speaks if the source does not say. Must run inside the tokio runtime.
    pub async fn open(source: &Source, options: SessionOptions, capacity: usize) -> Result<OpenBoard, SessionError> {
        if let Source::Mqtt(url) = source {
            let (board, telemetry) = MqttBoard::open(url, capacity).await?;
            return Ok(OpenBoard { board: Board::Mqtt(board), telemetry });
        }
        if let Source::Coap(url) = source {
            let (board, telemetry) = CoapBoard::open(url, capacity).await?;
            return Ok(OpenBoard { board: Board::Coap(board), telemetry });
        }
        let (mut link, format) = match source {
            Source::Serial { format, .. } | Source::Tcp { format, .. } => (Link::open(source).await?, *format),
            // A BLE device without the Benchtop service still plots: its notifications arrive as text lines.
            Source::Ble { device } => crate::ble::central::open_board_link(device).await.map_err(LinkError::from)?,
            _ => (Link::open(source).await?, BoardFormat::Protocol),
        };
        let (board, pending) = match format {
            BoardFormat::Protocol => (Kind::Protocol, Vec::new()),
            BoardFormat::Text(text) => (Kind::Text(text), Vec::new()),
            BoardFormat::Detect => probe(&mut link, PROBE_TIMEOUT).await,
        };
        match board {
            Kind::Protocol => {
                let session = Session::over_with(link, pending, options).await?;
                let telemetry = session.telemetry(capacity).await?;
                Ok(OpenBoard { board: Board::Protocol(session), telemetry })
            }
            Kind::Text(text) => {
                let (board, telemetry) = TextBoard::start(link, pending, text, &source.to_string(), capacity);
                Ok(OpenBoard { board: Board::Text(board), telemetry })
            }
        }
    }

    /// What the board says about itself (a text board: an id from its source, and no channels until named).
    pub fn info(&self) -> &DeviceInfo {
        match self {
            Board::Protocol(session) => session.info(),
            Board::Text(board) => &board.info,
            Board::Mqtt(board) => board.info(),
            Board::Coap(board) => board.info(),
        }
    }

    /// The link's counters.
    pub fn stats(&self) -> &Arc<LinkStats> {
        match self {
            Board::Protocol(session) => session.stats(),
            Board::Text(board) => &board.stats,
            Board::Mqtt(board) => board.stats(),
            Board::Coap(board) => board.stats(),
        }
    }

    /// Copies of what crosses the wire, for the Inspect tab's capture list: protocol frames, or received
    /// MQTT PUBLISH packets, or CoAP datagrams both ways; `None` for a text board.
    pub fn frames(&self) -> Option<FrameListener> {
        match self {
            Board::Protocol(session) => Some(session.frames()),
            Board::Text(_) => None,
            Board::Mqtt(board) => Some(board.frames()),
            Board::Coap(board) => Some(board.frames()),
        }
    }

    /// Whether channels are named as they appear (text boards and MQTT topics) rather than described.
    pub fn names_channels(&self) -> bool {
        !matches!(self, Board::Protocol(_))
    }
}

enum Kind {
    Protocol,
    Text(TextFormat),
}

/// Sends a ping and reads until a frame, a few text lines, or the timeout decides; returns what was read.
async fn probe(link: &mut Link, timeout: Duration) -> (Kind, Vec<Vec<u8>>) {
    let mut writer = FrameWriter::new();
    if let Ok(ping) = writer.topic_raw(PingEndpoint::REQ_KEY, &0u32) {
        let _ = link.outgoing.send(ping.to_vec()).await;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut decoder: Box<FrameDecoder> = Box::default();
    let mut chunks = Vec::new();
    let mut newlines = 0;
    let mut framed = false;
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, link.incoming.recv()).await {
        decoder.feed(&chunk, |_| framed = true);
        newlines += chunk.iter().filter(|&&b| b == b'\n').count();
        chunks.push(chunk);
        if framed || newlines >= TEXT_LINES_TO_DECIDE {
            break;
        }
    }
    // Silence is taken for a protocol board that has not booted yet: its requests retry and time out clearly.
    let kind = if framed || newlines == 0 { Kind::Protocol } else { Kind::Text(TextFormat::Auto) };
    (kind, chunks)
}

/// A board that prints text lines: each line is read for values and passed on whole.
pub struct TextBoard {
    info: DeviceInfo,
    stats: Arc<LinkStats>,
    outgoing: mpsc::Sender<Vec<u8>>,
    _closer: LinkCloser,
}

impl TextBoard {
    /// Starts reading `link` (after `pending` chunks) as text in `format`.
    pub fn start(
        link: Link,
        pending: Vec<Vec<u8>>,
        format: TextFormat,
        source: &str,
        capacity: usize,
    ) -> (TextBoard, TelemetryStream) {
        let Link { mut incoming, outgoing, stats, closer } = link;
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let task_stats = stats.clone();
        tokio::spawn(async move {
            let mut splitter = LineSplitter::default();
            let mut decoder = TextDecoder::new(format);
            let mut pending = pending.into_iter();
            loop {
                let chunk = match pending.next() {
                    Some(chunk) => chunk,
                    None => match incoming.recv().await {
                        Some(chunk) => chunk,
                        None => break,
                    },
                };
                for line in splitter.push(&chunk) {
                    let received_at = Instant::now();
                    let parsed = decoder.decode(&line.text);
                    task_stats.frames_rx.fetch_add(1, Ordering::Relaxed);
                    let message = Telemetry::Text { received_at, line: line.text, values: parsed.values };
                    match tx.try_send(message) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            task_stats.dropped_messages.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
                task_stats.discarded_bytes.store(splitter.discarded_bytes(), Ordering::Relaxed);
            }
        });
        let info = DeviceInfo {
            protocol_version: 0,
            device_id: fnv1a(source.as_bytes()),
            firmware_version: FirmwareVersion { major: 0, minor: 0, patch: 0 },
            hardware_revision: heapless::String::try_from("text").unwrap_or_default(),
            capabilities: Capabilities::empty(),
            channels: heapless::Vec::new(),
        };
        (TextBoard { info, stats, outgoing, _closer: closer }, TelemetryStream { rx })
    }

    /// Sends bytes to the board (a console line, with its ending).
    pub async fn send(&self, bytes: Vec<u8>) -> Result<(), SessionError> {
        self.outgoing.send(bytes).await.map_err(|_| SessionError::Closed)
    }
}

/// A stable 64-bit id for a board that has none of its own, from its source string.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
