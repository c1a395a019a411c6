#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Boards that print text lines, on a real pseudo-terminal: detected without being told, read in the
//! Arduino serial-plotter format or as CSV, values named by their labels.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use benchtop::io::{Board, SessionOptions, Telemetry};
use benchtop::model::source::Source;
use serialport::{SerialPort, TTYPort};

/// A text board: prints `lines(n)` every 10 ms on the master side of a pty until dropped.
struct TextBoardPty {
    path: String,
    stop: Arc<AtomicBool>,
}

impl TextBoardPty {
    fn start(line: fn(u32) -> String) -> Self {
        let (mut master, slave) = TTYPort::pair().unwrap();
        let path = slave.name().unwrap();
        drop(slave);
        master.set_timeout(Duration::from_millis(10)).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !thread_stop.load(Ordering::Relaxed) {
                // Nobody on the other end yet (EIO) or a full buffer: a UART just drops it.
                let _ = master.write_all(line(n).as_bytes());
                let mut discard = [0u8; 256];
                let _ = std::io::Read::read(&mut master, &mut discard);
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { path, stop }
    }
}

impl Drop for TextBoardPty {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn values(source: &str, lines_wanted: usize) -> Vec<Vec<(String, f64)>> {
    let source = Source::parse(source).unwrap();
    let mut opened = Board::open(&source, SessionOptions::default(), 1024).await.unwrap();
    assert!(matches!(opened.board, Board::Text(_)), "taken for a protocol board");
    let mut seen = Vec::new();
    while seen.len() < lines_wanted {
        let message = tokio::time::timeout(Duration::from_secs(5), opened.telemetry.rx.recv()).await.unwrap().unwrap();
        if let Telemetry::Text { values, .. } = message
            && !values.is_empty()
        {
            seen.push(values);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plotter_board_is_detected_and_read_by_label() {
    let board = TextBoardPty::start(|n| format!("temp:{}.5,hum:{} bat:3.7\r\n", 20 + n % 5, 40 + n % 3));
    let seen = values(&format!("serial:{}", board.path), 20).await;
    for line in &seen {
        let names: Vec<&str> = line.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["temp", "hum", "bat"]);
        assert!((20.5..=24.5).contains(&line[0].1), "{line:?}");
        assert_eq!(line[2].1, 3.7);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_board_named_by_its_header() {
    // The header comes every 25 lines, as sketches that reprint it do; until the first one the host has
    // opened mid-stream, and the columns are numbered.
    let board = TextBoardPty::start(|n| {
        if n % 25 == 0 {
            "time_ms;pressure_hpa;altitude_m\n".to_string()
        } else {
            format!("{};1013,{};{}\n", n * 10, n % 10, 120 + n)
        }
    });
    let seen = values(&format!("serial:{}?format=csv", board.path), 40).await;
    let named: Vec<&Vec<(String, f64)>> = seen.iter().filter(|line| line[0].0 == "time_ms").collect();
    assert!(!named.is_empty(), "the header never named the columns");
    for line in named {
        let names: Vec<&str> = line.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["time_ms", "pressure_hpa", "altitude_m"]);
        assert!((1013.0..1014.0).contains(&line[1].1), "decimal comma read: {line:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_told_to_be_plotter_skips_the_probe() {
    let board = TextBoardPty::start(|n| format!("{} {}\n", n, n * 2));
    let seen = values(&format!("serial:{}?baud=9600&format=plotter", board.path), 5).await;
    for line in seen {
        assert_eq!(line.len(), 2);
        assert_eq!(line[0].0, "1");
        assert_eq!(line[1].1, line[0].1 * 2.0);
    }
}
