//! Per-channel sample scheduling for the simulated board: which samples are due, and when a batch goes out.
//!
//! Sample `k` of a channel is taken at device time `k × period`; samples accumulate into a batch that is
//! sent when full or when its oldest sample is [`FLUSH_AFTER_NS`] old, so a live plot lags by at most that.
//! When the board falls more than [`MAX_CATCH_UP_NS`] behind (a stalled host loop), it skips ahead and
//! reports the skipped samples as dropped instead of inventing them.

/// Longest a sample waits in a batch, ns.
pub const FLUSH_AFTER_NS: u64 = 50_000_000;
/// Furthest the board catches up after a stall, ns.
pub const MAX_CATCH_UP_NS: u64 = 1_000_000_000;

/// Samples of one channel waiting to be sent.
pub struct ChannelStream {
    period_ns: u64,
    next_index: u64,
    batch_start_index: u64,
    batch_len: usize,
    capacity: usize,
    dropped: u64,
}

/// What to do next for a channel.
pub enum Due {
    /// Take sample `index` at device time `time_ns`.
    Sample {
        /// The sample's index since the stream started.
        index: u64,
        /// Its device time, ns.
        time_ns: u64,
    },
    /// Send the batch that has accumulated.
    Flush,
    /// Nothing until later.
    Idle,
}

impl ChannelStream {
    /// A stream of `rate_hz` samples per second starting at device time `start_ns`, batches of `capacity`.
    pub fn new(rate_hz: f64, start_ns: u64, capacity: usize) -> Self {
        let period_ns = (1e9 / rate_hz.max(1e-3)).round().max(1.0) as u64;
        let next_index = start_ns.div_ceil(period_ns);
        Self { period_ns, next_index, batch_start_index: next_index, batch_len: 0, capacity, dropped: 0 }
    }

    /// Sample period, ns.
    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// Device time of the next sample to be taken, ns.
    pub fn next_time_ns(&self) -> u64 {
        self.next_index * self.period_ns
    }

    /// What is due at device time `now_ns`. Call repeatedly until [`Due::Idle`].
    pub fn next(&mut self, now_ns: u64) -> Due {
        if self.batch_len >= self.capacity {
            return Due::Flush;
        }
        let time_ns = self.next_index * self.period_ns;
        if time_ns > now_ns {
            let oldest_ns = self.batch_start_index * self.period_ns;
            return if self.batch_len > 0 && now_ns.saturating_sub(oldest_ns) >= FLUSH_AFTER_NS {
                Due::Flush
            } else {
                Due::Idle
            };
        }
        if now_ns - time_ns > MAX_CATCH_UP_NS {
            if self.batch_len > 0 {
                return Due::Flush;
            }
            let resume = (now_ns - FLUSH_AFTER_NS) / self.period_ns;
            self.dropped += resume - self.next_index;
            self.next_index = resume;
            self.batch_start_index = resume;
            return self.next(now_ns);
        }
        let index = self.next_index;
        self.next_index += 1;
        self.batch_len += 1;
        Due::Sample { index, time_ns }
    }

    /// Starts a new batch; returns (device time of its first sample in ns, samples dropped before it).
    pub fn take_batch(&mut self) -> (u64, u64) {
        let first_ns = self.batch_start_index * self.period_ns;
        self.batch_start_index = self.next_index;
        self.batch_len = 0;
        (first_ns, std::mem::take(&mut self.dropped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples taken and batches flushed up to `now_ns`, with the dropped counts the batches reported.
    fn drain(stream: &mut ChannelStream, now_ns: u64) -> (Vec<u64>, usize) {
        let (samples, flushes, _) = drain_counting(stream, now_ns);
        (samples, flushes)
    }

    fn drain_counting(stream: &mut ChannelStream, now_ns: u64) -> (Vec<u64>, usize, u64) {
        let (mut samples, mut flushes, mut dropped) = (Vec::new(), 0, 0);
        loop {
            match stream.next(now_ns) {
                Due::Sample { index, .. } => samples.push(index),
                Due::Flush => {
                    flushes += 1;
                    dropped += stream.take_batch().1;
                }
                Due::Idle => return (samples, flushes, dropped),
            }
        }
    }

    #[test]
    fn samples_are_due_on_their_period_and_flushed_when_full() {
        let mut stream = ChannelStream::new(1000.0, 0, 10);
        let (samples, flushes) = drain(&mut stream, 25_000_000);
        assert_eq!(samples, (0..=25).collect::<Vec<_>>());
        assert_eq!(flushes, 2);
        // The partial batch goes out once its oldest sample is 50 ms old.
        let (more, flushes) = drain(&mut stream, 70_000_000);
        assert_eq!(more.first(), Some(&26));
        assert!(flushes >= 1);
    }

    #[test]
    fn a_stall_is_reported_as_dropped_samples_not_invented_ones() {
        let mut stream = ChannelStream::new(1000.0, 0, 100);
        drain(&mut stream, 1_000_000);
        stream.take_batch();
        let (samples, _) = drain(&mut stream, 5_000_000_000);
        assert!(samples.len() < 100, "caught up only the last 50 ms, got {}", samples.len());
        let first = samples[0];
        assert!(first > 4_000, "skipped ahead to {first}");
    }
}
