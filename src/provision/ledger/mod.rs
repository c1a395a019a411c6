//! The provisioning ledger: every attempt to give a device an identity and keys, in SQLite or PostgreSQL.
//!
//! An attempt is reserved (DevEUI allocated or checked, AppKey fingerprinted, row written), then programmed,
//! verified and committed, or failed ("burned") from any step before commit. A burned AppKey is never issued
//! again and a DevEUI taken from a block is never handed out again, because the key may sit half-written in the
//! flash of a scrapped unit. The rules are held by the database itself, not only by this code: partial unique
//! indexes on the DevEUI and device id of live (non-failed) rows, unique keyed fingerprints
//! (HMAC-SHA256 with a secret made with the ledger) of every AppKey and MQTT password ever issued, an atomic
//! counter per DevEUI block, and an append-only `events` table (triggers refuse UPDATE, DELETE and TRUNCATE)
//! whose rows form a SHA-256 hash chain. Every state change writes its event in the same transaction.
//!
//! Several stations may share one ledger: writers are serialized by `BEGIN IMMEDIATE` (SQLite, several
//! processes on one file) or by locking the chain-head row (PostgreSQL). [`Ledger::check`] recomputes the
//! chain and looks for duplicates again, so a ledger edited by another tool is caught too.
//!
//! This module is not the programming flow (that is `provision::flow`) and not the exports; it never prints a
//! secret, and no error it returns contains one.
//!
//! The API is blocking. The PostgreSQL backend uses the `postgres` crate, which runs its own small tokio
//! runtime; never call a [`Ledger`] from inside an async context (spawn a thread or use `spawn_blocking`).

mod chain;
mod check;
mod error;
mod postgres;
mod sqlite;
mod store;

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::keys::{AppKey, Eui64, Password};
use super::record::{DeviceRecord, NetworkProfile};
use store::{LiveKey, NewAttempt, NewEvent, SecretColumn, Tx};

pub use check::{CheckProblem, CheckReport};
pub use error::{DuplicateOf, LedgerError};

/// The schema version this code writes and reads; kept in `ledger_meta`.
pub const SCHEMA_VERSION: u32 = 1;

/// State of one provisioning attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptState {
    /// DevEUI and keys are allocated; nothing is written to the device yet.
    Reserved,
    /// Written to the device.
    Programmed,
    /// Read back and checked.
    Verified,
    /// Final: the device ships with this identity.
    Committed,
    /// Final: burned; its AppKey (and a block DevEUI) is never issued again.
    Failed,
}

impl AttemptState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Reserved => "reserved",
            AttemptState::Programmed => "programmed",
            AttemptState::Verified => "verified",
            AttemptState::Committed => "committed",
            AttemptState::Failed => "failed",
        }
    }

    /// Reserved, programmed or verified: not yet final.
    pub fn in_progress(self) -> bool {
        matches!(self, AttemptState::Reserved | AttemptState::Programmed | AttemptState::Verified)
    }
}

impl fmt::Display for AttemptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttemptState {
    type Err = LedgerError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "reserved" => AttemptState::Reserved,
            "programmed" => AttemptState::Programmed,
            "verified" => AttemptState::Verified,
            "committed" => AttemptState::Committed,
            "failed" => AttemptState::Failed,
            other => return Err(LedgerError::Corrupt(format!("unknown attempt state {other:?}"))),
        })
    }
}

/// Where a reservation's DevEUI comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevEuiSource {
    /// This DevEUI (e.g. derived from the device id); refused while a live attempt holds it, free again after
    /// that attempt failed.
    Fixed(Eui64),
    /// The next unused EUI of a block (IEEE MA-L/MA-S range), `end` inclusive; never handed out twice.
    Block {
        /// First EUI of the block.
        start: Eui64,
        /// Last EUI of the block (inclusive).
        end: Eui64,
    },
}

/// MQTT credentials injected into a device with its LoRaWAN identity.
#[derive(Debug, Clone)]
pub struct MqttCredentials {
    /// MQTT client id.
    pub client_id: String,
    /// MQTT user name.
    pub user: String,
    /// MQTT password: unique over the whole ledger, like an AppKey.
    pub password: Password,
}

/// What a station asks the ledger for before programming a device.
#[derive(Debug, Clone)]
pub struct ReserveRequest {
    /// Station name (one per bench or line position).
    pub station: String,
    /// Operator logged in at the station.
    pub operator: String,
    /// The device's 64-bit factory id.
    pub device_id: u64,
    /// Where the DevEUI comes from.
    pub dev_eui: DevEuiSource,
    /// JoinEUI.
    pub join_eui: Eui64,
    /// The AppKey to issue; refused if it was ever issued before.
    pub app_key: AppKey,
    /// MQTT credentials to issue with it, if the device uses MQTT.
    pub mqtt: Option<MqttCredentials>,
    /// Network settings stored with the row for exports.
    pub network: NetworkProfile,
}

/// A reserved attempt: what the station programs into the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The attempt's serial, never reused.
    pub serial: i64,
    /// The DevEUI allocated or checked.
    pub dev_eui: Eui64,
    /// Device name for network servers: `eui-` and the lowercase hex DevEUI.
    pub name: String,
}

/// An attempt that was left in progress by a station that stopped, and is now failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// The attempt's serial.
    pub serial: i64,
    /// The device's factory id.
    pub device_id: u64,
    /// Its DevEUI.
    pub dev_eui: Eui64,
    /// The state it was left in.
    pub state: AttemptState,
}

/// How many attempts are in each kind of state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Committed attempts.
    pub committed: u64,
    /// Failed (burned) attempts.
    pub failed: u64,
    /// Reserved, programmed or verified attempts.
    pub in_progress: u64,
}

/// One row of the append-only event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Position in the chain, from 1 with no gaps.
    pub seq: i64,
    /// When it was recorded, RFC 3339 UTC.
    pub at: String,
    /// Station that caused it.
    pub station: String,
    /// Operator at that station.
    pub operator: String,
    /// The attempt it is about, if any.
    pub serial: Option<i64>,
    /// `reserved`, `programmed`, `verified`, `committed` or `failed`.
    pub kind: String,
    /// What happened, in words; never a secret.
    pub detail: String,
}

/// The device name network servers get for a DevEUI: `eui-` and 16 lowercase hex digits.
pub fn device_name(dev_eui: Eui64) -> String {
    format!("eui-{}", dev_eui.to_string().to_lowercase())
}

/// A connection to a provisioning ledger (SQLite file or PostgreSQL database).
pub struct Ledger {
    backend: Backend,
    url_redacted: String,
    /// Key of the AppKey and password fingerprints, read from `ledger_meta`.
    secret: [u8; 32],
}

enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger").field("url", &self.url_redacted).finish_non_exhaustive()
    }
}

/// The current time, RFC 3339 UTC with microseconds (sorts as text).
fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

impl Ledger {
    /// Opens (and creates the schema of, if missing) the ledger at `url`: `sqlite:PATH`, a bare path ending in
    /// `.db`, `.sqlite` or `.sqlite3`, or `postgres://…` / `postgresql://…`.
    ///
    /// A new SQLite file is created owner-only (0600) before anything is written to it; an existing file that
    /// others may read is made owner-only, with a warning in the log. A server that does not answer or a file that
    /// cannot be opened gives [`LedgerError::Unreachable`] with the URL, its password shown as `***`.
    pub fn open(url: &str) -> Result<Ledger, LedgerError> {
        let url_redacted = redact_url(url);
        let (backend, secret) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let (store, secret) = postgres::PgStore::open(url, &url_redacted)?;
            (Backend::Postgres(store), secret)
        } else if let Some(path) = sqlite_path(url) {
            let (store, secret) = sqlite::SqliteStore::open(path, &url_redacted)?;
            (Backend::Sqlite(store), secret)
        } else {
            return Err(LedgerError::BadUrl { url: url_redacted });
        };
        Ok(Ledger { backend, url_redacted, secret })
    }

    /// The URL this ledger was opened with, any password replaced by `***`.
    pub fn url_redacted(&self) -> String {
        self.url_redacted.clone()
    }

    /// Runs `f` in one write transaction; a returned error rolls everything back.
    fn write<T>(&mut self, f: impl FnOnce(&mut dyn Tx) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(store) => store.transaction(true, f),
            Backend::Postgres(store) => store.transaction(true, f),
        }
    }

    /// Runs `f` in one read-only transaction (a consistent snapshot).
    fn read<T>(&mut self, f: impl FnOnce(&mut dyn Tx) -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        match &mut self.backend {
            Backend::Sqlite(store) => store.transaction(false, f),
            Backend::Postgres(store) => store.transaction(false, f),
        }
    }

    /// Reserves an attempt in one transaction: allocates or checks the DevEUI, refuses an AppKey or MQTT
    /// password issued before, writes the row in state `reserved` and its event.
    pub fn reserve(&mut self, request: &ReserveRequest) -> Result<Reservation, LedgerError> {
        let app_key_fp = chain::fingerprint(&self.secret, chain::FingerprintTag::AppKey, request.app_key.expose());
        let mqtt_password_fp = request.mqtt.as_ref().map(|mqtt| {
            chain::fingerprint(&self.secret, chain::FingerprintTag::MqttPassword, mqtt.password.expose().as_bytes())
        });
        if let DevEuiSource::Block { start, end } = request.dev_eui
            && (end < start || end.to_u64() - start.to_u64() >= 1 << 63)
        {
            return Err(LedgerError::BadBlock { start, end });
        }
        self.write(|tx| {
            tx.lock_chain()?;
            let dev_eui = match request.dev_eui {
                DevEuiSource::Fixed(eui) => eui,
                DevEuiSource::Block { start, end } => allocate(tx, start, end)?,
            };
            refuse_live(tx, LiveKey::DevEui(dev_eui))?;
            refuse_live(tx, LiveKey::DeviceId(request.device_id))?;
            refuse_issued(tx, SecretColumn::AppKey, &app_key_fp)?;
            if let Some(fp) = &mqtt_password_fp {
                refuse_issued(tx, SecretColumn::MqttPassword, fp)?;
            }
            let now = now_rfc3339();
            let row = NewAttempt {
                station: &request.station,
                operator: &request.operator,
                device_id: request.device_id,
                dev_eui,
                join_eui: request.join_eui,
                app_key_hex: request.app_key.expose_hex(),
                app_key_fp: &app_key_fp,
                mqtt: request.mqtt.as_ref(),
                mqtt_password_fp: mqtt_password_fp.as_deref(),
                network: &request.network,
                now: &now,
            };
            let serial = tx.insert_attempt(&row)?;
            let detail = format!("reserved DevEUI {dev_eui} for device id {:016X}", request.device_id);
            append_event(tx, &request.station, &request.operator, Some(serial), "reserved", &detail, &now)?;
            Ok(Reservation { serial, dev_eui, name: device_name(dev_eui) })
        })
    }

    /// Records that the reserved attempt `serial` was written to the device.
    pub fn mark_programmed(&mut self, serial: i64) -> Result<(), LedgerError> {
        self.transition(serial, &[AttemptState::Reserved], AttemptState::Programmed, "written to the device")
    }

    /// Records that the programmed attempt `serial` was read back and checked.
    pub fn mark_verified(&mut self, serial: i64) -> Result<(), LedgerError> {
        self.transition(serial, &[AttemptState::Programmed], AttemptState::Verified, "read back and checked")
    }

    /// Commits the verified attempt `serial`: the device ships with this identity.
    pub fn commit(&mut self, serial: i64) -> Result<(), LedgerError> {
        self.transition(serial, &[AttemptState::Verified], AttemptState::Committed, "committed")
    }

    /// Fails (burns) the attempt `serial` from any state before commit; `reason` goes into the event log, so it
    /// must never hold a secret.
    pub fn fail(&mut self, serial: i64, reason: &str) -> Result<(), LedgerError> {
        let from = [AttemptState::Reserved, AttemptState::Programmed, AttemptState::Verified];
        self.transition(serial, &from, AttemptState::Failed, reason)
    }

    fn transition(
        &mut self,
        serial: i64,
        from: &[AttemptState],
        to: AttemptState,
        detail: &str,
    ) -> Result<(), LedgerError> {
        self.write(|tx| {
            tx.lock_chain()?;
            let row = tx.attempt(serial)?.ok_or(LedgerError::NotFound(serial))?;
            if !from.contains(&row.state) {
                return Err(LedgerError::BadTransition { serial, from: row.state, to });
            }
            let now = now_rfc3339();
            tx.set_state(serial, to, &now)?;
            append_event(tx, &row.station, &row.operator, Some(serial), to.as_str(), detail, &now)
        })
    }

    /// Fails every attempt of `station` left reserved, programmed or verified (by a crash or power cut), with
    /// the reason "interrupted: station restarted while in state …", and returns them. Call it when a station
    /// starts.
    pub fn reconcile(&mut self, station: &str) -> Result<Vec<Interrupted>, LedgerError> {
        self.write(|tx| {
            tx.lock_chain()?;
            let rows = tx.in_progress(station)?;
            let now = now_rfc3339();
            let mut interrupted = Vec::with_capacity(rows.len());
            for row in rows {
                tx.set_state(row.serial, AttemptState::Failed, &now)?;
                let detail = format!("interrupted: station restarted while in state {}", row.state);
                append_event(tx, &row.station, &row.operator, Some(row.serial), "failed", &detail, &now)?;
                interrupted.push(Interrupted {
                    serial: row.serial,
                    device_id: row.device_id,
                    dev_eui: row.dev_eui,
                    state: row.state,
                });
            }
            Ok(interrupted)
        })
    }

    /// Every committed device, by serial, with its AppKey (for exports).
    pub fn committed(&mut self) -> Result<Vec<DeviceRecord>, LedgerError> {
        self.read(|tx| tx.committed())
    }

    /// How many attempts are committed, failed and in progress.
    pub fn counts(&mut self) -> Result<Counts, LedgerError> {
        self.read(|tx| tx.counts())
    }

    /// Looks for duplicates (DevEUI or device id among live rows, AppKey or MQTT password fingerprints among
    /// all rows, fingerprints that do not match their key), attempts in progress and untouched for longer than
    /// `orphan_after`, and recomputes the event hash chain from the first event to the last.
    pub fn check(&mut self, orphan_after: Duration) -> Result<CheckReport, LedgerError> {
        let secret = self.secret;
        let (attempts, events, head) = self.read(|tx| Ok((tx.all_attempts()?, tx.all_events()?, tx.chain_head()?)))?;
        Ok(check::analyse(&secret, &attempts, &events, &head, orphan_after, SystemTime::now()))
    }

    /// The event log, oldest first: all of it, or the events of one attempt.
    pub fn events(&mut self, serial: Option<i64>) -> Result<Vec<Event>, LedgerError> {
        self.read(|tx| Ok(tx.events(serial)?.into_iter().map(|stored| stored.event).collect()))
    }
}

/// Takes the next EUI of a block (creating the block's counter on first use).
fn allocate(tx: &mut dyn Tx, start: Eui64, end: Eui64) -> Result<Eui64, LedgerError> {
    let last_offset = end.to_u64() - start.to_u64();
    let stored_end = tx.ensure_block(start, end)?;
    if stored_end != end {
        return Err(LedgerError::BlockMismatch { start, end, stored_end });
    }
    match tx.take_from_block(start, last_offset)? {
        Some(offset) => Ok(Eui64::from_u64(start.to_u64() + offset)),
        None => Err(LedgerError::BlockExhausted { start, end }),
    }
}

fn refuse_live(tx: &mut dyn Tx, key: LiveKey) -> Result<(), LedgerError> {
    let (what, value) = match key {
        LiveKey::DevEui(eui) => (DuplicateOf::DevEui, eui.to_string()),
        LiveKey::DeviceId(id) => (DuplicateOf::DeviceId, format!("{id:016X}")),
    };
    match tx.live_holder(key)? {
        Some(holder) => Err(LedgerError::Duplicate {
            what,
            detail: format!(
                "{what} {value} is already held by attempt {} ({}); fail that attempt first or use another {what}",
                holder.serial, holder.state
            ),
        }),
        None => Ok(()),
    }
}

fn refuse_issued(tx: &mut dyn Tx, column: SecretColumn, fingerprint: &str) -> Result<(), LedgerError> {
    let what = column.duplicate_of();
    match tx.secret_holder(column, fingerprint)? {
        Some(holder) => Err(LedgerError::Duplicate {
            what,
            detail: format!(
                "this {what} was already issued to attempt {} ({}); generate a new one, a {what} is never issued twice",
                holder.serial, holder.state
            ),
        }),
        None => Ok(()),
    }
}

/// Appends one event to the chain; the caller holds the chain lock ([`Tx::lock_chain`]).
fn append_event(
    tx: &mut dyn Tx,
    station: &str,
    operator: &str,
    serial: Option<i64>,
    kind: &str,
    detail: &str,
    now: &str,
) -> Result<(), LedgerError> {
    let head = tx.chain_head()?;
    let event = Event {
        seq: head.seq + 1,
        at: now.to_owned(),
        station: station.to_owned(),
        operator: operator.to_owned(),
        serial,
        kind: kind.to_owned(),
        detail: detail.to_owned(),
    };
    let hash = chain::event_hash(&head.hash, &event);
    tx.insert_event(&NewEvent { event: &event, prev_hash: head.hash, hash })?;
    tx.set_chain_head(event.seq, &hash)
}

/// The file path of a SQLite URL, or `None` if `url` is not one.
fn sqlite_path(url: &str) -> Option<&str> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        // `sqlite:///abs/path` and `sqlite://rel` are accepted as well as `sqlite:/abs/path`.
        let path = rest.strip_prefix("//").unwrap_or(rest);
        return (!path.is_empty()).then_some(path);
    }
    let lower = url.to_ascii_lowercase();
    (lower.ends_with(".db") || lower.ends_with(".sqlite") || lower.ends_with(".sqlite3")).then_some(url)
}

/// `url` with the password of its user info, and any `password=` query value, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..].find(['/', '?']).map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let user_info = &out[authority_start..authority_start + at];
            if let Some(colon) = user_info.find(':') {
                out.replace_range(authority_start + colon + 1..authority_start + at, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (base, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{base}{}", redacted.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(
            redact_url("postgres://line:s3cret@db.example:5432/ledger"),
            "postgres://line:***@db.example:5432/ledger"
        );
        assert_eq!(redact_url("postgres://line@db/ledger"), "postgres://line@db/ledger");
        assert_eq!(
            redact_url("postgresql://db/ledger?user=a&password=hunter2"),
            "postgresql://db/ledger?user=a&password=***"
        );
        assert_eq!(redact_url("sqlite:/tmp/a.db"), "sqlite:/tmp/a.db");
    }

    #[test]
    fn sqlite_urls_and_bare_paths_are_recognised() {
        assert_eq!(sqlite_path("sqlite:/tmp/a.db"), Some("/tmp/a.db"));
        assert_eq!(sqlite_path("sqlite:///tmp/a"), Some("/tmp/a"));
        assert_eq!(sqlite_path("line.sqlite"), Some("line.sqlite"));
        assert_eq!(sqlite_path("ledger.txt"), None);
        assert_eq!(sqlite_path("sqlite:"), None);
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in [
            AttemptState::Reserved,
            AttemptState::Programmed,
            AttemptState::Verified,
            AttemptState::Committed,
            AttemptState::Failed,
        ] {
            assert_eq!(state.as_str().parse::<AttemptState>().unwrap(), state);
        }
        assert!("burned".parse::<AttemptState>().is_err());
    }

    #[test]
    fn device_names_are_lowercase_hex() {
        assert_eq!(device_name(Eui64::from_u64(0x70B3_D57E_D000_0010)), "eui-70b3d57ed0000010");
    }
}
