//! Why a ledger operation was refused or failed. Every message says what happened and what to do, and none
//! holds a secret: an AppKey or password never reaches an error, and URLs are shown with the password as `***`.

use std::fmt;

use thiserror::Error;

use super::super::keys::Eui64;
use super::AttemptState;

/// Which value a duplicate was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DuplicateOf {
    /// A DevEUI held by a live attempt.
    DevEui,
    /// A device id held by a live attempt.
    DeviceId,
    /// An AppKey issued before (to any attempt, failed ones too).
    AppKey,
    /// An MQTT password issued before.
    MqttPassword,
}

impl fmt::Display for DuplicateOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DuplicateOf::DevEui => "DevEUI",
            DuplicateOf::DeviceId => "device id",
            DuplicateOf::AppKey => "AppKey",
            DuplicateOf::MqttPassword => "MQTT password",
        })
    }
}

/// A ledger operation that did not happen.
#[derive(Debug, Error)]
pub enum LedgerError {
    /// The server did not answer, or the file could not be opened or created.
    #[error(
        "cannot open the ledger ({reason}); check that the server runs and accepts us, or that the folder exists and is writable: {url}"
    )]
    Unreachable {
        /// The ledger URL, password shown as `***`.
        url: String,
        /// The cause, from the driver or the file system.
        reason: String,
    },
    /// Not a ledger URL.
    #[error(
        "not a ledger URL; use sqlite:PATH, a path ending in .db or .sqlite, or postgres://user@host/database: {url}"
    )]
    BadUrl {
        /// The URL given, password shown as `***`.
        url: String,
    },
    /// The value is already held or was already issued.
    #[error("duplicate {what}: {detail}")]
    Duplicate {
        /// Which value.
        what: DuplicateOf,
        /// Which attempt holds it and what to do; never the secret itself.
        detail: String,
    },
    /// Every EUI of the block has been handed out.
    #[error("every DevEUI of the block {start}..={end} has been handed out; put a new block in the template")]
    BlockExhausted {
        /// First EUI of the block.
        start: Eui64,
        /// Last EUI of the block.
        end: Eui64,
    },
    /// The block is known to the ledger with another end.
    #[error(
        "the ledger knows the DevEUI block starting at {start} as ending at {stored_end}, not {end}; use the same end, or a block with a new start"
    )]
    BlockMismatch {
        /// First EUI of the block.
        start: Eui64,
        /// Last EUI asked for.
        end: Eui64,
        /// Last EUI the ledger has for this block.
        stored_end: Eui64,
    },
    /// The block ends before it starts or holds more than 2⁶³ EUIs.
    #[error(
        "the DevEUI block {start}..={end} ends before it starts or is larger than 2^63 EUIs; fix the block in the template"
    )]
    BadBlock {
        /// First EUI of the block.
        start: Eui64,
        /// Last EUI of the block.
        end: Eui64,
    },
    /// No attempt has this serial.
    #[error("the ledger has no attempt with serial {0}; check the serial")]
    NotFound(i64),
    /// The attempt is not in a state the operation starts from.
    #[error("attempt {serial} is {from}, so it cannot become {to}; {hint}", hint = transition_hint(*.to))]
    BadTransition {
        /// The attempt.
        serial: i64,
        /// Its state.
        from: AttemptState,
        /// The state asked for.
        to: AttemptState,
    },
    /// The ledger was made by another version of the schema.
    #[error(
        "the ledger has schema version {found} and this Benchtop reads version {expected}; use a matching Benchtop"
    )]
    SchemaVersion {
        /// Version in the ledger.
        found: String,
        /// Version this code reads.
        expected: u32,
    },
    /// A row that this code cannot read.
    #[error("the ledger holds a damaged row: {0}; run the ledger check and repair it from a backup")]
    Corrupt(String),
    /// The OS random source failed while creating the ledger secret.
    #[error("the OS random source failed ({0}), so no ledger secret could be made; try again")]
    Random(String),
    /// Any other database failure (message and code only, never row values).
    #[error("the ledger database failed: {0}; try again, and check the database if it persists")]
    Database(String),
}

fn transition_hint(to: AttemptState) -> &'static str {
    match to {
        AttemptState::Programmed => "only a reserved attempt is programmed",
        AttemptState::Verified => "only a programmed attempt is verified",
        AttemptState::Committed => "only a verified attempt is committed",
        AttemptState::Failed => "committed and failed attempts are final",
        AttemptState::Reserved => "attempts start reserved",
    }
}
