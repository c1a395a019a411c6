//! The ledger audit: duplicates, orphaned reservations and the event hash chain, recomputed from the rows.
//!
//! It trusts none of the database's constraints, so it also finds what a ledger written or edited by another
//! tool (indexes dropped, rows changed with the triggers off) let through. Fingerprints are recomputed from
//! the stored secrets, so a row whose fingerprint was forged to dodge the unique index is reported too.
//! Problems never show a secret; they name serials, DevEUIs and device ids.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::super::keys::parse_hex_exact;
use super::chain::{self, FingerprintTag};
use super::store::{AuditRow, ChainHead, StoredEvent, hash_to_sql};

/// One thing wrong in a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum CheckProblem {
    /// Several live (non-failed) attempts hold one DevEUI.
    DuplicateDevEui {
        /// The DevEUI.
        dev_eui: String,
        /// The attempts holding it.
        serials: Vec<i64>,
    },
    /// Several live attempts hold one device id.
    DuplicateDeviceId {
        /// The device id.
        device_id: u64,
        /// The attempts holding it.
        serials: Vec<i64>,
    },
    /// One AppKey was issued to several attempts.
    DuplicateAppKey {
        /// The attempts it was issued to.
        serials: Vec<i64>,
    },
    /// One MQTT password was issued to several attempts.
    DuplicateMqttPassword {
        /// The attempts it was issued to.
        serials: Vec<i64>,
    },
    /// A stored fingerprint is not the fingerprint of the stored secret.
    WrongFingerprint {
        /// The attempt.
        serial: i64,
        /// `app_key` or `mqtt_password`.
        secret: &'static str,
    },
    /// An attempt whose state this version does not know.
    UnknownState {
        /// The attempt.
        serial: i64,
        /// The stored state.
        state: String,
    },
    /// An attempt in progress that nobody touched for longer than the limit.
    Orphaned {
        /// The attempt.
        serial: i64,
        /// Its station.
        station: String,
        /// Its state.
        state: String,
        /// Seconds since it was last touched.
        idle_secs: u64,
    },
    /// The first event whose link to the chain does not hold.
    BrokenChain {
        /// The event's seq (one past the last event if the chain head is ahead of the events).
        seq: i64,
        /// What does not match.
        reason: String,
    },
}

impl fmt::Display for CheckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckProblem::DuplicateDevEui { dev_eui, serials } => {
                write!(f, "DevEUI {dev_eui} is held by several live attempts: {}", list(serials))
            }
            CheckProblem::DuplicateDeviceId { device_id, serials } => {
                write!(f, "device id {device_id:016X} is held by several live attempts: {}", list(serials))
            }
            CheckProblem::DuplicateAppKey { serials } => {
                write!(f, "one AppKey was issued to several attempts: {}", list(serials))
            }
            CheckProblem::DuplicateMqttPassword { serials } => {
                write!(f, "one MQTT password was issued to several attempts: {}", list(serials))
            }
            CheckProblem::WrongFingerprint { serial, secret } => {
                write!(f, "attempt {serial}: the stored {secret} fingerprint does not match the stored {secret}")
            }
            CheckProblem::UnknownState { serial, state } => write!(f, "attempt {serial} has unknown state {state:?}"),
            CheckProblem::Orphaned { serial, station, state, idle_secs } => write!(
                f,
                "attempt {serial} of station {station} has been {state} for {idle_secs} s; \
                 restart that station to fail it, or fail it by hand"
            ),
            CheckProblem::BrokenChain { seq, reason } => write!(f, "the event chain breaks at seq {seq}: {reason}"),
        }
    }
}

fn list(serials: &[i64]) -> String {
    serials.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

/// What [`super::Ledger::check`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Everything wrong, duplicates first, then orphans, then the chain.
    pub problems: Vec<CheckProblem>,
    /// Attempts read.
    pub rows: u64,
    /// Events read.
    pub events: u64,
}

impl CheckReport {
    /// No problem found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Groups of serials sharing one key, in key order, only where there are several.
fn duplicates<K: Ord>(pairs: impl Iterator<Item = (K, i64)>) -> Vec<(K, Vec<i64>)> {
    let mut groups: BTreeMap<K, Vec<i64>> = BTreeMap::new();
    for (key, serial) in pairs {
        groups.entry(key).or_default().push(serial);
    }
    groups.into_iter().filter(|(_, serials)| serials.len() > 1).collect()
}

/// Audits the rows read from one snapshot of a ledger.
pub(crate) fn analyse(
    secret: &[u8; 32],
    attempts: &[AuditRow],
    events: &[StoredEvent],
    head: &ChainHead,
    orphan_after: Duration,
    now: SystemTime,
) -> CheckReport {
    let mut problems = Vec::new();
    let live = || attempts.iter().filter(|a| a.state != "failed");

    for (dev_eui, serials) in duplicates(live().map(|a| (a.dev_eui.to_ascii_uppercase(), a.serial))) {
        problems.push(CheckProblem::DuplicateDevEui { dev_eui, serials });
    }
    for (device_id, serials) in duplicates(live().map(|a| (a.device_id, a.serial))) {
        problems.push(CheckProblem::DuplicateDeviceId { device_id, serials });
    }

    // Compare fingerprints recomputed from the secrets, so forged fingerprints do not hide a reuse.
    let app_key_fp = |a: &AuditRow| match parse_hex_exact::<16>("AppKey", &a.app_key_hex) {
        Ok(key) => chain::fingerprint(secret, FingerprintTag::AppKey, &key),
        Err(_) => a.app_key_fp.clone(),
    };
    for (_, serials) in duplicates(attempts.iter().map(|a| (app_key_fp(a), a.serial))) {
        problems.push(CheckProblem::DuplicateAppKey { serials });
    }
    let passwords = attempts.iter().filter_map(|a| {
        a.mqtt_password
            .as_ref()
            .map(|p| (chain::fingerprint(secret, FingerprintTag::MqttPassword, p.as_bytes()), a.serial))
    });
    for (_, serials) in duplicates(passwords) {
        problems.push(CheckProblem::DuplicateMqttPassword { serials });
    }
    for a in attempts {
        if app_key_fp(a) != a.app_key_fp {
            problems.push(CheckProblem::WrongFingerprint { serial: a.serial, secret: "app_key" });
        }
        let password_fp =
            a.mqtt_password.as_ref().map(|p| chain::fingerprint(secret, FingerprintTag::MqttPassword, p.as_bytes()));
        if password_fp != a.mqtt_password_fp {
            problems.push(CheckProblem::WrongFingerprint { serial: a.serial, secret: "mqtt_password" });
        }
    }

    for a in attempts {
        match a.state.parse::<super::AttemptState>() {
            Err(_) => problems.push(CheckProblem::UnknownState { serial: a.serial, state: a.state.clone() }),
            Ok(state) if state.in_progress() => {
                // An unreadable timestamp counts as idle forever: someone must look at that row.
                let idle = humantime::parse_rfc3339(&a.updated_at)
                    .ok()
                    .map_or(Some(Duration::MAX), |at| now.duration_since(at).ok());
                if let Some(idle) = idle.filter(|idle| *idle > orphan_after) {
                    problems.push(CheckProblem::Orphaned {
                        serial: a.serial,
                        station: a.station.clone(),
                        state: a.state.clone(),
                        idle_secs: idle.as_secs(),
                    });
                }
            }
            Ok(_) => {}
        }
    }

    if let Some(broken) = first_broken_link(events, head) {
        problems.push(broken);
    }
    CheckReport { problems, rows: attempts.len() as u64, events: events.len() as u64 }
}

/// Walks the chain from the genesis; the first event that does not link, or a head that does not match the
/// last event.
fn first_broken_link(events: &[StoredEvent], head: &ChainHead) -> Option<CheckProblem> {
    let mut prev = chain::GENESIS;
    let mut expected_seq = 1;
    for stored in events {
        let seq = stored.event.seq;
        let broken = |reason: &str| Some(CheckProblem::BrokenChain { seq, reason: reason.to_owned() });
        if seq != expected_seq {
            return Some(CheckProblem::BrokenChain {
                seq: expected_seq,
                reason: format!("the event is missing (the next one stored is seq {seq})"),
            });
        }
        if stored.prev_hash != hash_to_sql(&prev) {
            return broken("its previous hash is not the hash of the event before it");
        }
        let hash = chain::event_hash(&prev, &stored.event);
        if stored.hash != hash_to_sql(&hash) {
            return broken("its fields do not hash to its stored hash (the event was changed)");
        }
        prev = hash;
        expected_seq += 1;
    }
    if head.seq != expected_seq - 1 || head.hash != prev {
        return Some(CheckProblem::BrokenChain {
            seq: expected_seq,
            reason: format!(
                "the chain head (seq {}) does not match the last event (seq {}): events were removed",
                head.seq,
                expected_seq - 1
            ),
        });
    }
    None
}
