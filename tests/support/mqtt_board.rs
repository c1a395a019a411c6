//! Reading an MQTT source as the window does: open it as a board, then take its telemetry.
//!
//! Include it with `#[path = "support/mqtt_board.rs"] mod mqtt_board;`.

use std::time::Duration;

use benchtop::io::{Board, OpenBoard, SessionOptions, Telemetry};
use benchtop::model::source::Source;
use firmware_protocol::LogLevel;

/// Opens `url` (an `mqtt://` source) through `Board::open`.
pub async fn open(url: &str) -> OpenBoard {
    Board::open(&Source::parse(url).unwrap(), SessionOptions::default(), 1024).await.unwrap()
}

/// Telemetry until `count` value messages arrived (or 5 s passed): values, then log lines.
pub async fn take(opened: &mut OpenBoard, count: usize) -> (Vec<(String, f64)>, Vec<(LogLevel, String)>) {
    let (mut values, mut logs) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut messages = 0;
    while messages < count {
        match tokio::time::timeout_at(deadline, opened.telemetry.rx.recv()).await {
            Ok(Some(Telemetry::Text { values: v, .. })) => {
                values.extend(v);
                messages += 1;
            }
            Ok(Some(Telemetry::Log { line, .. })) => logs.push((line.level, line.text.to_string())),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    // Log lines that follow the last value (a status published last).
    while let Ok(Some(Telemetry::Log { line, .. })) =
        tokio::time::timeout(Duration::from_millis(200), opened.telemetry.rx.recv()).await
    {
        logs.push((line.level, line.text.to_string()));
    }
    (values, logs)
}
