//! RFC 7252 §4.8 transmission parameters and the retransmission schedule of a confirmable message.
//!
//! A CON message is sent, then sent again after a timeout drawn at random between ACK_TIMEOUT and
//! ACK_TIMEOUT × ACK_RANDOM_FACTOR, doubling after each retransmission, at most MAX_RETRANSMIT times; the
//! exchange fails once the last timeout has run out without an ACK or RST. With the defaults that is
//! 4 retransmissions over at most 45 s (2–3, 4–6, 8–12, 16–24 s apart).

use std::time::Duration;

/// ACK_TIMEOUT: the first wait for an acknowledgement.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// ACK_RANDOM_FACTOR: the first wait is drawn from ACK_TIMEOUT × [1, this].
pub const ACK_RANDOM_FACTOR: f64 = 1.5;
/// MAX_RETRANSMIT: retransmissions of one CON message.
pub const MAX_RETRANSMIT: u32 = 4;
/// How long a non-confirmable request waits for its response before giving up.
pub const NON_TIMEOUT: Duration = Duration::from_secs(10);
/// After an empty ACK, how long a separate response may take (RFC 7252 leaves it to the application).
pub const SEPARATE_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// The waits after each transmission of a CON message: `MAX_RETRANSMIT + 1` of them, the first drawn from
/// `[ack_timeout, ack_timeout × ACK_RANDOM_FACTOR]` by `random` (0 … 1), each later one twice the one before.
pub fn schedule(ack_timeout: Duration, random: f64) -> Vec<Duration> {
    let first = ack_timeout.mul_f64(1.0 + random.clamp(0.0, 1.0) * (ACK_RANDOM_FACTOR - 1.0));
    (0..=MAX_RETRANSMIT).map(|n| first * 2u32.pow(n)).collect()
}

/// A random number in 0 … 1 from the OS random source (0.5 if it cannot be read).
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_the_rfcs() {
        let fastest = schedule(ACK_TIMEOUT, 0.0);
        assert_eq!(fastest.iter().map(Duration::as_secs).collect::<Vec<_>>(), [2, 4, 8, 16, 32]);
        let slowest = schedule(ACK_TIMEOUT, 1.0);
        assert_eq!(slowest.iter().map(Duration::as_secs).collect::<Vec<_>>(), [3, 6, 12, 24, 48]);
        // MAX_TRANSMIT_SPAN (RFC 7252 §4.8.2): the last retransmission is at most 45 s after the first send.
        assert_eq!(slowest[..4].iter().sum::<Duration>(), Duration::from_secs(45));
    }

    #[test]
    fn the_random_draw_stays_in_range() {
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..=1.0).contains(&r));
            let first = schedule(Duration::from_millis(200), r)[0];
            assert!((Duration::from_millis(200)..=Duration::from_millis(300)).contains(&first));
        }
    }
}
