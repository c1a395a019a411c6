//! The ledger's hashes: the event chain and the keyed fingerprints of secrets.
//!
//! An event's hash is SHA-256 over a canonical encoding: the domain tag `benchtop-ledger-event-v1` and a zero
//! byte, the previous event's hash (32 zero bytes before the first event), then the fields `seq`, `at`,
//! `station`, `operator`, `serial`, `kind`, `detail` in that order, each as its UTF-8 text (integers in
//! decimal, an absent serial as empty text) preceded by its length in bytes as a big-endian u64. Lengths make
//! the encoding unambiguous, so no two different events hash the same bytes.
//!
//! A fingerprint is HMAC-SHA256 keyed with the ledger's 32-byte secret over a tag naming the kind of secret and
//! the secret's bytes, kept whole (64 hex digits): it is what the unique indexes compare, so a key is never
//! stored twice without the key itself being compared in SQL, and a leaked ledger without its secret does not
//! let anyone test guesses.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Event;
use super::store::hash_to_sql;

/// The previous hash of the first event.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// Which kind of secret a fingerprint is of; the tag keeps an AppKey and a password with the same bytes apart.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FingerprintTag {
    AppKey,
    MqttPassword,
}

impl FingerprintTag {
    fn bytes(self) -> &'static [u8] {
        match self {
            FingerprintTag::AppKey => b"benchtop-appkey\0",
            FingerprintTag::MqttPassword => b"benchtop-mqtt-password\0",
        }
    }
}

/// HMAC-SHA256(`ledger_secret`, tag ‖ `secret`) as 64 lower-case hex digits.
pub(crate) fn fingerprint(ledger_secret: &[u8; 32], tag: FingerprintTag, secret: &[u8]) -> String {
    // HMAC takes a key of any length, so this never fails; the fallback keeps the no-panic rule.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(ledger_secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(tag.bytes());
    mac.update(secret);
    let digest: [u8; 32] = mac.finalize().into_bytes().into();
    hash_to_sql(&digest)
}

/// The hash of `event` chained after `prev_hash`.
pub(crate) fn event_hash(prev_hash: &[u8; 32], event: &Event) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"benchtop-ledger-event-v1\0");
    hasher.update(prev_hash);
    let serial = event.serial.map(|s| s.to_string()).unwrap_or_default();
    for field in [
        event.seq.to_string().as_str(),
        &event.at,
        &event.station,
        &event.operator,
        &serial,
        &event.kind,
        &event.detail,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event {
            seq: 1,
            at: "2026-01-02T03:04:05.000006Z".into(),
            station: "line-1".into(),
            operator: "ana".into(),
            serial: Some(1),
            kind: "reserved".into(),
            detail: "reserved DevEUI 70B3D57ED0000010".into(),
        }
    }

    #[test]
    fn event_hash_is_the_documented_encoding() {
        let mut bytes = b"benchtop-ledger-event-v1\0".to_vec();
        bytes.extend_from_slice(&GENESIS);
        for field in
            ["1", "2026-01-02T03:04:05.000006Z", "line-1", "ana", "1", "reserved", "reserved DevEUI 70B3D57ED0000010"]
        {
            bytes.extend_from_slice(&(field.len() as u64).to_be_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        let expected: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(event_hash(&GENESIS, &event()), expected);
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = event_hash(&GENESIS, &event());
        assert_ne!(event_hash(&[1; 32], &event()), base);
        let mut moved = event();
        // Moving text between two fields must change the hash: the lengths keep fields apart.
        moved.station = "line-1a".into();
        moved.operator = "na".into();
        assert_ne!(event_hash(&GENESIS, &moved), base);
        let mut no_serial = event();
        no_serial.serial = None;
        assert_ne!(event_hash(&GENESIS, &no_serial), base);
    }

    #[test]
    fn fingerprints_depend_on_secret_tag_and_value() {
        let a = fingerprint(&[7; 32], FingerprintTag::AppKey, b"0123456789abcdef");
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint(&[7; 32], FingerprintTag::AppKey, b"0123456789abcdef"));
        assert_ne!(a, fingerprint(&[8; 32], FingerprintTag::AppKey, b"0123456789abcdef"));
        assert_ne!(a, fingerprint(&[7; 32], FingerprintTag::MqttPassword, b"0123456789abcdef"));
        assert_ne!(a, fingerprint(&[7; 32], FingerprintTag::AppKey, b"0123456789abcdeg"));
    }
}
