//! A simulated Benchtop peripheral in this process: the simulated board behind the Benchtop GATT service,
//! at an ATT MTU of the caller's choosing, so the protocol over GATT is tested without a radio.
//!
//! Each connection runs the board on a named thread with [`serve`], exactly as a pseudo-terminal does, but
//! the board's output leaves as notifications of at most `ATT MTU − 3` bytes cut without regard to frame
//! boundaries (as a firmware that streams its UART buffer would), and host writes longer than that are
//! refused and counted, as a real stack refuses them. The board, its clock and its committed configuration
//! outlive connections, so a reconnect finds the same device; the peripheral can also drop the connection
//! itself, as a board walking out of range does.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use firmware_protocol::ble::max_write_len;
use tokio::sync::mpsc;

use super::gatt_link::{GattPipe, gatt_link, gatt_pipe, split_for_mtu};
use crate::io::link::{Link, LinkError};
use crate::sim::serve::{POLL_INTERVAL, serve};
use crate::sim::{SimBoard, SimOptions};

/// Counters of a simulated peripheral, over all its connections.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    notifications: AtomicU64,
    largest_notification_bytes: AtomicU64,
    writes: AtomicU64,
    refused_writes: AtomicU64,
}

/// A copy of a simulated peripheral's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimPeripheralCounters {
    /// Connections made.
    pub connections: u64,
    /// TX notifications sent.
    pub notifications: u64,
    /// The longest notification value sent, in bytes.
    pub largest_notification_bytes: u64,
    /// RX writes taken.
    pub writes: u64,
    /// RX writes refused for being longer than `ATT MTU − 3`.
    pub refused_writes: u64,
}

struct Connection {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The simulated peripheral; see the module docs.
pub struct SimPeripheral {
    /// Held by the connection's thread while connected.
    board: Arc<Mutex<SimBoard>>,
    device_id: u64,
    clock: Instant,
    att_mtu: u16,
    counters: Arc<Counters>,
    connection: Mutex<Option<Connection>>,
}

impl SimPeripheral {
    /// A peripheral around a board built from `options`, connecting at `att_mtu` bytes.
    pub fn new(options: SimOptions, att_mtu: u16) -> Self {
        let board = SimBoard::new(options, 0);
        SimPeripheral {
            device_id: board.device_id(),
            board: Arc::new(Mutex::new(board)),
            clock: Instant::now(),
            att_mtu,
            counters: Arc::default(),
            connection: Mutex::new(None),
        }
    }

    /// The ATT MTU of its connections, in bytes.
    pub fn att_mtu(&self) -> u16 {
        self.att_mtu
    }

    /// The board's device id.
    pub fn device_id(&self) -> u64 {
        self.device_id
    }

    /// Its counters now.
    pub fn counters(&self) -> SimPeripheralCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &self.counters;
        SimPeripheralCounters {
            connections: get(&c.connections),
            notifications: get(&c.notifications),
            largest_notification_bytes: get(&c.largest_notification_bytes),
            writes: get(&c.writes),
            refused_writes: get(&c.refused_writes),
        }
    }

    /// Connects: subscribes the host to TX and starts the board on it. A connection still open is dropped
    /// first, as a peripheral that takes one central at a time does.
    pub fn connect(&self) -> Result<GattPipe, LinkError> {
        self.disconnect();
        let (pipe, end) = gatt_pipe(self.att_mtu);
        let stop = Arc::new(AtomicBool::new(false));
        let mut port = PeripheralPort {
            writes: end.writes,
            pending: Vec::new(),
            notifications: end.notifications,
            att_mtu: self.att_mtu,
            counters: self.counters.clone(),
        };
        let (board, clock, thread_stop) = (self.board.clone(), self.clock, stop.clone());
        let thread = std::thread::Builder::new()
            .name("sim-ble-peripheral".into())
            .spawn(move || {
                let mut board = lock(&board);
                let _ = serve(&mut board, &mut port, clock, &thread_stop, false);
            })
            .map_err(|_| LinkError::Thread("simulated BLE peripheral"))?;
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        *lock(&self.connection) = Some(Connection { stop, thread });
        Ok(pipe)
    }

    /// Connects and wraps the connection in a [`Link`]. Must run inside the tokio runtime.
    pub fn link(&self) -> Result<Link, LinkError> {
        Ok(gatt_link(self.connect()?))
    }

    /// Drops the connection from the peripheral's side (out of range, reset); the host's link closes.
    pub fn disconnect(&self) {
        let connection = lock(&self.connection).take();
        if let Some(connection) = connection {
            connection.stop.store(true, Ordering::Relaxed);
            let _ = connection.thread.join();
        }
    }
}

impl Drop for SimPeripheral {
    fn drop(&mut self) {
        self.disconnect();
    }
}

/// A poisoned lock only means a board thread panicked; the board itself is still whole enough to serve.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The board's end of one connection, as the byte stream [`serve`] reads and writes.
struct PeripheralPort {
    writes: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    notifications: mpsc::Sender<Vec<u8>>,
    att_mtu: u16,
    counters: Arc<Counters>,
}

impl Read for PeripheralPort {
    /// Waits at most one poll interval, like a serial port's read timeout.
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            match self.writes.try_recv() {
                Ok(write) if write.len() > max_write_len(self.att_mtu) => {
                    self.counters.refused_writes.fetch_add(1, Ordering::Relaxed);
                }
                Ok(write) => {
                    self.counters.writes.fetch_add(1, Ordering::Relaxed);
                    self.pending = write;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(0),
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(POLL_INTERVAL);
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

impl Write for PeripheralPort {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for piece in split_for_mtu(buf, self.att_mtu) {
            self.counters.notifications.fetch_add(1, Ordering::Relaxed);
            self.counters.largest_notification_bytes.fetch_max(piece.len() as u64, Ordering::Relaxed);
            self.notifications
                .blocking_send(piece.to_vec())
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
