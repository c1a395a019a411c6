//! Running a [`Ppk2Emulator`] on a pseudo-terminal in real time: 100 kS/s, 400 kB/s, as a PPK2 on USB.
//!
//! One named thread (`ppk2-pty`) owns the emulator and the pty's master side. Each round it reads host bytes
//! for at most [`TICK`], answers them, and while streaming hands over the words due for the time elapsed
//! since the stream started, so chunks of a few hundred bytes go out every 2–4 ms. It never blocks for long:
//! a host that stops reading lets at most [`MAX_UNSENT_BYTES`] wait, and the samples due beyond that are
//! skipped with their counter advanced (counted in [`Ppk2Counters::overflow_samples`]), as the real unit
//! loses samples when USB does not keep up.
//!
//! The host is seen by the pty itself: with the terminal side closed the master's reads fail at once, with
//! it open they time out. On an open the emulator is told ([`Ppk2Emulator::host_opened`], for the stale
//! backlog); on a close it cuts DUT power and the unsent bytes are discarded. A stream left running while
//! nobody listens is not accumulated: it restarts at the wall clock when the next host comes.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

use super::waveform::SAMPLE_RATE_HZ;
use super::{Ppk2Counters, Ppk2Emulator, Ppk2Options};

/// Longest a round waits for host bytes (and for room to write) before producing the next chunk.
pub const TICK: Duration = Duration::from_millis(2);
/// Most bytes kept waiting for a slow host: about 160 ms of stream.
pub const MAX_UNSENT_BYTES: usize = 64 * 1024;
/// How long a round waits while no host has the port open.
const NO_HOST_WAIT: Duration = Duration::from_millis(10);

/// An emulated PPK2 being served; stops it when dropped.
pub struct Ppk2PtyHandle {
    stop: Arc<AtomicBool>,
    counters: Arc<Mutex<Ppk2Counters>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Ppk2PtyHandle {
    /// What the emulator has done so far (updated every round).
    pub fn counters(&self) -> Ppk2Counters {
        self.counters.lock().map(|c| *c).unwrap_or_default()
    }

    /// Serves until the process ends (the CLI's Ctrl-C): with the handle given up, nothing can stop it.
    pub fn wait(mut self) -> io::Result<()> {
        self.join()
    }

    /// Stops the emulator and returns its final counters.
    pub fn stop(mut self) -> io::Result<Ppk2Counters> {
        self.stop.store(true, Ordering::Relaxed);
        self.join()?;
        Ok(self.counters())
    }

    fn join(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| io::Error::other("the PPK2 emulator's thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Ppk2PtyHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.join();
    }
}

/// Creates a pseudo-terminal, serves an emulated PPK2 on it, and returns the path a host opens like a
/// serial port (`/dev/pts/N`) with the handle that stops it.
pub fn serve_pty(options: Ppk2Options) -> io::Result<(String, Ppk2PtyHandle)> {
    let (mut master, slave) = TTYPort::pair().map_err(io::Error::from)?;
    let path = slave.name().ok_or_else(|| io::Error::other("the pseudo-terminal has no path"))?;
    // The terminal side is closed again so that a host opens it exactly like a USB port.
    drop(slave);
    master.set_timeout(TICK).map_err(io::Error::from)?;
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Mutex::new(Ppk2Counters::default()));
    let (thread_stop, thread_counters) = (stop.clone(), counters.clone());
    let thread = std::thread::Builder::new().name("ppk2-pty".into()).spawn(move || {
        let mut emulator = Ppk2Emulator::new(options);
        serve(&mut emulator, &mut master, &thread_stop, &thread_counters)
    })?;
    Ok((path, Ppk2PtyHandle { stop, counters, thread: Some(thread) }))
}

/// The stream's wall-clock origin and how many samples have been handed over since.
struct StreamClock {
    started: Instant,
    samples_done: u64,
}

impl StreamClock {
    fn due(&self) -> u64 {
        let due_total = self.started.elapsed().as_micros() * u128::from(SAMPLE_RATE_HZ) / 1_000_000;
        u64::try_from(due_total).unwrap_or(u64::MAX).saturating_sub(self.samples_done)
    }
}

fn serve(
    emulator: &mut Ppk2Emulator,
    port: &mut (impl Read + Write),
    stop: &AtomicBool,
    counters: &Mutex<Ppk2Counters>,
) -> io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut unsent: Vec<u8> = Vec::with_capacity(MAX_UNSENT_BYTES);
    let mut host_present = false;
    let mut clock: Option<StreamClock> = None;
    while !stop.load(Ordering::Relaxed) {
        let host_now = match port.read(&mut buf) {
            Ok(n) => {
                let reply = emulator.receive(&buf[..n]);
                unsent.extend_from_slice(&reply);
                true
            }
            Err(e) if is_transient(&e) => true,
            // The terminal side is closed: no host.
            Err(_) => false,
        };
        if host_now != host_present {
            host_present = host_now;
            if host_present {
                emulator.host_opened();
            } else {
                emulator.host_closed();
                unsent.clear();
            }
            clock = None;
        }
        if !host_present {
            publish(counters, emulator);
            std::thread::sleep(NO_HOST_WAIT);
            continue;
        }
        if emulator.streaming() {
            let clock = clock.get_or_insert_with(|| StreamClock { started: Instant::now(), samples_done: 0 });
            let due = clock.due();
            let room = (MAX_UNSENT_BYTES.saturating_sub(unsent.len()) / 4) as u64;
            let sent_now = due.min(room);
            unsent.extend(emulator.produce(sent_now as usize));
            emulator.skip_samples(due - sent_now);
            clock.samples_done += due;
        } else {
            clock = None;
            unsent.extend(emulator.produce(0));
        }
        // An error means no room in the pty, or the host left: the read side tells which on the next round.
        if !unsent.is_empty()
            && let Ok(n) = port.write(&unsent)
        {
            unsent.drain(..n);
        }
        publish(counters, emulator);
    }
    Ok(())
}

fn publish(counters: &Mutex<Ppk2Counters>, emulator: &Ppk2Emulator) {
    if let Ok(mut shared) = counters.lock() {
        *shared = emulator.counters();
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted)
}
