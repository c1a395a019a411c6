//! The sending end of a telemetry stream for sources that make their own messages from what arrives (an MQTT
//! subscription, a CoAP resource): values and log lines go on a bounded channel; a full channel drops the
//! message and counts it in the link's counters, and a closed one tells the source to stop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use firmware_protocol::{LogLevel, LogLine};
use tokio::sync::mpsc;

use super::link::LinkStats;
use super::session::{Telemetry, TelemetryStream};

/// Where a source puts its telemetry.
pub struct Feed {
    tx: mpsc::Sender<Telemetry>,
    stats: Arc<LinkStats>,
    opened: Instant,
}

impl Feed {
    /// A feed of `capacity` messages counting into `stats`, and the stream it fills.
    pub fn new(capacity: usize, stats: Arc<LinkStats>) -> (Feed, TelemetryStream) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Feed { tx, stats, opened: Instant::now() }, TelemetryStream { rx })
    }

    /// The counters it drops into.
    pub fn stats(&self) -> &Arc<LinkStats> {
        &self.stats
    }

    /// Sends a message; false once nobody listens (a full stream drops it and counts).
    pub fn send(&self, telemetry: Telemetry) -> bool {
        match self.tx.try_send(telemetry) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.dropped_messages.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Sends a log line (cut to a log line's length), stamped with the time since the feed opened.
    pub fn log(&self, level: LogLevel, text: &str) -> bool {
        let mut short = heapless::String::new();
        for c in text.chars() {
            if short.push(c).is_err() {
                break;
            }
        }
        let device_time_us = u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.send(Telemetry::Log { received_at: Instant::now(), line: LogLine { device_time_us, level, text: short } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_feed_drops_and_counts_and_a_closed_one_says_stop() {
        let stats = Arc::new(LinkStats::default());
        let (feed, mut stream) = Feed::new(1, stats.clone());
        assert!(feed.log(LogLevel::Info, &"x".repeat(10_000)));
        assert!(feed.log(LogLevel::Info, "dropped"));
        assert_eq!(stats.dropped_messages.load(Ordering::Relaxed), 1);
        match stream.rx.try_recv().unwrap() {
            Telemetry::Log { line, .. } => assert!(!line.text.is_empty() && line.text.len() < 10_000),
            _ => panic!("a log line"),
        }
        drop(stream);
        assert!(!feed.log(LogLevel::Info, "nobody"));
    }
}
