//! What the ledger logic asks of a database inside one transaction, and the row types that cross that line.
//!
//! [`Tx`] is implemented once per backend (SQLite, PostgreSQL) with plain SQL; the rules (which transition is
//! allowed, what an event holds, how the chain is hashed) live in the parent module and are shared. Values are
//! stored the same way in both: EUIs as 16 upper-case hex digits, the device id as its 64 bits in a BIGINT
//! (bit-cast, so ids above `i64::MAX` are negative in SQL), hashes and fingerprints as lower-case hex.

use super::super::keys::{AppKey, Eui64, parse_hex_exact};
use super::super::record::{DeviceRecord, NetworkProfile};
use super::{AttemptState, Counts, DuplicateOf, Event, LedgerError, MqttCredentials};

/// The last link of the event chain (`seq` 0 and zeros before the first event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChainHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

/// A value that at most one live (non-failed) attempt may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LiveKey {
    DevEui(Eui64),
    DeviceId(u64),
}

/// A fingerprint column that is unique over all attempts, failed ones too.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecretColumn {
    AppKey,
    MqttPassword,
}

impl SecretColumn {
    pub fn duplicate_of(self) -> DuplicateOf {
        match self {
            SecretColumn::AppKey => DuplicateOf::AppKey,
            SecretColumn::MqttPassword => DuplicateOf::MqttPassword,
        }
    }
}

/// The attempt that already holds a value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holder {
    pub serial: i64,
    pub state: AttemptState,
}

/// A row to insert in `attempts`, in state `reserved`.
pub(crate) struct NewAttempt<'a> {
    pub station: &'a str,
    pub operator: &'a str,
    pub device_id: u64,
    pub dev_eui: Eui64,
    pub join_eui: Eui64,
    pub app_key_hex: String,
    pub app_key_fp: &'a str,
    pub mqtt: Option<&'a MqttCredentials>,
    pub mqtt_password_fp: Option<&'a str>,
    pub network: &'a NetworkProfile,
    pub now: &'a str,
}

/// An event to append, with its links.
pub(crate) struct NewEvent<'a> {
    pub event: &'a Event,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// What a transition needs to know of an attempt.
#[derive(Debug, Clone)]
pub(crate) struct AttemptRow {
    pub serial: i64,
    pub station: String,
    pub operator: String,
    pub device_id: u64,
    pub dev_eui: Eui64,
    pub state: AttemptState,
}

/// An attempt as `check` reads it: text as stored, since another tool may have written it.
#[derive(Debug, Clone)]
pub(crate) struct AuditRow {
    pub serial: i64,
    pub station: String,
    pub device_id: u64,
    pub dev_eui: String,
    pub state: String,
    pub app_key_hex: String,
    pub app_key_fp: String,
    pub mqtt_password: Option<String>,
    pub mqtt_password_fp: Option<String>,
    pub updated_at: String,
}

/// An event as stored, with its links in hex.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub event: Event,
    pub prev_hash: String,
    pub hash: String,
}

/// A committed row as stored, before its text is parsed.
pub(crate) struct CommittedRow {
    pub serial: i64,
    pub device_id: i64,
    pub dev_eui: String,
    pub join_eui: String,
    pub app_key_hex: String,
    pub network: NetworkProfile,
    pub station: String,
    pub operator: String,
    pub updated_at: String,
}

/// One transaction of a backend. Every method runs SQL inside it; nothing is visible to others until the
/// transaction commits, and an error rolls all of it back.
pub(crate) trait Tx {
    /// Serializes writers: PostgreSQL locks the chain-head row; SQLite already holds the write lock.
    fn lock_chain(&mut self) -> Result<(), LedgerError>;
    fn chain_head(&mut self) -> Result<ChainHead, LedgerError>;
    fn set_chain_head(&mut self, seq: i64, hash: &[u8; 32]) -> Result<(), LedgerError>;
    fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<(), LedgerError>;
    /// Creates the block's counter if it is new; returns the block's stored end.
    fn ensure_block(&mut self, start: Eui64, end: Eui64) -> Result<Eui64, LedgerError>;
    /// Takes the block's next offset if it is at most `last_offset`, atomically.
    fn take_from_block(&mut self, start: Eui64, last_offset: u64) -> Result<Option<u64>, LedgerError>;
    fn live_holder(&mut self, key: LiveKey) -> Result<Option<Holder>, LedgerError>;
    fn secret_holder(&mut self, column: SecretColumn, fingerprint: &str) -> Result<Option<Holder>, LedgerError>;
    fn insert_attempt(&mut self, row: &NewAttempt<'_>) -> Result<i64, LedgerError>;
    fn attempt(&mut self, serial: i64) -> Result<Option<AttemptRow>, LedgerError>;
    fn set_state(&mut self, serial: i64, state: AttemptState, now: &str) -> Result<(), LedgerError>;
    /// Attempts of `station` that are reserved, programmed or verified, by serial.
    fn in_progress(&mut self, station: &str) -> Result<Vec<AttemptRow>, LedgerError>;
    fn committed(&mut self) -> Result<Vec<DeviceRecord>, LedgerError>;
    fn counts(&mut self) -> Result<Counts, LedgerError>;
    fn all_attempts(&mut self) -> Result<Vec<AuditRow>, LedgerError>;
    fn all_events(&mut self) -> Result<Vec<StoredEvent>, LedgerError> {
        self.events(None)
    }
    fn events(&mut self, serial: Option<i64>) -> Result<Vec<StoredEvent>, LedgerError>;
}

/// The device id's 64 bits as the BIGINT they are stored in.
pub(crate) fn device_id_to_sql(device_id: u64) -> i64 {
    i64::from_be_bytes(device_id.to_be_bytes())
}

/// The device id back from its BIGINT.
pub(crate) fn device_id_from_sql(stored: i64) -> u64 {
    u64::from_be_bytes(stored.to_be_bytes())
}

/// A block offset as stored (blocks hold at most 2⁶³ EUIs, so it always fits).
pub(crate) fn offset_to_sql(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// An EUI read back from the ledger.
pub(crate) fn eui_from_sql(column: &str, text: &str) -> Result<Eui64, LedgerError> {
    parse_hex_exact::<8>("EUI", text)
        .map(Eui64)
        .map_err(|_| LedgerError::Corrupt(format!("{column} {text:?} is not 16 hex digits")))
}

/// A 32-byte hash read back from the ledger.
pub(crate) fn hash_from_sql(column: &str, text: &str) -> Result<[u8; 32], LedgerError> {
    parse_hex_exact::<32>("hash", text).map_err(|_| LedgerError::Corrupt(format!("{column} is not 64 hex digits")))
}

/// Lower-case hex of a hash, as stored.
pub(crate) fn hash_to_sql(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// A state read back from the ledger.
pub(crate) fn state_from_sql(text: &str) -> Result<AttemptState, LedgerError> {
    text.parse()
}

impl CommittedRow {
    /// Parses the stored text into a record for exports.
    pub fn into_record(self) -> Result<DeviceRecord, LedgerError> {
        let app_key = AppKey::parse_app_key(&self.app_key_hex)
            .map_err(|_| LedgerError::Corrupt(format!("the AppKey of attempt {} is not a valid key", self.serial)))?;
        Ok(DeviceRecord {
            serial: self.serial,
            device_id: device_id_from_sql(self.device_id),
            dev_eui: eui_from_sql("dev_eui", &self.dev_eui)?,
            name: super::device_name(eui_from_sql("dev_eui", &self.dev_eui)?),
            join_eui: eui_from_sql("join_eui", &self.join_eui)?,
            app_key,
            network: self.network,
            station: self.station,
            operator: self.operator,
            committed_at: self.updated_at,
        })
    }
}
