//! A Nordic PPK2 on its serial port: finding it, opening it cleanly, and a reader thread that turns its
//! 100 kS/s word stream into blocks of current and logic samples.
//!
//! Opening follows what survives real units: stop any stream a killed session left running and drain the
//! stale bytes, ask for the metadata (retried; it arrives fragmented), refuse nothing silently (calibration
//! problems are reported with the ranges they spoil, which then read as NaN), set the regulator voltage and
//! the mode, then start. The reader thread does large blocking reads and hands decoded blocks over a bounded
//! channel (seconds deep). A consumer that falls further behind than that stalls the reader, the port's
//! buffers overflow, and the decoder sees the loss in the sample counter and the clock: the samples become a
//! gap of their exact length, never invented values.

use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::ports::list_ports;
use crate::ppk2::{
    Block, CalibrationProblem, Command, DecodeStats, Decoder, Metadata, Mode, metadata_complete, parse_metadata,
};

/// USB vendor id of Nordic Semiconductor.
pub const PPK2_VID: u16 = 0x1915;
/// USB product id of the PPK2.
pub const PPK2_PID: u16 = 0xC00A;
/// Samples per second the PPK2 streams.
pub const SAMPLE_RATE_HZ: f64 = 100_000.0;
/// Bytes per read: large reads are what keep up with 400 kB/s.
const READ_BYTES: usize = 64 * 1024;
/// How long the metadata may take to arrive, per attempt.
const METADATA_TIMEOUT: Duration = Duration::from_millis(1500);
/// Attempts at reading the metadata.
const METADATA_ATTEMPTS: usize = 3;
/// How often the reader hands a block over.
const BLOCK_INTERVAL: Duration = Duration::from_millis(20);

/// Which PPK2 to open, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Ppk2Options {
    /// `None`: the first PPK2 found by USB id that answers the metadata command.
    pub path: Option<String>,
    /// Ampere meter (measure a supply outside) or source meter (the PPK2 powers the device).
    pub mode: Mode,
    /// Regulator voltage in source mode, mV (800–5000).
    pub voltage_mv: u16,
}

impl Default for Ppk2Options {
    fn default() -> Self {
        Self { path: None, mode: Mode::Ampere, voltage_mv: 3300 }
    }
}

impl Ppk2Options {
    /// Reads the target of a `ppk2:` source: `auto` or a port path, then `?mode=ampere|source&voltage_mv=N`.
    pub fn parse(target: &str) -> Result<Self, Ppk2Error> {
        let (port, query) = target.split_once('?').unwrap_or((target, ""));
        let mut options = Self {
            path: match port.trim() {
                "" | "auto" => None,
                path => Some(path.to_string()),
            },
            ..Self::default()
        };
        for pair in query.split(['&', ',']).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "mode" => options.mode = parse_mode(value)?,
                "voltage_mv" => {
                    options.voltage_mv = value.parse().map_err(|_| {
                        Ppk2Error::Option(format!("voltage_mv `{value}` is not a number of millivolts (800–5000)"))
                    })?
                }
                _ => return Err(Ppk2Error::Option(format!("unknown option `{key}`; use mode= and voltage_mv="))),
            }
        }
        Command::set_voltage(options.voltage_mv).map_err(|e| Ppk2Error::Option(e.to_string()))?;
        Ok(options)
    }
}

/// `ampere` or `source`.
pub fn parse_mode(text: &str) -> Result<Mode, Ppk2Error> {
    match text {
        "ampere" | "ampere-meter" | "amp" => Ok(Mode::Ampere),
        "source" | "source-meter" | "smu" => Ok(Mode::Source),
        other => Err(Ppk2Error::Option(format!("mode `{other}` is not ampere or source"))),
    }
}

/// Why a PPK2 could not be used.
#[derive(Debug, Error)]
pub enum Ppk2Error {
    /// No PPK2 is plugged in (or none answered).
    #[error("no PPK2 found (USB 1915:c00a answering the metadata command); plug one in or give its port as ppk2:PATH")]
    NotFound,
    /// The port could not be opened.
    #[error("could not open the PPK2 port ({reason}); check that no other program (nRF Connect) holds it: {path}")]
    Open {
        /// The port.
        path: String,
        /// Why.
        reason: String,
    },
    /// The port failed while talking to it.
    #[error("the PPK2 stopped answering ({reason}); check the cable: {path}")]
    Io {
        /// The port.
        path: String,
        /// Why.
        reason: String,
    },
    /// No metadata came back.
    #[error(
        "the device did not answer the PPK2 metadata command after {METADATA_ATTEMPTS} tries; is this a PPK2's measurement port? {path}"
    )]
    NoMetadata {
        /// The port.
        path: String,
    },
    /// The metadata did not parse.
    #[error("the PPK2's metadata is unreadable ({reason}): {path}")]
    BadMetadata {
        /// The port.
        path: String,
        /// Why.
        reason: String,
    },
    /// A bad option in the source or on the command line.
    #[error("{0}")]
    Option(String),
}

/// What the reader thread sends.
#[derive(Debug)]
pub enum Ppk2Event {
    /// Decoded samples, in order, gaps included as NaN samples.
    Samples(Block),
    /// The port failed; the stream has ended.
    Lost(String),
}

/// An open, streaming PPK2.
pub struct Ppk2Stream {
    /// Port path.
    pub path: String,
    /// What the device said about itself.
    pub metadata: Metadata,
    /// Calibration problems (their ranges read as NaN).
    pub problems: Vec<CalibrationProblem>,
    /// Decoded blocks and the end of the stream.
    pub events: Receiver<Ppk2Event>,
    stats: Arc<Mutex<DecodeStats>>,
    commands: Box<dyn serialport::SerialPort>,
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn open_port(path: &str) -> Result<Box<dyn serialport::SerialPort>, Ppk2Error> {
    let mut port = serialport::new(path, 115_200)
        .timeout(Duration::from_millis(50))
        .open()
        .map_err(|e| Ppk2Error::Open { path: path.into(), reason: e.to_string() })?;
    // Windows needs DTR before the PPK2 sends anything; elsewhere it does no harm.
    let _ = port.write_data_terminal_ready(true);
    Ok(port)
}

fn send(port: &mut dyn serialport::SerialPort, path: &str, command: &Command) -> Result<(), Ppk2Error> {
    port.write_all(&command.bytes())
        .and_then(|()| port.flush())
        .map_err(|e| Ppk2Error::Io { path: path.into(), reason: e.to_string() })
}

/// Stops a stream left running and reads until the line is quiet; returns the stale bytes drained.
fn stop_and_drain(port: &mut dyn serialport::SerialPort, path: &str) -> Result<usize, Ppk2Error> {
    send(port, path, &Command::Stop)?;
    let mut drained = 0;
    let mut buffer = vec![0u8; READ_BYTES];
    let started = Instant::now();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_millis(100) && started.elapsed() < Duration::from_secs(3) {
        match port.read(&mut buffer) {
            Ok(0) => {}
            Ok(n) => {
                drained += n;
                quiet_since = Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => return Err(Ppk2Error::Io { path: path.into(), reason: e.to_string() }),
        }
    }
    Ok(drained)
}

/// Asks for the metadata until a complete reply arrives.
fn read_metadata(port: &mut dyn serialport::SerialPort, path: &str) -> Result<Metadata, Ppk2Error> {
    let mut buffer = vec![0u8; 4096];
    for _ in 0..METADATA_ATTEMPTS {
        send(port, path, &Command::GetMetadata)?;
        let mut reply = Vec::new();
        let started = Instant::now();
        while started.elapsed() < METADATA_TIMEOUT && !metadata_complete(&reply) {
            match port.read(&mut buffer) {
                Ok(n) => reply.extend_from_slice(&buffer[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(Ppk2Error::Io { path: path.into(), reason: e.to_string() }),
            }
        }
        if metadata_complete(&reply) {
            return parse_metadata(&reply)
                .map_err(|e| Ppk2Error::BadMetadata { path: path.into(), reason: e.to_string() });
        }
    }
    Err(Ppk2Error::NoMetadata { path: path.into() })
}

/// The port of the first PPK2 that answers the metadata command.
pub fn find_ppk2() -> Result<String, Ppk2Error> {
    let mut candidates: Vec<String> = list_ports()
        .into_iter()
        .filter(|p| p.vid == Some(PPK2_VID) && p.pid == Some(PPK2_PID))
        .map(|p| p.path)
        .collect();
    // The measurement port is the lower interface; ports list in path order, which follows it.
    candidates.sort();
    for path in candidates {
        let Ok(mut port) = open_port(&path) else { continue };
        if stop_and_drain(port.as_mut(), &path).is_ok() && read_metadata(port.as_mut(), &path).is_ok() {
            return Ok(path);
        }
    }
    Err(Ppk2Error::NotFound)
}

impl Ppk2Stream {
    /// Finds or opens the PPK2, configures it and starts streaming.
    pub fn open(options: &Ppk2Options) -> Result<Self, Ppk2Error> {
        let path = match &options.path {
            Some(path) => path.clone(),
            None => find_ppk2()?,
        };
        let mut port = open_port(&path)?;
        stop_and_drain(port.as_mut(), &path)?;
        let mut metadata = read_metadata(port.as_mut(), &path)?;
        let problems = metadata.calibration.problems();
        let voltage = Command::set_voltage(options.voltage_mv).map_err(|e| Ppk2Error::Option(e.to_string()))?;
        send(port.as_mut(), &path, &voltage)?;
        metadata.vdd_mv = options.voltage_mv;
        for command in crate::ppk2::mode_switch(options.mode) {
            send(port.as_mut(), &path, &command)?;
        }
        // Measuring means the device under test is on: in source mode the switch leaves its power off.
        send(port.as_mut(), &path, &Command::DutPower(true))?;
        let decoder = Decoder::new(crate::ppk2::Converter::new(&metadata.calibration, metadata.vdd_mv));
        let reader = port.try_clone().map_err(|e| Ppk2Error::Open { path: path.clone(), reason: e.to_string() })?;
        send(port.as_mut(), &path, &Command::Start)?;
        let (tx, events) = sync_channel(256);
        let running = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(Mutex::new(DecodeStats::default()));
        let thread = {
            let (running, stats) = (running.clone(), stats.clone());
            std::thread::Builder::new()
                .name("benchtop-ppk2-reader".into())
                .spawn(move || read_loop(reader, decoder, tx, running, stats))
                .map_err(|e| Ppk2Error::Open { path: path.clone(), reason: e.to_string() })?
        };
        Ok(Self { path, metadata, problems, events, stats, commands: port, running, thread: Some(thread) })
    }

    /// The decoder's counts so far (samples, lost samples, resyncs, …).
    pub fn stats(&self) -> DecodeStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends a command (DUT power, voltage, mode) while streaming.
    pub fn send(&mut self, command: &Command) -> Result<(), Ppk2Error> {
        send(self.commands.as_mut(), &self.path, command)
    }

    /// Stops the stream and the reader thread; the port closes when this is dropped.
    pub fn stop(&mut self) {
        let _ = send(self.commands.as_mut(), &self.path, &Command::Stop);
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Ppk2Stream {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_loop(
    mut port: Box<dyn serialport::SerialPort>,
    mut decoder: Decoder,
    tx: SyncSender<Ppk2Event>,
    running: Arc<AtomicBool>,
    stats: Arc<Mutex<DecodeStats>>,
) {
    let mut buffer = vec![0u8; READ_BYTES];
    let mut block = Block::default();
    let started = Instant::now();
    let mut last_send = Instant::now();
    loop {
        if !running.load(Ordering::Relaxed) {
            // The words held back for confirmation are released at the end.
            decoder.flush(&mut block);
            if let Ok(mut shared) = stats.lock() {
                *shared = decoder.stats();
            }
            if !block.is_empty() {
                let _ = tx.try_send(Ppk2Event::Samples(block));
            }
            return;
        }
        match port.read(&mut buffer) {
            Ok(n) => decoder.push(&buffer[..n], &mut block),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => {
                let _ = tx.send(Ppk2Event::Lost(e.to_string()));
                return;
            }
        }
        decoder.note_elapsed(started.elapsed().as_secs_f64());
        if last_send.elapsed() < BLOCK_INTERVAL || block.current_a.is_empty() {
            continue;
        }
        last_send = Instant::now();
        if let Ok(mut shared) = stats.lock() {
            *shared = decoder.stats();
        }
        let mut event = Ppk2Event::Samples(std::mem::take(&mut block));
        loop {
            match tx.try_send(event) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if running.load(Ordering::Relaxed) => {
                    event = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => return,
            }
        }
    }
}
