//! The ledger in a SQLite file, which several stations (processes) on one machine may share.
//!
//! The file is created owner-only (0600) before SQLite opens it, and an existing file that others may read is
//! tightened with a warning, since it holds AppKeys. Writers take the database lock at the start of their
//! transaction (`BEGIN IMMEDIATE`) and wait up to [`BUSY_TIMEOUT`] for it, so the block counters and the event
//! chain advance one writer at a time. The journal is in WAL mode, so readers do not stop writers, with
//! `synchronous = FULL`, so a committed transaction is on disk when the call returns.

use std::fs::{self, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params};

use super::super::keys::os_random;
use super::super::record::{DeviceRecord, NetworkProfile};
use super::store::{
    AttemptRow, AuditRow, ChainHead, CommittedRow, Holder, LiveKey, NewAttempt, NewEvent, SecretColumn, StoredEvent,
    Tx, device_id_from_sql, device_id_to_sql, eui_from_sql, hash_from_sql, hash_to_sql, offset_to_sql, state_from_sql,
};
use super::{AttemptState, Counts, DuplicateOf, Event, LedgerError, SCHEMA_VERSION, chain};

/// How long a writer waits for another station's transaction before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    serial            INTEGER PRIMARY KEY AUTOINCREMENT,
    station           TEXT NOT NULL,
    operator          TEXT NOT NULL,
    device_id         INTEGER NOT NULL,
    dev_eui           TEXT NOT NULL,
    join_eui          TEXT NOT NULL,
    app_key           TEXT NOT NULL,
    app_key_fp        TEXT NOT NULL UNIQUE,
    mqtt_client_id    TEXT,
    mqtt_user         TEXT,
    mqtt_password     TEXT,
    mqtt_password_fp  TEXT UNIQUE,
    mac_version       TEXT NOT NULL,
    phy_version       TEXT NOT NULL,
    frequency_plan_id TEXT NOT NULL,
    tr005_profile_id  TEXT NOT NULL,
    state             TEXT NOT NULL
        CHECK (state IN ('reserved', 'programmed', 'verified', 'committed', 'failed')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS attempts_live_dev_eui ON attempts (dev_eui) WHERE state <> 'failed';
CREATE UNIQUE INDEX IF NOT EXISTS attempts_live_device_id ON attempts (device_id) WHERE state <> 'failed';
CREATE INDEX IF NOT EXISTS attempts_station_state ON attempts (station, state);
CREATE TABLE IF NOT EXISTS dev_eui_blocks (
    start_eui   TEXT PRIMARY KEY,
    end_eui     TEXT NOT NULL,
    next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    station   TEXT NOT NULL,
    operator  TEXT NOT NULL,
    serial    INTEGER REFERENCES attempts (serial),
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_serial ON events (serial);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'ledger events are append-only: an event cannot be changed');
END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'ledger events are append-only: an event cannot be deleted');
END;
CREATE TABLE IF NOT EXISTS chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"#;

/// An open SQLite ledger.
pub(crate) struct SqliteStore {
    conn: Connection,
}

/// Creates `path` owner-only if it is new; makes an existing file owner-only if it is not.
fn secure_file(path: &Path) -> std::io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let mode = fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the ledger file could be read by others; it holds AppKeys, so it is now owner-only (0600)"
                );
                fs::set_permissions(path, Permissions::from_mode(0o600))?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

impl SqliteStore {
    /// Opens or creates the ledger file; returns it with the ledger secret.
    pub fn open(path: &str, url_redacted: &str) -> Result<(SqliteStore, [u8; 32]), LedgerError> {
        let unreachable = |reason: String| LedgerError::Unreachable { url: url_redacted.to_owned(), reason };
        secure_file(Path::new(path)).map_err(|e| unreachable(e.to_string()))?;
        let mut conn = Connection::open(path).map_err(|e| unreachable(e.to_string()))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| unreachable(e.to_string()))?;
        let setup = |conn: &mut Connection| -> Result<[u8; 32], LedgerError> {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
                .map_err(sql_error)?;
            // A commit must survive a power cut: the device ships with what the ledger says it has.
            conn.pragma_update(None, "synchronous", "FULL").map_err(sql_error)?;
            conn.pragma_update(None, "foreign_keys", true).map_err(sql_error)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql_error)?;
            tx.execute_batch(SCHEMA).map_err(sql_error)?;
            let secret = meta_secret(&tx)?;
            tx.execute(
                "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, ?1) ON CONFLICT (id) DO NOTHING",
                params![hash_to_sql(&chain::GENESIS)],
            )
            .map_err(sql_error)?;
            tx.commit().map_err(sql_error)?;
            Ok(secret)
        };
        match setup(&mut conn) {
            Ok(secret) => Ok((SqliteStore { conn }, secret)),
            // A file that is not a ledger (or not SQLite) is as unusable as a missing one.
            Err(LedgerError::Database(reason)) => Err(unreachable(reason)),
            Err(other) => Err(other),
        }
    }

    /// Runs `f` in a transaction: `BEGIN IMMEDIATE` for writes, a deferred read snapshot otherwise.
    pub fn transaction<T>(
        &mut self,
        write: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let behavior = if write { TransactionBehavior::Immediate } else { TransactionBehavior::Deferred };
        let tx = self.conn.transaction_with_behavior(behavior).map_err(sql_error)?;
        let out = f(&mut SqliteTx { tx: &tx })?;
        tx.commit().map_err(sql_error)?;
        Ok(out)
    }
}

/// Reads the ledger secret, creating it (and the schema version) in a new ledger.
fn meta_secret(tx: &Transaction<'_>) -> Result<[u8; 32], LedgerError> {
    let get = |key: &str| -> Result<Option<String>, LedgerError> {
        tx.query_row("SELECT value FROM ledger_meta WHERE key = ?1", [key], |row| row.get(0))
            .optional()
            .map_err(sql_error)
    };
    match get("schema_version")? {
        Some(found) if found != SCHEMA_VERSION.to_string() => {
            return Err(LedgerError::SchemaVersion { found, expected: SCHEMA_VERSION });
        }
        Some(_) => {}
        None => {
            let mut secret = [0u8; 32];
            os_random(&mut secret).map_err(|e| LedgerError::Random(e.to_string()))?;
            tx.execute(
                "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?1), ('ledger_secret', ?2)",
                params![SCHEMA_VERSION.to_string(), hash_to_sql(&secret)],
            )
            .map_err(sql_error)?;
        }
    }
    let secret =
        get("ledger_secret")?.ok_or_else(|| LedgerError::Corrupt("ledger_meta has no ledger_secret".into()))?;
    hash_from_sql("ledger_secret", &secret)
}

/// A SQLite error as a ledger error: unique violations name the value, the rest keep SQLite's message (which
/// names columns, never values).
fn sql_error(error: rusqlite::Error) -> LedgerError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error
        && failure.code == ErrorCode::ConstraintViolation
    {
        let message = message.clone().unwrap_or_default();
        let what = if message.contains("app_key_fp") {
            Some(DuplicateOf::AppKey)
        } else if message.contains("mqtt_password_fp") {
            Some(DuplicateOf::MqttPassword)
        } else if message.contains("dev_eui") {
            Some(DuplicateOf::DevEui)
        } else if message.contains("device_id") {
            Some(DuplicateOf::DeviceId)
        } else {
            None
        };
        if let Some(what) = what
            && message.starts_with("UNIQUE")
        {
            return LedgerError::Duplicate {
                what,
                detail: format!("the database refused a second {what} ({message}); use another {what}"),
            };
        }
    }
    LedgerError::Database(error.to_string())
}

struct SqliteTx<'a> {
    tx: &'a Transaction<'a>,
}

const ATTEMPT_COLUMNS: &str = "serial, station, operator, device_id, dev_eui, state";

fn attempt_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, i64, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn parse_attempt(raw: (i64, String, String, i64, String, String)) -> Result<AttemptRow, LedgerError> {
    let (serial, station, operator, device_id, dev_eui, state) = raw;
    Ok(AttemptRow {
        serial,
        station,
        operator,
        device_id: device_id_from_sql(device_id),
        dev_eui: eui_from_sql("dev_eui", &dev_eui)?,
        state: state_from_sql(&state)?,
    })
}

fn holder(raw: Option<(i64, String)>) -> Result<Option<Holder>, LedgerError> {
    raw.map(|(serial, state)| Ok(Holder { serial, state: state_from_sql(&state)? })).transpose()
}

impl Tx for SqliteTx<'_> {
    fn lock_chain(&mut self) -> Result<(), LedgerError> {
        // BEGIN IMMEDIATE already holds the only write lock of the file.
        Ok(())
    }

    fn chain_head(&mut self) -> Result<ChainHead, LedgerError> {
        let (seq, hash): (i64, String) = self
            .tx
            .prepare_cached("SELECT seq, hash FROM chain_head WHERE id = 1")
            .and_then(|mut stmt| stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?))))
            .map_err(sql_error)?;
        Ok(ChainHead { seq, hash: hash_from_sql("chain_head.hash", &hash)? })
    }

    fn set_chain_head(&mut self, seq: i64, hash: &[u8; 32]) -> Result<(), LedgerError> {
        self.tx
            .prepare_cached("UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1")
            .and_then(|mut stmt| stmt.execute(params![seq, hash_to_sql(hash)]))
            .map_err(sql_error)?;
        Ok(())
    }

    fn insert_event(&mut self, new: &NewEvent<'_>) -> Result<(), LedgerError> {
        let e = new.event;
        self.tx
            .prepare_cached(
                "INSERT INTO events (seq, at, station, operator, serial, kind, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    e.seq,
                    e.at,
                    e.station,
                    e.operator,
                    e.serial,
                    e.kind,
                    e.detail,
                    hash_to_sql(&new.prev_hash),
                    hash_to_sql(&new.hash)
                ])
            })
            .map_err(sql_error)?;
        Ok(())
    }

    fn ensure_block(&mut self, start: super::Eui64, end: super::Eui64) -> Result<super::Eui64, LedgerError> {
        self.tx
            .prepare_cached(
                "INSERT INTO dev_eui_blocks (start_eui, end_eui, next_offset) VALUES (?1, ?2, 0)
                 ON CONFLICT (start_eui) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![start.to_string(), end.to_string()]))
            .map_err(sql_error)?;
        let stored: String = self
            .tx
            .prepare_cached("SELECT end_eui FROM dev_eui_blocks WHERE start_eui = ?1")
            .and_then(|mut stmt| stmt.query_row([start.to_string()], |row| row.get(0)))
            .map_err(sql_error)?;
        eui_from_sql("dev_eui_blocks.end_eui", &stored)
    }

    fn take_from_block(&mut self, start: super::Eui64, last_offset: u64) -> Result<Option<u64>, LedgerError> {
        let taken: Option<i64> = self
            .tx
            .prepare_cached(
                "UPDATE dev_eui_blocks SET next_offset = next_offset + 1
                 WHERE start_eui = ?1 AND next_offset <= ?2 RETURNING next_offset - 1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![start.to_string(), offset_to_sql(last_offset)], |row| row.get(0)).optional()
            })
            .map_err(sql_error)?;
        taken
            .map(|offset| {
                u64::try_from(offset).map_err(|_| LedgerError::Corrupt(format!("block {start} has a negative counter")))
            })
            .transpose()
    }

    fn live_holder(&mut self, key: LiveKey) -> Result<Option<Holder>, LedgerError> {
        let raw: Option<(i64, String)> = match key {
            LiveKey::DevEui(eui) => self
                .tx
                .prepare_cached("SELECT serial, state FROM attempts WHERE dev_eui = ?1 AND state <> 'failed'")
                .and_then(|mut stmt| {
                    stmt.query_row([eui.to_string()], |row| Ok((row.get(0)?, row.get(1)?))).optional()
                }),
            LiveKey::DeviceId(id) => self
                .tx
                .prepare_cached("SELECT serial, state FROM attempts WHERE device_id = ?1 AND state <> 'failed'")
                .and_then(|mut stmt| {
                    stmt.query_row([device_id_to_sql(id)], |row| Ok((row.get(0)?, row.get(1)?))).optional()
                }),
        }
        .map_err(sql_error)?;
        holder(raw)
    }

    fn secret_holder(&mut self, column: SecretColumn, fingerprint: &str) -> Result<Option<Holder>, LedgerError> {
        let sql = match column {
            SecretColumn::AppKey => "SELECT serial, state FROM attempts WHERE app_key_fp = ?1",
            SecretColumn::MqttPassword => "SELECT serial, state FROM attempts WHERE mqtt_password_fp = ?1",
        };
        let raw: Option<(i64, String)> = self
            .tx
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_row([fingerprint], |row| Ok((row.get(0)?, row.get(1)?))).optional())
            .map_err(sql_error)?;
        holder(raw)
    }

    fn insert_attempt(&mut self, row: &NewAttempt<'_>) -> Result<i64, LedgerError> {
        let network = row.network;
        self.tx
            .prepare_cached(
                "INSERT INTO attempts (station, operator, device_id, dev_eui, join_eui, app_key, app_key_fp,
                    mqtt_client_id, mqtt_user, mqtt_password, mqtt_password_fp,
                    mac_version, phy_version, frequency_plan_id, tr005_profile_id, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'reserved', ?16, ?16)
                 RETURNING serial",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![
                        row.station,
                        row.operator,
                        device_id_to_sql(row.device_id),
                        row.dev_eui.to_string(),
                        row.join_eui.to_string(),
                        row.app_key_hex,
                        row.app_key_fp,
                        row.mqtt.map(|m| m.client_id.as_str()),
                        row.mqtt.map(|m| m.user.as_str()),
                        row.mqtt.map(|m| m.password.expose().as_str()),
                        row.mqtt_password_fp,
                        network.mac_version,
                        network.phy_version,
                        network.frequency_plan_id,
                        network.tr005_profile_id,
                        row.now,
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(sql_error)
    }

    fn attempt(&mut self, serial: i64) -> Result<Option<AttemptRow>, LedgerError> {
        let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE serial = ?1");
        let raw = self
            .tx
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.query_row([serial], attempt_row).optional())
            .map_err(sql_error)?;
        raw.map(parse_attempt).transpose()
    }

    fn set_state(&mut self, serial: i64, state: AttemptState, now: &str) -> Result<(), LedgerError> {
        self.tx
            .prepare_cached("UPDATE attempts SET state = ?1, updated_at = ?2 WHERE serial = ?3")
            .and_then(|mut stmt| stmt.execute(params![state.as_str(), now, serial]))
            .map_err(sql_error)?;
        Ok(())
    }

    fn in_progress(&mut self, station: &str) -> Result<Vec<AttemptRow>, LedgerError> {
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts
             WHERE station = ?1 AND state IN ('reserved', 'programmed', 'verified') ORDER BY serial"
        );
        let raws = self
            .tx
            .prepare(&sql)
            .and_then(|mut stmt| stmt.query_map([station], attempt_row)?.collect::<Result<Vec<_>, _>>())
            .map_err(sql_error)?;
        raws.into_iter().map(parse_attempt).collect()
    }

    fn committed(&mut self) -> Result<Vec<DeviceRecord>, LedgerError> {
        let raws = self
            .tx
            .prepare(
                "SELECT serial, device_id, dev_eui, join_eui, app_key, mac_version, phy_version, frequency_plan_id,
                        tr005_profile_id, station, operator, updated_at
                 FROM attempts WHERE state = 'committed' ORDER BY serial",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(CommittedRow {
                        serial: row.get(0)?,
                        device_id: row.get(1)?,
                        dev_eui: row.get(2)?,
                        join_eui: row.get(3)?,
                        app_key_hex: row.get(4)?,
                        network: NetworkProfile {
                            mac_version: row.get(5)?,
                            phy_version: row.get(6)?,
                            frequency_plan_id: row.get(7)?,
                            tr005_profile_id: row.get(8)?,
                        },
                        station: row.get(9)?,
                        operator: row.get(10)?,
                        updated_at: row.get(11)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_error)?;
        raws.into_iter().map(CommittedRow::into_record).collect()
    }

    fn counts(&mut self) -> Result<Counts, LedgerError> {
        self.tx
            .query_row(
                "SELECT
                    COALESCE(SUM(state = 'committed'), 0),
                    COALESCE(SUM(state = 'failed'), 0),
                    COALESCE(SUM(state IN ('reserved', 'programmed', 'verified')), 0)
                 FROM attempts",
                [],
                |row| {
                    let get = |i: usize| row.get::<_, i64>(i).map(i64::unsigned_abs);
                    Ok(Counts { committed: get(0)?, failed: get(1)?, in_progress: get(2)? })
                },
            )
            .map_err(sql_error)
    }

    fn all_attempts(&mut self) -> Result<Vec<AuditRow>, LedgerError> {
        self.tx
            .prepare(
                "SELECT serial, station, device_id, dev_eui, state, app_key, app_key_fp, mqtt_password,
                        mqtt_password_fp, updated_at
                 FROM attempts ORDER BY serial",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok(AuditRow {
                        serial: row.get(0)?,
                        station: row.get(1)?,
                        device_id: device_id_from_sql(row.get(2)?),
                        dev_eui: row.get(3)?,
                        state: row.get(4)?,
                        app_key_hex: row.get(5)?,
                        app_key_fp: row.get(6)?,
                        mqtt_password: row.get(7)?,
                        mqtt_password_fp: row.get(8)?,
                        updated_at: row.get(9)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_error)
    }

    fn events(&mut self, serial: Option<i64>) -> Result<Vec<StoredEvent>, LedgerError> {
        let sql = "SELECT seq, at, station, operator, serial, kind, detail, prev_hash, hash FROM events
                   WHERE ?1 IS NULL OR serial = ?1 ORDER BY seq";
        self.tx
            .prepare(sql)
            .and_then(|mut stmt| {
                stmt.query_map([serial], |row| {
                    Ok(StoredEvent {
                        event: Event {
                            seq: row.get(0)?,
                            at: row.get(1)?,
                            station: row.get(2)?,
                            operator: row.get(3)?,
                            serial: row.get(4)?,
                            kind: row.get(5)?,
                            detail: row.get(6)?,
                        },
                        prev_hash: row.get(7)?,
                        hash: row.get(8)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_error)
    }
}
