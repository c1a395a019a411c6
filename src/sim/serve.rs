//! Running a [`SimBoard`] on a byte stream with the wall clock: a pseudo-terminal (`benchtop sim --pty`), TCP
//! connections (`benchtop sim --tcp`), or an in-process pipe (the `sim` source).
//!
//! Each board runs on its own named thread. Reads wait at most [`POLL_INTERVAL`] so telemetry keeps flowing
//! while the host is silent; a host that goes away is waited for (pty) or ends the connection (TCP).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::{SimBoard, SimOptions};

/// Longest the serving loop waits for host bytes before advancing the board.
pub const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// Most bytes kept waiting for a slow host before the oldest are dropped (about a second at 1 MS/s of current).
const MAX_UNSENT_BYTES: usize = 4 << 20;

/// Why a serving loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ServeEnd {
    /// Asked to stop.
    Stopped,
    /// The host closed the connection.
    HostClosed,
}

/// Bytes a UART-to-USB bridge buffers, sent as one burst when the line has been idle.
const UART_FIFO_BYTES: f64 = 64.0;

/// The pace of a UART: a pseudo-terminal moves bytes as fast as memory, a board's serial line at its baud
/// rate (10 bits a byte: start, 8 data, stop). Paced, the board takes in a request only once all of its
/// bytes could have arrived, and sends no faster than the line allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UartPace {
    bytes_per_s: f64,
}

impl UartPace {
    /// The pace of a line at `baud` bits per second.
    pub fn from_baud(baud: u32) -> Self {
        UartPace { bytes_per_s: f64::from(baud.max(10)) / 10.0 }
    }

    /// How long `bytes` take on the line.
    pub fn duration(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_s)
    }
}

/// Serves `board` on `port` until `stop` is set or the host closes the stream. With `wait_for_host`, errors
/// from a stream with no host on the other end (a pty whose terminal side is closed) are waited out.
pub fn serve(
    board: &mut SimBoard,
    port: &mut (impl Read + Write),
    clock: Instant,
    stop: &AtomicBool,
    wait_for_host: bool,
) -> io::Result<ServeEnd> {
    serve_paced(board, port, clock, stop, wait_for_host, None)
}

/// [`serve`], at the pace of a UART when `pace` is given.
pub fn serve_paced(
    board: &mut SimBoard,
    port: &mut (impl Read + Write),
    clock: Instant,
    stop: &AtomicBool,
    wait_for_host: bool,
    pace: Option<UartPace>,
) -> io::Result<ServeEnd> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024);
    let now_us = |clock: Instant| clock.elapsed().as_micros() as u64;
    // Bytes the line may send now (a token bucket that fills at the line's pace, up to the bridge's FIFO).
    let mut send_credit = UART_FIFO_BYTES;
    let mut credited_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match port.read(&mut buf) {
            Ok(0) if !wait_for_host => return Ok(ServeEnd::HostClosed),
            Ok(0) => std::thread::sleep(POLL_INTERVAL),
            Ok(n) => {
                if let Some(pace) = pace {
                    std::thread::sleep(pace.duration(n));
                }
                board.receive(&buf[..n], now_us(clock));
            }
            Err(e) if is_transient(&e) => {}
            Err(_) if wait_for_host => std::thread::sleep(Duration::from_millis(10)),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Ok(ServeEnd::HostClosed);
            }
            Err(e) => return Err(e),
        }
        board.poll(now_us(clock), &mut out);
        if out.len() > MAX_UNSENT_BYTES {
            // The host has not read for a long while: drop the oldest bytes, as a UART's FIFO overruns.
            // The host's decoder resynchronises at the next delimiter and counts the loss.
            out.drain(..out.len() - MAX_UNSENT_BYTES);
        }
        if out.is_empty() {
            continue;
        }
        let allowed = match pace {
            Some(pace) => {
                let now = Instant::now();
                let earned = now.duration_since(credited_at).as_secs_f64() * pace.bytes_per_s;
                send_credit = (send_credit + earned).min(UART_FIFO_BYTES);
                credited_at = now;
                if send_credit < 1.0 {
                    continue;
                }
                out.len().min(send_credit as usize)
            }
            None => out.len(),
        };
        // A pseudo-terminal holds only a few KiB; what does not fit now is kept for the next round rather
        // than dropped, as a host's USB-serial driver would have buffered it.
        match port.write(&out[..allowed]).and_then(|n| port.flush().map(|()| n)) {
            Ok(n) => {
                out.drain(..n);
                if pace.is_some() {
                    send_credit -= n as f64;
                }
            }
            Err(e) if is_transient(&e) => {}
            // No host on the terminal side: nobody will read what is pending.
            Err(_) if wait_for_host => out.clear(),
            Err(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) => {
                return Ok(ServeEnd::HostClosed);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(ServeEnd::Stopped)
}

fn is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}

/// A board served on a new pseudo-terminal.
pub struct PtyServer {
    path: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<ServeEnd>>>,
}

impl PtyServer {
    /// Creates the pseudo-terminal and starts the board on it.
    pub fn start(options: SimOptions) -> io::Result<Self> {
        Self::start_paced(options, None)
    }

    /// Creates the pseudo-terminal and starts the board on it, at the pace of a UART when `pace` is given.
    pub fn start_paced(options: SimOptions, pace: Option<UartPace>) -> io::Result<Self> {
        let (mut master, slave) = TTYPort::pair().map_err(io::Error::from)?;
        let path = slave.name().ok_or_else(|| io::Error::other("the pseudo-terminal has no path"))?;
        // The terminal side is closed again so that a host opens it exactly like a USB port.
        drop(slave);
        master.set_timeout(POLL_INTERVAL).map_err(io::Error::from)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new().name("sim-pty".into()).spawn(move || {
            let clock = Instant::now();
            let mut board = SimBoard::new(options, 0);
            serve_paced(&mut board, &mut master, clock, &thread_stop, true, pace)
        })?;
        Ok(Self { path, stop, thread: Some(thread) })
    }

    /// The terminal side's path, to open like a serial port (`/dev/pts/N`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Waits until the board stops (it runs until [`PtyServer::stop`] or an I/O error).
    pub fn wait(mut self) -> io::Result<ServeEnd> {
        self.join()
    }

    /// Stops the board.
    pub fn stop(mut self) -> io::Result<ServeEnd> {
        self.stop.store(true, Ordering::Relaxed);
        self.join()
    }

    fn join(&mut self) -> io::Result<ServeEnd> {
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| io::Error::other("the simulated board's thread panicked"))?,
            None => Ok(ServeEnd::Stopped),
        }
    }
}

impl Drop for PtyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.join();
    }
}

/// Boards served on TCP: each connection gets its own board (same seed, so the same device id), as if a
/// Wi-Fi board accepted one client at a time.
pub struct TcpServer {
    address: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TcpServer {
    /// Listens on `address` (port 0 picks a free port; see [`TcpServer::address`]).
    pub fn start(address: &str, options: SimOptions) -> io::Result<Self> {
        let listener = TcpListener::bind(address)?;
        let address = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new().name("sim-tcp-accept".into()).spawn(move || {
            let clock = Instant::now();
            let mut connection = 0u32;
            while !thread_stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        connection += 1;
                        let options = options.clone();
                        let stop = thread_stop.clone();
                        let _ = std::thread::Builder::new()
                            .name(format!("sim-tcp-{connection}"))
                            .spawn(move || serve_tcp(stream, options, clock, &stop));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        })?;
        Ok(Self { address, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_tcp(stream: TcpStream, options: SimOptions, clock: Instant, stop: &AtomicBool) -> io::Result<ServeEnd> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL_INTERVAL))?;
    let mut stream = stream;
    let now_us = clock.elapsed().as_micros() as u64;
    let mut board = SimBoard::new(options, now_us);
    serve(&mut board, &mut stream, clock, stop, false)
}
