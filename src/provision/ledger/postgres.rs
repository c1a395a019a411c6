//! The ledger in a PostgreSQL database, shared by the stations of a line.
//!
//! Every write transaction first locks the single chain-head row (`SELECT … FOR UPDATE`), so writers from all
//! stations advance the event chain, the block counters and the uniqueness checks one at a time; the unique
//! indexes stay as the last word in case another tool writes without that lock. Schema creation is guarded
//! by a transaction-scoped advisory lock so stations starting together do not race. Reads run in a read-only
//! REPEATABLE READ transaction, one consistent snapshot.
//!
//! The connection is plain TCP (no TLS): run the server on the line's own network or reach it through a
//! tunnel. The `postgres` client runs its own tokio runtime; do not call it from inside an async context.

use std::collections::HashMap;
use std::time::Duration;

use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::{Client, Config, IsolationLevel, NoTls, Row, Statement, Transaction};

use super::super::keys::{Eui64, os_random};
use super::super::record::{DeviceRecord, NetworkProfile};
use super::store::{
    AttemptRow, AuditRow, ChainHead, CommittedRow, Holder, LiveKey, NewAttempt, NewEvent, SecretColumn, StoredEvent,
    Tx, device_id_from_sql, device_id_to_sql, eui_from_sql, hash_from_sql, hash_to_sql, offset_to_sql, state_from_sql,
};
use super::{AttemptState, Counts, DuplicateOf, Event, LedgerError, SCHEMA_VERSION, chain};

/// How long opening waits for the server before reporting it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Key of the advisory lock that serializes schema creation ("BTLEDGER" in ASCII).
const SCHEMA_LOCK_KEY: i64 = 0x4254_4C45_4447_4552;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    serial            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    station           TEXT NOT NULL,
    operator          TEXT NOT NULL,
    device_id         BIGINT NOT NULL,
    dev_eui           TEXT NOT NULL,
    join_eui          TEXT NOT NULL,
    app_key           TEXT NOT NULL,
    app_key_fp        TEXT NOT NULL,
    mqtt_client_id    TEXT,
    mqtt_user         TEXT,
    mqtt_password     TEXT,
    mqtt_password_fp  TEXT,
    mac_version       TEXT NOT NULL,
    phy_version       TEXT NOT NULL,
    frequency_plan_id TEXT NOT NULL,
    tr005_profile_id  TEXT NOT NULL,
    state             TEXT NOT NULL
        CHECK (state IN ('reserved', 'programmed', 'verified', 'committed', 'failed')),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CONSTRAINT attempts_app_key_fp_unique UNIQUE (app_key_fp),
    CONSTRAINT attempts_mqtt_password_fp_unique UNIQUE (mqtt_password_fp)
);
CREATE UNIQUE INDEX IF NOT EXISTS attempts_live_dev_eui ON attempts (dev_eui) WHERE state <> 'failed';
CREATE UNIQUE INDEX IF NOT EXISTS attempts_live_device_id ON attempts (device_id) WHERE state <> 'failed';
CREATE INDEX IF NOT EXISTS attempts_station_state ON attempts (station, state);
CREATE TABLE IF NOT EXISTS dev_eui_blocks (
    start_eui   TEXT PRIMARY KEY,
    end_eui     TEXT NOT NULL,
    next_offset BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq       BIGINT PRIMARY KEY,
    at        TEXT NOT NULL,
    station   TEXT NOT NULL,
    operator  TEXT NOT NULL,
    serial    BIGINT REFERENCES attempts (serial),
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_serial ON events (serial);
CREATE OR REPLACE FUNCTION ledger_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger events are append-only: an event cannot be changed or deleted';
END
$$;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_no_change' AND tgrelid = 'events'::regclass) THEN
        CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION ledger_events_append_only();
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'events_no_truncate' AND tgrelid = 'events'::regclass) THEN
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_append_only();
    END IF;
END
$$;
CREATE TABLE IF NOT EXISTS chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
"#;

/// An open PostgreSQL ledger.
pub(crate) struct PgStore {
    client: Client,
    /// Statements prepared once per connection (each saves a round trip per call).
    statements: HashMap<&'static str, Statement>,
}

impl PgStore {
    /// Connects, creates the schema if it is missing, and returns the store with the ledger secret.
    pub fn open(url: &str, url_redacted: &str) -> Result<(PgStore, [u8; 32]), LedgerError> {
        let unreachable = |reason: String| LedgerError::Unreachable { url: url_redacted.to_owned(), reason };
        let mut config: Config = url.parse().map_err(|e: ::postgres::Error| unreachable(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let mut client = config.connect(NoTls).map_err(|e| unreachable(e.to_string()))?;
        let secret = {
            let mut tx = client.transaction().map_err(pg_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK_KEY]).map_err(pg_error)?;
            tx.batch_execute(SCHEMA).map_err(pg_error)?;
            let secret = meta_secret(&mut tx)?;
            tx.execute(
                "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, $1) ON CONFLICT (id) DO NOTHING",
                &[&hash_to_sql(&chain::GENESIS)],
            )
            .map_err(pg_error)?;
            tx.commit().map_err(pg_error)?;
            secret
        };
        Ok((PgStore { client, statements: HashMap::new() }, secret))
    }

    /// Runs `f` in a transaction: read committed for writes (which lock the chain head), a read-only
    /// repeatable-read snapshot otherwise.
    pub fn transaction<T>(
        &mut self,
        write: bool,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut tx = if write {
            self.client.transaction()
        } else {
            self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()
        }
        .map_err(pg_error)?;
        let out = f(&mut PgTx { tx: &mut tx, statements: &mut self.statements })?;
        tx.commit().map_err(pg_error)?;
        Ok(out)
    }
}

/// Reads the ledger secret, creating it (and the schema version) in a new ledger.
fn meta_secret(tx: &mut Transaction<'_>) -> Result<[u8; 32], LedgerError> {
    let mut get = |key: &str| -> Result<Option<String>, LedgerError> {
        let row = tx.query_opt("SELECT value FROM ledger_meta WHERE key = $1", &[&key]).map_err(pg_error)?;
        row.map(|row| row.try_get(0).map_err(pg_error)).transpose()
    };
    let version = get("schema_version")?;
    let stored_secret = get("ledger_secret")?;
    let secret = match (version, stored_secret) {
        (Some(found), _) if found != SCHEMA_VERSION.to_string() => {
            return Err(LedgerError::SchemaVersion { found, expected: SCHEMA_VERSION });
        }
        (Some(_), Some(secret)) => hash_from_sql("ledger_secret", &secret)?,
        (Some(_), None) => return Err(LedgerError::Corrupt("ledger_meta has no ledger_secret".into())),
        (None, _) => {
            let mut secret = [0u8; 32];
            os_random(&mut secret).map_err(|e| LedgerError::Random(e.to_string()))?;
            tx.execute(
                "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', $1), ('ledger_secret', $2)",
                &[&SCHEMA_VERSION.to_string(), &hash_to_sql(&secret)],
            )
            .map_err(pg_error)?;
            secret
        }
    };
    Ok(secret)
}

/// A PostgreSQL error as a ledger error: unique violations name the value; other server errors keep severity,
/// message and SQLSTATE but not the DETAIL, which may quote a whole row (secrets included).
fn pg_error(error: ::postgres::Error) -> LedgerError {
    if let Some(db) = error.as_db_error() {
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            let what = match db.constraint().unwrap_or_default() {
                "attempts_app_key_fp_unique" => Some(DuplicateOf::AppKey),
                "attempts_mqtt_password_fp_unique" => Some(DuplicateOf::MqttPassword),
                "attempts_live_dev_eui" => Some(DuplicateOf::DevEui),
                "attempts_live_device_id" => Some(DuplicateOf::DeviceId),
                _ => None,
            };
            if let Some(what) = what {
                return LedgerError::Duplicate {
                    what,
                    detail: format!("the database refused a second {what}; use another {what}"),
                };
            }
        }
        return LedgerError::Database(format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code()));
    }
    if error.is_closed() {
        return LedgerError::Database("the connection to the server was lost".into());
    }
    LedgerError::Database(error.to_string())
}

struct PgTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    statements: &'a mut HashMap<&'static str, Statement>,
}

impl PgTx<'_, '_> {
    fn statement(&mut self, sql: &'static str) -> Result<Statement, LedgerError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql).map_err(pg_error)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    fn query(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, LedgerError> {
        let statement = self.statement(sql)?;
        self.tx.query(&statement, params).map_err(pg_error)
    }

    fn query_opt(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, LedgerError> {
        let statement = self.statement(sql)?;
        self.tx.query_opt(&statement, params).map_err(pg_error)
    }

    fn query_one(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, LedgerError> {
        let statement = self.statement(sql)?;
        self.tx.query_one(&statement, params).map_err(pg_error)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, LedgerError> {
        let statement = self.statement(sql)?;
        self.tx.execute(&statement, params).map_err(pg_error)
    }
}

/// Column `index` of `row`, as a ledger error if its type is not the expected one.
fn get<'r, T: ::postgres::types::FromSql<'r>>(row: &'r Row, index: usize) -> Result<T, LedgerError> {
    row.try_get(index).map_err(pg_error)
}

fn holder(row: Option<Row>) -> Result<Option<Holder>, LedgerError> {
    row.map(|row| Ok(Holder { serial: get(&row, 0)?, state: state_from_sql(get(&row, 1)?)? })).transpose()
}

fn attempt_row(row: &Row) -> Result<AttemptRow, LedgerError> {
    Ok(AttemptRow {
        serial: get(row, 0)?,
        station: get(row, 1)?,
        operator: get(row, 2)?,
        device_id: device_id_from_sql(get(row, 3)?),
        dev_eui: eui_from_sql("dev_eui", get(row, 4)?)?,
        state: state_from_sql(get(row, 5)?)?,
    })
}

impl Tx for PgTx<'_, '_> {
    fn lock_chain(&mut self) -> Result<(), LedgerError> {
        self.query_one("SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE", &[])?;
        Ok(())
    }

    fn chain_head(&mut self) -> Result<ChainHead, LedgerError> {
        let row = self.query_one("SELECT seq, hash FROM chain_head WHERE id = 1", &[])?;
        Ok(ChainHead { seq: get(&row, 0)?, hash: hash_from_sql("chain_head.hash", get(&row, 1)?)? })
    }

    fn set_chain_head(&mut self, seq: i64, hash: &[u8; 32]) -> Result<(), LedgerError> {
        self.execute("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1", &[&seq, &hash_to_sql(hash)])?;
        Ok(())
    }

    fn insert_event(&mut self, new: &NewEvent<'_>) -> Result<(), LedgerError> {
        let e = new.event;
        self.execute(
            "INSERT INTO events (seq, at, station, operator, serial, kind, detail, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &e.seq,
                &e.at,
                &e.station,
                &e.operator,
                &e.serial,
                &e.kind,
                &e.detail,
                &hash_to_sql(&new.prev_hash),
                &hash_to_sql(&new.hash),
            ],
        )?;
        Ok(())
    }

    fn ensure_block(&mut self, start: Eui64, end: Eui64) -> Result<Eui64, LedgerError> {
        let (start, end) = (start.to_string(), end.to_string());
        self.execute(
            "INSERT INTO dev_eui_blocks (start_eui, end_eui, next_offset) VALUES ($1, $2, 0)
             ON CONFLICT (start_eui) DO NOTHING",
            &[&start, &end],
        )?;
        let row = self.query_one("SELECT end_eui FROM dev_eui_blocks WHERE start_eui = $1", &[&start])?;
        eui_from_sql("dev_eui_blocks.end_eui", get(&row, 0)?)
    }

    fn take_from_block(&mut self, start: Eui64, last_offset: u64) -> Result<Option<u64>, LedgerError> {
        let row = self.query_opt(
            "UPDATE dev_eui_blocks SET next_offset = next_offset + 1
             WHERE start_eui = $1 AND next_offset <= $2 RETURNING next_offset - 1",
            &[&start.to_string(), &offset_to_sql(last_offset)],
        )?;
        row.map(|row| {
            let offset: i64 = get(&row, 0)?;
            u64::try_from(offset).map_err(|_| LedgerError::Corrupt(format!("block {start} has a negative counter")))
        })
        .transpose()
    }

    fn live_holder(&mut self, key: LiveKey) -> Result<Option<Holder>, LedgerError> {
        let row = match key {
            LiveKey::DevEui(eui) => self.query_opt(
                "SELECT serial, state FROM attempts WHERE dev_eui = $1 AND state <> 'failed'",
                &[&eui.to_string()],
            )?,
            LiveKey::DeviceId(id) => self.query_opt(
                "SELECT serial, state FROM attempts WHERE device_id = $1 AND state <> 'failed'",
                &[&device_id_to_sql(id)],
            )?,
        };
        holder(row)
    }

    fn secret_holder(&mut self, column: SecretColumn, fingerprint: &str) -> Result<Option<Holder>, LedgerError> {
        let sql = match column {
            SecretColumn::AppKey => "SELECT serial, state FROM attempts WHERE app_key_fp = $1",
            SecretColumn::MqttPassword => "SELECT serial, state FROM attempts WHERE mqtt_password_fp = $1",
        };
        let row = self.query_opt(sql, &[&fingerprint])?;
        holder(row)
    }

    fn insert_attempt(&mut self, row: &NewAttempt<'_>) -> Result<i64, LedgerError> {
        let network = row.network;
        let inserted = self.query_one(
            "INSERT INTO attempts (station, operator, device_id, dev_eui, join_eui, app_key, app_key_fp,
                mqtt_client_id, mqtt_user, mqtt_password, mqtt_password_fp,
                mac_version, phy_version, frequency_plan_id, tr005_profile_id, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'reserved', $16, $16)
             RETURNING serial",
            &[
                &row.station,
                &row.operator,
                &device_id_to_sql(row.device_id),
                &row.dev_eui.to_string(),
                &row.join_eui.to_string(),
                &row.app_key_hex,
                &row.app_key_fp,
                &row.mqtt.map(|m| m.client_id.as_str()),
                &row.mqtt.map(|m| m.user.as_str()),
                &row.mqtt.map(|m| m.password.expose().as_str()),
                &row.mqtt_password_fp,
                &network.mac_version,
                &network.phy_version,
                &network.frequency_plan_id,
                &network.tr005_profile_id,
                &row.now,
            ],
        )?;
        get(&inserted, 0)
    }

    fn attempt(&mut self, serial: i64) -> Result<Option<AttemptRow>, LedgerError> {
        let row = self.query_opt(
            "SELECT serial, station, operator, device_id, dev_eui, state FROM attempts WHERE serial = $1",
            &[&serial],
        )?;
        row.as_ref().map(attempt_row).transpose()
    }

    fn set_state(&mut self, serial: i64, state: AttemptState, now: &str) -> Result<(), LedgerError> {
        self.execute(
            "UPDATE attempts SET state = $1, updated_at = $2 WHERE serial = $3",
            &[&state.as_str(), &now, &serial],
        )?;
        Ok(())
    }

    fn in_progress(&mut self, station: &str) -> Result<Vec<AttemptRow>, LedgerError> {
        let rows = self.query(
            "SELECT serial, station, operator, device_id, dev_eui, state FROM attempts
             WHERE station = $1 AND state IN ('reserved', 'programmed', 'verified') ORDER BY serial",
            &[&station],
        )?;
        rows.iter().map(attempt_row).collect()
    }

    fn committed(&mut self) -> Result<Vec<DeviceRecord>, LedgerError> {
        let rows = self.query(
            "SELECT serial, device_id, dev_eui, join_eui, app_key, mac_version, phy_version, frequency_plan_id,
                    tr005_profile_id, station, operator, updated_at
             FROM attempts WHERE state = 'committed' ORDER BY serial",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                CommittedRow {
                    serial: get(row, 0)?,
                    device_id: get(row, 1)?,
                    dev_eui: get(row, 2)?,
                    join_eui: get(row, 3)?,
                    app_key_hex: get(row, 4)?,
                    network: NetworkProfile {
                        mac_version: get(row, 5)?,
                        phy_version: get(row, 6)?,
                        frequency_plan_id: get(row, 7)?,
                        tr005_profile_id: get(row, 8)?,
                    },
                    station: get(row, 9)?,
                    operator: get(row, 10)?,
                    updated_at: get(row, 11)?,
                }
                .into_record()
            })
            .collect()
    }

    fn counts(&mut self) -> Result<Counts, LedgerError> {
        let row = self.query_one(
            "SELECT COUNT(*) FILTER (WHERE state = 'committed'),
                    COUNT(*) FILTER (WHERE state = 'failed'),
                    COUNT(*) FILTER (WHERE state IN ('reserved', 'programmed', 'verified'))
             FROM attempts",
            &[],
        )?;
        let count = |i: usize| get::<i64>(&row, i).map(i64::unsigned_abs);
        Ok(Counts { committed: count(0)?, failed: count(1)?, in_progress: count(2)? })
    }

    fn all_attempts(&mut self) -> Result<Vec<AuditRow>, LedgerError> {
        let rows = self.query(
            "SELECT serial, station, device_id, dev_eui, state, app_key, app_key_fp, mqtt_password,
                    mqtt_password_fp, updated_at
             FROM attempts ORDER BY serial",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                Ok(AuditRow {
                    serial: get(row, 0)?,
                    station: get(row, 1)?,
                    device_id: device_id_from_sql(get(row, 2)?),
                    dev_eui: get(row, 3)?,
                    state: get(row, 4)?,
                    app_key_hex: get(row, 5)?,
                    app_key_fp: get(row, 6)?,
                    mqtt_password: get(row, 7)?,
                    mqtt_password_fp: get(row, 8)?,
                    updated_at: get(row, 9)?,
                })
            })
            .collect()
    }

    fn events(&mut self, serial: Option<i64>) -> Result<Vec<StoredEvent>, LedgerError> {
        let rows = self.query(
            "SELECT seq, at, station, operator, serial, kind, detail, prev_hash, hash FROM events
             WHERE $1::BIGINT IS NULL OR serial = $1 ORDER BY seq",
            &[&serial],
        )?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    event: Event {
                        seq: get(row, 0)?,
                        at: get(row, 1)?,
                        station: get(row, 2)?,
                        operator: get(row, 3)?,
                        serial: get(row, 4)?,
                        kind: get(row, 5)?,
                        detail: get(row, 6)?,
                    },
                    prev_hash: get(row, 7)?,
                    hash: get(row, 8)?,
                })
            })
            .collect()
    }
}
