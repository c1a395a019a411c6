//! Links: a byte pipe to a device, whatever carries it.
//!
//! Every link is the same pair of bounded channels — byte chunks in, byte chunks out — with the transport
//! behind them: a named reader and a named writer thread for a serial port (serialport reads block), tokio
//! tasks for TCP and BLE (GATT notifications and writes, see [`crate::ble::gatt_link`]), and a named thread
//! running the simulated board for the in-process `sim` source. When the
//! transport fails or the device vanishes, the incoming channel closes; the session above sees that.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::model::source::{ControlLines, Source};
use crate::sim::serve::serve;
use crate::sim::{Faults, SimBoard, SimOptions};

/// Chunks queued in each direction. A chunk is one read (up to 64 KiB), so this bounds memory at a few MiB.
pub const LINK_QUEUE_CHUNKS: usize = 64;
const READ_BUFFER_BYTES: usize = 64 * 1024;
const SERIAL_READ_TIMEOUT: Duration = Duration::from_millis(20);

/// Counters of a link, shared with whoever displays them.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Bytes received.
    pub bytes_rx: AtomicU64,
    /// Bytes sent.
    pub bytes_tx: AtomicU64,
    /// Good frames received.
    pub frames_rx: AtomicU64,
    /// Frames with a bad checksum.
    pub bad_checksums: AtomicU64,
    /// Frames that were not valid COBS or too long.
    pub malformed_frames: AtomicU64,
    /// Bytes thrown away while resynchronising.
    pub discarded_bytes: AtomicU64,
    /// Telemetry messages dropped because the consumer's queue was full.
    pub dropped_messages: AtomicU64,
}

/// A copy of [`LinkStats`] at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkStatsSnapshot {
    /// Bytes received.
    pub bytes_rx: u64,
    /// Bytes sent.
    pub bytes_tx: u64,
    /// Good frames received.
    pub frames_rx: u64,
    /// Frames with a bad checksum.
    pub bad_checksums: u64,
    /// Frames that were not valid COBS or too long.
    pub malformed_frames: u64,
    /// Bytes thrown away while resynchronising.
    pub discarded_bytes: u64,
    /// Telemetry messages dropped because the consumer's queue was full.
    pub dropped_messages: u64,
}

impl LinkStats {
    /// The counters now.
    pub fn snapshot(&self) -> LinkStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LinkStatsSnapshot {
            bytes_rx: get(&self.bytes_rx),
            bytes_tx: get(&self.bytes_tx),
            frames_rx: get(&self.frames_rx),
            bad_checksums: get(&self.bad_checksums),
            malformed_frames: get(&self.malformed_frames),
            discarded_bytes: get(&self.discarded_bytes),
            dropped_messages: get(&self.dropped_messages),
        }
    }
}

impl LinkStatsSnapshot {
    /// Frames lost to corruption of any kind.
    pub fn decode_errors(&self) -> u64 {
        self.bad_checksums + self.malformed_frames
    }
}

/// Why a link could not be opened.
#[derive(Debug, Error)]
pub enum LinkError {
    /// The serial port did not open.
    #[error(
        "could not open serial port {path}: {reason}. Check that the board is plugged in and no other program has the port open"
    )]
    Serial {
        /// Port path.
        path: String,
        /// The system's reason.
        reason: String,
    },
    /// `serial:auto` found nothing.
    #[error("no USB serial port found; plug the board in or name the port (serial:/dev/ttyACM0)")]
    NoSerialPort,
    /// TCP connection failed.
    #[error(
        "could not connect to {address}: {reason}. Check that the board (or `benchtop sim --tcp`) is listening there"
    )]
    Tcp {
        /// Address.
        address: String,
        /// The system's reason.
        reason: String,
    },
    /// The simulated board's options were wrong.
    #[error("bad simulated board options: {0}")]
    Sim(String),
    /// A source kind this build cannot open yet.
    #[error("{kind} sources are not available in this version of Benchtop")]
    Unsupported {
        /// The kind.
        kind: &'static str,
    },
    /// A source that is not a byte stream (MQTT, CoAP), asked for where only a device link will do.
    #[error("a {kind} source is not a device link: {hint}")]
    NotALink {
        /// The kind.
        kind: &'static str,
        /// Where it works instead.
        hint: &'static str,
    },
    /// Bluetooth did not work, or the device is not a Benchtop board.
    #[error(transparent)]
    Ble(#[from] crate::ble::BleError),
    /// A thread could not be started.
    #[error("could not start the {0} thread")]
    Thread(&'static str),
}

/// An open byte pipe to a device.
pub struct Link {
    /// Chunks of received bytes; closes when the device is gone.
    pub incoming: mpsc::Receiver<Vec<u8>>,
    /// Chunks of bytes to send.
    pub outgoing: mpsc::Sender<Vec<u8>>,
    /// Counters.
    pub stats: Arc<LinkStats>,
    /// Ends the link's threads when dropped.
    pub closer: LinkCloser,
}

/// Tells a link's threads to end when dropped.
pub struct LinkCloser(Arc<AtomicBool>);

impl Drop for LinkCloser {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Link {
    /// Opens the link a source names. Must run inside the tokio runtime.
    pub async fn open(source: &Source) -> Result<Link, LinkError> {
        match source {
            Source::Sim { seed, faults } => {
                let faults = Faults::parse(faults).map_err(|e| LinkError::Sim(e.to_string()))?;
                Self::sim(SimOptions { seed: *seed, faults })
            }
            Source::Serial { path, baud, lines, .. } => {
                let path = match path {
                    Some(path) => path.clone(),
                    None => first_usb_serial_port().ok_or(LinkError::NoSerialPort)?,
                };
                Self::serial(&path, *baud, *lines)
            }
            Source::Tcp { address, .. } => Self::tcp(address).await,
            Source::Mqtt(_) => Err(LinkError::Unsupported { kind: "mqtt" }),
            Source::Coap(_) => Err(LinkError::NotALink {
                kind: "CoAP",
                hint: "read it with `benchtop coap get URI`, list the server's resources with `benchtop coap discover`, record it with `benchtop record`, or open it in the window",
            }),
            Source::Ble { device } => Ok(crate::ble::central::open_link(device).await?),
            Source::Other { kind, .. } => Err(LinkError::Unsupported { kind }),
        }
    }

    /// A link and the transport's ends of its two queues: where received chunks go, where chunks to send come from.
    pub(crate) fn new_parts() -> (Self, mpsc::Sender<Vec<u8>>, mpsc::Receiver<Vec<u8>>) {
        let (in_tx, in_rx) = mpsc::channel(LINK_QUEUE_CHUNKS);
        let (out_tx, out_rx) = mpsc::channel(LINK_QUEUE_CHUNKS);
        let link = Link {
            incoming: in_rx,
            outgoing: out_tx,
            stats: Arc::new(LinkStats::default()),
            closer: LinkCloser(Arc::new(AtomicBool::new(false))),
        };
        (link, in_tx, out_rx)
    }

    /// A serial port: blocking reads with a short timeout on a named thread, writes on another. `lines` sets
    /// DTR and RTS as the port opens (held low, a board that resets on them keeps running).
    pub fn serial(path: &str, baud: u32, lines: ControlLines) -> Result<Link, LinkError> {
        let serial_error = |e: serialport::Error| LinkError::Serial { path: path.to_string(), reason: e.to_string() };
        let mut reader = open_serial(path, baud).map_err(serial_error)?;
        // Right after open, as serialport's own `dtr_on_open` does. A port without modem control lines (a
        // pseudo-terminal, some adapters) cannot reset a board through them either, so refusal is not an error.
        if let Some(dtr) = lines.dtr
            && let Err(e) = reader.write_data_terminal_ready(dtr)
        {
            tracing::debug!("{path}: DTR not set: {e}");
        }
        if let Some(rts) = lines.rts
            && let Err(e) = reader.write_request_to_send(rts)
        {
            tracing::debug!("{path}: RTS not set: {e}");
        }
        let mut writer = reader.try_clone().map_err(serial_error)?;
        // A board that was streaming before we opened has left half a frame in the buffer; the decoder
        // would discard it, but clearing it keeps the statistics about this session.
        let _ = reader.clear(serialport::ClearBuffer::Input);
        let (link, in_tx, mut out_rx) = Self::new_parts();
        let (stats, closed) = (link.stats.clone(), link.closer.0.clone());
        std::thread::Builder::new()
            .name(format!("serial-rx {path}"))
            .spawn(move || {
                let mut buf = vec![0u8; READ_BUFFER_BYTES];
                while !closed.load(Ordering::Relaxed) {
                    match reader.read(&mut buf) {
                        Ok(0) => {}
                        Ok(n) => {
                            stats.bytes_rx.fetch_add(n as u64, Ordering::Relaxed);
                            if in_tx.blocking_send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            if in_tx.is_closed() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        // The port vanished (unplugged) or failed: closing `in_tx` tells the session.
                        Err(_) => break,
                    }
                }
            })
            .map_err(|_| LinkError::Thread("serial reader"))?;
        let stats = link.stats.clone();
        std::thread::Builder::new()
            .name(format!("serial-tx {path}"))
            .spawn(move || {
                while let Some(bytes) = out_rx.blocking_recv() {
                    if writer.write_all(&bytes).and_then(|()| writer.flush()).is_err() {
                        break;
                    }
                    stats.bytes_tx.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                }
            })
            .map_err(|_| LinkError::Thread("serial writer"))?;
        Ok(link)
    }

    /// A TCP board.
    pub async fn tcp(address: &str) -> Result<Link, LinkError> {
        let tcp_error = |e: std::io::Error| LinkError::Tcp { address: address.to_string(), reason: e.to_string() };
        let stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(address))
            .await
            .map_err(|_| tcp_error(std::io::Error::from(std::io::ErrorKind::TimedOut)))?
            .map_err(tcp_error)?;
        let _ = stream.set_nodelay(true);
        let (mut read_half, mut write_half) = stream.into_split();
        let (link, in_tx, mut out_rx) = Self::new_parts();
        let stats = link.stats.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; READ_BUFFER_BYTES];
            loop {
                match read_half.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        stats.bytes_rx.fetch_add(n as u64, Ordering::Relaxed);
                        if in_tx.send(buf[..n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let stats = link.stats.clone();
        tokio::spawn(async move {
            while let Some(bytes) = out_rx.recv().await {
                if write_half.write_all(&bytes).await.is_err() {
                    break;
                }
                stats.bytes_tx.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
        });
        Ok(link)
    }

    /// The simulated board in this process, on its own named thread.
    pub fn sim(options: SimOptions) -> Result<Link, LinkError> {
        let (link, in_tx, out_rx) = Self::new_parts();
        let mut port = ChannelPort { rx: out_rx, pending: Vec::new(), tx: in_tx, stats: link.stats.clone() };
        let closed = link.closer.0.clone();
        std::thread::Builder::new()
            .name("sim-board".into())
            .spawn(move || {
                let clock = Instant::now();
                let mut board = SimBoard::new(options, 0);
                let _ = serve(&mut board, &mut port, clock, &closed, false);
            })
            .map_err(|_| LinkError::Thread("simulated board"))?;
        Ok(link)
    }
}

/// The board's end of an in-process link, as a byte stream.
struct ChannelPort {
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    tx: mpsc::Sender<Vec<u8>>,
    stats: Arc<LinkStats>,
}

impl Read for ChannelPort {
    /// Waits at most one poll interval, like a serial port's read timeout.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            match self.rx.try_recv() {
                Ok(bytes) => {
                    self.stats.bytes_tx.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    self.pending = bytes;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(0),
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(crate::sim::serve::POLL_INTERVAL);
                    return Err(std::io::ErrorKind::TimedOut.into());
                }
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Write for ChannelPort {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stats.bytes_rx.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.tx.blocking_send(buf.to_vec()).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The first USB serial port the system lists.
pub fn first_usb_serial_port() -> Option<String> {
    serialport::available_ports()
        .ok()?
        .into_iter()
        .find(|port| matches!(port.port_type, serialport::SerialPortType::UsbPort(_)))
        .map(|port| port.port_name)
}

/// How long an open waits for a port that a closing session of this process still holds.
const SERIAL_LOCK_WAIT: Duration = Duration::from_millis(1500);

/// Opens a serial port. A port locked by a session that is closing (its threads let go within a read
/// timeout) is tried again for a moment, so closing and reopening a port, as a provisioning station does
/// between steps, never fails; a port another program holds still fails after [`SERIAL_LOCK_WAIT`].
fn open_serial(path: &str, baud: u32) -> Result<Box<dyn serialport::SerialPort>, serialport::Error> {
    let started = std::time::Instant::now();
    loop {
        match serialport::new(path, baud).timeout(SERIAL_READ_TIMEOUT).open() {
            Err(e) if e.description.contains("exclusive lock") && started.elapsed() < SERIAL_LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
