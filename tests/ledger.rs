#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The provisioning ledger against real databases: a SQLite file in a temporary folder and a PostgreSQL server
//! of its own (tests/support/postgres.rs). Each rule is tested on both backends through the same test body.

#[path = "support/postgres.rs"]
mod postgres_server;

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use benchtop::provision::keys::{AppKey, Eui64, Password};
use benchtop::provision::ledger::{
    AttemptState, CheckProblem, Counts, DevEuiSource, DuplicateOf, Ledger, LedgerError, MqttCredentials, ReserveRequest,
};
use benchtop::provision::record::NetworkProfile;
use postgres_server::PgServer;
use rand::{Rng, SeedableRng};

const HOUR: Duration = Duration::from_secs(3600);

fn profile() -> NetworkProfile {
    NetworkProfile {
        mac_version: "MAC_V1_0_4".into(),
        phy_version: "RP002_V1_0_3".into(),
        frequency_plan_id: "EU_863_870_TTN".into(),
        tr005_profile_id: "000AF8BE".into(),
    }
}

fn eui(value: u64) -> Eui64 {
    Eui64::from_u64(value)
}

fn request(station: &str, device_id: u64, dev_eui: DevEuiSource) -> ReserveRequest {
    ReserveRequest {
        station: station.into(),
        operator: "ana".into(),
        device_id,
        dev_eui,
        join_eui: eui(0x70B3_D57E_D000_0000),
        app_key: AppKey::generate_app_key().unwrap(),
        mqtt: None,
        network: profile(),
    }
}

fn fixed(device_id: u64) -> ReserveRequest {
    request("line-1", device_id, DevEuiSource::Fixed(eui(0x70B3_D57E_D100_0000 + device_id)))
}

fn mqtt(password: &str) -> Option<MqttCredentials> {
    Some(MqttCredentials { client_id: "dev".into(), user: "dev".into(), password: Password::new(password.to_owned()) })
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite:{}", dir.path().join("ledger.db").display())
}

fn program_verify_commit(ledger: &mut Ledger, serial: i64) {
    ledger.mark_programmed(serial).unwrap();
    ledger.mark_verified(serial).unwrap();
    ledger.commit(serial).unwrap();
}

/// Runs a test body once on a SQLite file and once on a PostgreSQL server.
macro_rules! on_both_backends {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                super::$body(&super::sqlite_url(&dir));
            }

            #[test]
            fn postgres() {
                let server = super::PgServer::start();
                super::$body(&server.url());
            }
        }
    )*};
}

on_both_backends!(
    lifecycle,
    the_database_itself_refuses_duplicates,
    live_duplicates_and_reissued_secrets,
    block_allocation,
    reconcile_fails_interrupted_attempts,
    tampered_events_break_the_chain,
    check_finds_duplicates_the_indexes_would_have_refused,
    concurrent_stations,
);

fn lifecycle(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let first = fixed(1);
    let reservation = ledger.reserve(&first).unwrap();
    assert_eq!(reservation.dev_eui, eui(0x70B3_D57E_D100_0001));
    assert_eq!(reservation.name, "eui-70b3d57ed1000001");
    assert!(matches!(
        ledger.commit(reservation.serial),
        Err(LedgerError::BadTransition { from: AttemptState::Reserved, to: AttemptState::Committed, .. })
    ));
    program_verify_commit(&mut ledger, reservation.serial);
    assert!(matches!(
        ledger.fail(reservation.serial, "too late"),
        Err(LedgerError::BadTransition { from: AttemptState::Committed, to: AttemptState::Failed, .. })
    ));
    assert!(matches!(ledger.mark_programmed(9999), Err(LedgerError::NotFound(9999))));

    let second = ledger.reserve(&fixed(2)).unwrap();
    ledger.mark_programmed(second.serial).unwrap();
    ledger.fail(second.serial, "read-back mismatch").unwrap();
    let third = ledger.reserve(&fixed(3)).unwrap();

    assert_eq!(ledger.counts().unwrap(), Counts { committed: 1, failed: 1, in_progress: 1 });
    let committed = ledger.committed().unwrap();
    assert_eq!(committed.len(), 1);
    let device = &committed[0];
    assert_eq!((device.serial, device.device_id, device.dev_eui), (reservation.serial, 1, reservation.dev_eui));
    assert_eq!(device.app_key.expose(), first.app_key.expose());
    assert_eq!(device.network, profile());
    assert_eq!(device.name, "eui-70b3d57ed1000001");
    assert!(humantime::parse_rfc3339(&device.committed_at).is_ok(), "{}", device.committed_at);

    let events = ledger.events(None).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["reserved", "programmed", "verified", "committed", "reserved", "programmed", "failed", "reserved"]
    );
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
    assert_eq!(events[6].detail, "read-back mismatch");
    assert!(events.iter().all(|e| e.at.ends_with('Z') && e.station == "line-1"));
    assert_eq!(ledger.events(Some(second.serial)).unwrap().len(), 3);
    assert_eq!(ledger.events(Some(third.serial)).unwrap().len(), 1);
    let key_hex = first.app_key.expose_hex();
    assert!(events.iter().all(|e| !e.detail.contains(&key_hex)));

    let report = ledger.check(HOUR).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!((report.rows, report.events), (3, 8));

    // A second connection sees the same ledger (same secret, same chain).
    drop(ledger);
    let mut again = Ledger::open(url).unwrap();
    assert_eq!(again.counts().unwrap(), Counts { committed: 1, failed: 1, in_progress: 1 });
    assert!(matches!(
        again.reserve(&ReserveRequest { app_key: first.app_key.clone(), ..fixed(4) }),
        Err(LedgerError::Duplicate { what: DuplicateOf::AppKey, .. })
    ));
}

fn live_duplicates_and_reissued_secrets(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let shared_eui = DevEuiSource::Fixed(eui(0x70B3_D57E_D200_0001));

    // A DevEUI held by an attempt in progress, then by a committed one, is refused.
    let held = ledger.reserve(&request("line-1", 10, shared_eui)).unwrap();
    let error = ledger.reserve(&request("line-2", 11, shared_eui)).unwrap_err();
    assert!(matches!(error, LedgerError::Duplicate { what: DuplicateOf::DevEui, .. }), "{error}");
    assert!(error.to_string().contains("70B3D57ED2000001"), "{error}");
    assert!(error.to_string().contains(&format!("attempt {}", held.serial)), "{error}");
    program_verify_commit(&mut ledger, held.serial);
    let error = ledger.reserve(&request("line-2", 11, shared_eui)).unwrap_err();
    assert!(matches!(error, LedgerError::Duplicate { what: DuplicateOf::DevEui, .. }), "{error}");

    // The same device id may not be in two live attempts either.
    let error = ledger.reserve(&fixed(10)).unwrap_err();
    assert!(matches!(error, LedgerError::Duplicate { what: DuplicateOf::DeviceId, .. }), "{error}");

    // After a failed attempt the same fixed DevEUI and device id may be tried again, with a new key.
    let other_eui = DevEuiSource::Fixed(eui(0x70B3_D57E_D200_0002));
    let burned = request("line-1", 12, other_eui);
    let first_try = ledger.reserve(&burned).unwrap();
    ledger.fail(first_try.serial, "flash write failed").unwrap();
    let error = ledger.reserve(&ReserveRequest { app_key: burned.app_key.clone(), ..request("line-1", 12, other_eui) });
    let error = error.unwrap_err();
    assert!(matches!(error, LedgerError::Duplicate { what: DuplicateOf::AppKey, .. }), "{error}");
    assert!(!error.to_string().contains(&burned.app_key.expose_hex()), "{error}");
    let retry = ledger.reserve(&request("line-1", 12, other_eui)).unwrap();
    assert_eq!(retry.dev_eui, eui(0x70B3_D57E_D200_0002));
    assert_ne!(retry.serial, first_try.serial);

    // An MQTT password is never issued twice, even to a failed attempt.
    let with_password = ReserveRequest { mqtt: mqtt("correct horse battery staple"), ..fixed(20) };
    let reserved = ledger.reserve(&with_password).unwrap();
    ledger.fail(reserved.serial, "aborted").unwrap();
    let error =
        ledger.reserve(&ReserveRequest { mqtt: mqtt("correct horse battery staple"), ..fixed(21) }).unwrap_err();
    assert!(matches!(error, LedgerError::Duplicate { what: DuplicateOf::MqttPassword, .. }), "{error}");
    assert!(!error.to_string().contains("horse"), "{error}");
    ledger.reserve(&ReserveRequest { mqtt: mqtt("another password entirely"), ..fixed(21) }).unwrap();

    let report = ledger.check(HOUR).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

/// Copies attempt `serial` with raw SQL, as another tool would, with the given column expressions.
fn copy_attempt(
    url: &str,
    serial: i64,
    device_id: &str,
    dev_eui: &str,
    app_key_fp: &str,
    state: &str,
) -> Result<(), String> {
    raw_sql(
        url,
        &format!(
            "INSERT INTO attempts (station, operator, device_id, dev_eui, join_eui, app_key, app_key_fp, mac_version,
                phy_version, frequency_plan_id, tr005_profile_id, state, created_at, updated_at)
             SELECT station, operator, {device_id}, {dev_eui}, join_eui, app_key, {app_key_fp}, mac_version,
                phy_version, frequency_plan_id, tr005_profile_id, '{state}', created_at, updated_at
             FROM attempts WHERE serial = {serial}"
        ),
    )
}

fn the_database_itself_refuses_duplicates(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let a = ledger.reserve(&fixed(1)).unwrap();
    let failed = ledger.reserve(&fixed(2)).unwrap();
    ledger.fail(failed.serial, "scrapped").unwrap();
    drop(ledger);
    let serial = a.serial;
    let new_fp = "'0000000000000000000000000000000000000000000000000000000000000001'";
    let error = copy_attempt(url, serial, "77", "dev_eui", new_fp, "reserved").unwrap_err();
    assert!(error.to_lowercase().contains("unique") || error.contains("duplicate"), "{error}");
    copy_attempt(url, serial, "device_id", "'70B3D57ED1999999'", new_fp, "reserved").unwrap_err();
    // A fingerprint is unique over failed rows too.
    copy_attempt(url, failed.serial, "78", "'70B3D57ED1999999'", "app_key_fp", "failed").unwrap_err();
    // A live DevEUI and device id may appear again on a failed row.
    copy_attempt(url, serial, "device_id", "dev_eui", new_fp, "failed").unwrap();
}

fn block_allocation(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let block = DevEuiSource::Block { start: eui(0x70B3_D57E_D300_0000), end: eui(0x70B3_D57E_D300_0002) };

    let a = ledger.reserve(&request("line-1", 1, block)).unwrap();
    assert_eq!(a.dev_eui, eui(0x70B3_D57E_D300_0000));
    ledger.fail(a.serial, "no answer").unwrap();
    // The failed attempt burned its EUI: the same device gets the next one.
    let b = ledger.reserve(&request("line-1", 1, block)).unwrap();
    assert_eq!(b.dev_eui, eui(0x70B3_D57E_D300_0001));
    let c = ledger.reserve(&request("line-1", 2, block)).unwrap();
    assert_eq!(c.dev_eui, eui(0x70B3_D57E_D300_0002));
    let error = ledger.reserve(&request("line-1", 3, block)).unwrap_err();
    assert!(matches!(error, LedgerError::BlockExhausted { .. }), "{error}");
    assert!(error.to_string().contains("70B3D57ED3000000..=70B3D57ED3000002"), "{error}");

    // A refused reservation does not use up an EUI (the allocation rolls back with it).
    let roomy = DevEuiSource::Block { start: eui(0x70B3_D57E_D400_0000), end: eui(0x70B3_D57E_D400_00FF) };
    let error = ledger.reserve(&request("line-1", 2, roomy)).unwrap_err();
    assert!(matches!(error, LedgerError::Duplicate { what: DuplicateOf::DeviceId, .. }), "{error}");
    assert_eq!(ledger.reserve(&request("line-1", 4, roomy)).unwrap().dev_eui, eui(0x70B3_D57E_D400_0000));

    // The same start with another end is refused.
    let changed = DevEuiSource::Block { start: eui(0x70B3_D57E_D300_0000), end: eui(0x70B3_D57E_D300_00FF) };
    let error = ledger.reserve(&request("line-1", 5, changed)).unwrap_err();
    assert!(matches!(error, LedgerError::BlockMismatch { .. }), "{error}");
    let backwards = DevEuiSource::Block { start: eui(10), end: eui(9) };
    assert!(matches!(ledger.reserve(&request("line-1", 5, backwards)), Err(LedgerError::BadBlock { .. })));

    // EUIs above i64::MAX count like any other.
    let high = DevEuiSource::Block { start: eui(0xFFFF_FFFF_FFFF_FFF0), end: eui(0xFFFF_FFFF_FFFF_FFFE) };
    assert_eq!(ledger.reserve(&request("line-1", 6, high)).unwrap().dev_eui, eui(0xFFFF_FFFF_FFFF_FFF0));
    assert_eq!(ledger.reserve(&request("line-1", 7, high)).unwrap().dev_eui, eui(0xFFFF_FFFF_FFFF_FFF1));
    // And so do device ids above i64::MAX.
    let big_id = ledger.reserve(&request("line-1", u64::MAX - 1, high)).unwrap();
    program_verify_commit(&mut ledger, big_id.serial);
    assert_eq!(ledger.committed().unwrap()[0].device_id, u64::MAX - 1);

    let report = ledger.check(HOUR).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

fn reconcile_fails_interrupted_attempts(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let reserved = ledger.reserve(&fixed(1)).unwrap();
    let programmed = ledger.reserve(&fixed(2)).unwrap();
    ledger.mark_programmed(programmed.serial).unwrap();
    let verified = ledger.reserve(&fixed(3)).unwrap();
    ledger.mark_programmed(verified.serial).unwrap();
    ledger.mark_verified(verified.serial).unwrap();
    let committed = ledger.reserve(&fixed(4)).unwrap();
    program_verify_commit(&mut ledger, committed.serial);
    let elsewhere = ledger.reserve(&request("line-2", 5, DevEuiSource::Fixed(eui(0x70B3_D57E_D500_0005)))).unwrap();

    let interrupted = ledger.reconcile("line-1").unwrap();
    let found: Vec<(i64, u64, AttemptState)> = interrupted.iter().map(|i| (i.serial, i.device_id, i.state)).collect();
    assert_eq!(
        found,
        [
            (reserved.serial, 1, AttemptState::Reserved),
            (programmed.serial, 2, AttemptState::Programmed),
            (verified.serial, 3, AttemptState::Verified),
        ]
    );
    assert_eq!(interrupted[1].dev_eui, programmed.dev_eui);
    assert_eq!(ledger.counts().unwrap(), Counts { committed: 1, failed: 3, in_progress: 1 });
    let events = ledger.events(Some(programmed.serial)).unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.detail.as_str()),
        ("failed", "interrupted: station restarted while in state programmed")
    );
    assert!(ledger.reconcile("line-1").unwrap().is_empty());
    // The other station's attempt goes on.
    ledger.mark_programmed(elsewhere.serial).unwrap();
    // The interrupted devices may be provisioned again with new keys.
    ledger.reserve(&fixed(2)).unwrap();
    assert!(ledger.check(HOUR).unwrap().is_clean());
}

/// Runs SQL on the ledger behind `url` with a plain client, as another tool would.
fn raw_sql(url: &str, sql: &str) -> Result<(), String> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(sql).map_err(|e| e.to_string())
    } else {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client.batch_execute(sql).map_err(|e| e.as_db_error().map_or(e.to_string(), |db| db.message().to_owned()))
    }
}

fn drop_event_triggers(url: &str) {
    let sql = if url.starts_with("sqlite:") {
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;"
    } else {
        "DROP TRIGGER events_no_change ON events; DROP TRIGGER events_no_truncate ON events;"
    };
    raw_sql(url, sql).unwrap();
}

fn tampered_events_break_the_chain(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    for device_id in 1..=3 {
        let reservation = ledger.reserve(&fixed(device_id)).unwrap();
        program_verify_commit(&mut ledger, reservation.serial);
    }
    assert!(ledger.check(HOUR).unwrap().is_clean());

    let refused = raw_sql(url, "UPDATE events SET detail = 'nothing happened' WHERE seq = 6").unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    let refused = raw_sql(url, "DELETE FROM events WHERE seq = 12").unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");

    let original = ledger.events(None).unwrap()[5].clone();
    assert_eq!(original.seq, 6);
    drop_event_triggers(url);
    raw_sql(url, "UPDATE events SET detail = 'nothing happened' WHERE seq = 6").unwrap();
    let report = ledger.check(HOUR).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(matches!(&report.problems[0], CheckProblem::BrokenChain { seq: 6, .. }), "{:?}", report.problems);
    assert!(report.problems[0].to_string().contains("seq 6"), "{}", report.problems[0]);

    // Put back, the chain holds again; removing the last event shows as a head ahead of the events.
    raw_sql(url, &format!("UPDATE events SET detail = '{}' WHERE seq = 6", original.detail)).unwrap();
    assert!(ledger.check(HOUR).unwrap().is_clean());
    raw_sql(url, "DELETE FROM events WHERE seq = 12").unwrap();
    let report = ledger.check(HOUR).unwrap();
    assert!(matches!(&report.problems[..], [CheckProblem::BrokenChain { seq: 12, .. }]), "{:?}", report.problems);
}

fn check_finds_duplicates_the_indexes_would_have_refused(url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let a = ledger.reserve(&fixed(1)).unwrap();
    program_verify_commit(&mut ledger, a.serial);
    let b = ledger.reserve(&fixed(2)).unwrap();
    let report = ledger.check(HOUR).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    // In progress and untouched for longer than the limit: an orphan.
    let report = ledger.check(Duration::ZERO).unwrap();
    assert!(
        matches!(&report.problems[..], [CheckProblem::Orphaned { serial, .. }] if *serial == b.serial),
        "{:?}",
        report.problems
    );
    assert!(report.problems[0].to_string().contains("reserved"), "{}", report.problems[0]);

    raw_sql(url, "DROP INDEX attempts_live_dev_eui; DROP INDEX attempts_live_device_id;").unwrap();
    raw_sql(url, &format!("UPDATE attempts SET dev_eui = '{}', device_id = 1 WHERE serial = {}", a.dev_eui, b.serial))
        .unwrap();
    // A copied key under its own (now wrong) fingerprint, as a tool that bypassed the ledger might write.
    raw_sql(
        url,
        &format!(
            "UPDATE attempts SET app_key = (SELECT app_key FROM attempts WHERE serial = {}) WHERE serial = {}",
            a.serial, b.serial
        ),
    )
    .unwrap();
    let report = ledger.check(HOUR).unwrap();
    let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert!(
        report.problems.contains(&CheckProblem::DuplicateDevEui {
            dev_eui: a.dev_eui.to_string(),
            serials: vec![a.serial, b.serial]
        }),
        "{problems:?}"
    );
    assert!(
        report.problems.contains(&CheckProblem::DuplicateDeviceId { device_id: 1, serials: vec![a.serial, b.serial] }),
        "{problems:?}"
    );
    assert!(
        report.problems.contains(&CheckProblem::DuplicateAppKey { serials: vec![a.serial, b.serial] }),
        "{problems:?}"
    );
    assert!(
        report.problems.contains(&CheckProblem::WrongFingerprint { serial: b.serial, secret: "app_key" }),
        "{problems:?}"
    );
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"duplicate_dev_eui\""), "{json}");
}

/// Four stations, each with its own connection, race for one DevEUI block and a shared pool of device ids.
fn concurrent_stations(url: &str) {
    const STATIONS: u64 = 4;
    const ATTEMPTS_PER_STATION: u64 = 100;
    const DEVICE_POOL: u64 = 150;
    let block = DevEuiSource::Block { start: eui(0x70B3_D57E_D600_0000), end: eui(0x70B3_D57E_D600_0FFF) };
    // Create the schema once, so the stations start on an existing ledger (opening together is tested too).
    drop(Ledger::open(url).unwrap());
    let reserved = Arc::new(AtomicU64::new(0));
    let events_written = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..STATIONS)
        .map(|station| {
            let url = url.to_owned();
            let reserved = Arc::clone(&reserved);
            let events_written = Arc::clone(&events_written);
            std::thread::Builder::new()
                .name(format!("station-{station}"))
                .spawn(move || {
                    let mut ledger = Ledger::open(&url).unwrap();
                    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(station);
                    let name = format!("station-{station}");
                    for attempt in 0..ATTEMPTS_PER_STATION {
                        let device_id = rng.random_range(0..DEVICE_POOL);
                        let mut req = request(&name, device_id, block);
                        if attempt % 2 == 0 {
                            req.mqtt = Some(MqttCredentials {
                                client_id: format!("dev-{device_id}"),
                                user: format!("dev-{device_id}"),
                                password: Password::generate_password(20).unwrap(),
                            });
                        }
                        let reservation = match ledger.reserve(&req) {
                            Ok(reservation) => reservation,
                            Err(LedgerError::Duplicate { what: DuplicateOf::DeviceId, .. }) => continue,
                            Err(other) => panic!("{name}: {other}"),
                        };
                        reserved.fetch_add(1, Ordering::Relaxed);
                        let steps = rng.random_range(0..4u32);
                        let mut events = 1;
                        let serial = reservation.serial;
                        if steps >= 1 {
                            ledger.mark_programmed(serial).unwrap();
                            events += 1;
                        }
                        if steps >= 2 {
                            ledger.mark_verified(serial).unwrap();
                            events += 1;
                        }
                        if steps == 3 && rng.random_bool(0.7) {
                            ledger.commit(serial).unwrap();
                        } else {
                            ledger.fail(serial, "random failure").unwrap();
                        }
                        events_written.fetch_add(events + 1, Ordering::Relaxed);
                    }
                })
                .unwrap()
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }

    let mut ledger = Ledger::open(url).unwrap();
    let reserved = reserved.load(Ordering::Relaxed);
    let counts = ledger.counts().unwrap();
    assert_eq!(counts.committed + counts.failed + counts.in_progress, reserved, "{counts:?}");
    assert_eq!(counts.in_progress, 0);
    assert!(counts.committed > 10 && counts.failed > 10, "{counts:?}");
    assert!(reserved < STATIONS * ATTEMPTS_PER_STATION, "the stations never raced for a device id");

    let committed = ledger.committed().unwrap();
    let dev_euis: HashSet<Eui64> = committed.iter().map(|d| d.dev_eui).collect();
    let device_ids: HashSet<u64> = committed.iter().map(|d| d.device_id).collect();
    let keys: HashSet<[u8; 16]> = committed.iter().map(|d| *d.app_key.expose()).collect();
    assert_eq!(dev_euis.len(), committed.len());
    assert_eq!(device_ids.len(), committed.len());
    assert_eq!(keys.len(), committed.len());
    // Every reservation took the next EUI of the block: no gaps, no repeats.
    let events = ledger.events(None).unwrap();
    let mut allocated: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "reserved")
        .map(|e| e.detail.split_whitespace().nth(2).unwrap().to_owned())
        .collect();
    allocated.sort();
    let expected: Vec<String> = (0..reserved).map(|i| eui(0x70B3_D57E_D600_0000 + i).to_string()).collect();
    assert_eq!(allocated, expected);
    assert_eq!(events.len() as u64, events_written.load(Ordering::Relaxed));

    let report = ledger.check(HOUR).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.rows, reserved);
}

#[test]
fn a_new_sqlite_ledger_is_owner_only_and_a_loose_one_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let url = format!("sqlite:{}", path.display());
    let mut ledger = Ledger::open(&url).unwrap();
    ledger.reserve(&fixed(1)).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    drop(ledger);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut ledger = Ledger::open(path.to_str().unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(ledger.counts().unwrap().in_progress, 1);
    assert_eq!(ledger.url_redacted(), path.to_str().unwrap());
}

#[test]
fn unreachable_ledgers_say_where_without_the_password() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://line:s3cret-pw@127.0.0.1:{closed_port}/ledger");
    let error = Ledger::open(&url).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, LedgerError::Unreachable { .. }), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
    assert!(message.ends_with(&format!("postgres://line:***@127.0.0.1:{closed_port}/ledger")), "{message}");

    let error = Ledger::open("sqlite:/nonexistent-folder/ledger.db").unwrap_err();
    assert!(matches!(error, LedgerError::Unreachable { .. }), "{error}");
    assert!(error.to_string().contains("/nonexistent-folder/ledger.db"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let not_sqlite = dir.path().join("notes.db");
    std::fs::write(&not_sqlite, "these are not the tables you are looking for, not at all, no").unwrap();
    let error = Ledger::open(not_sqlite.to_str().unwrap()).unwrap_err();
    assert!(matches!(error, LedgerError::Unreachable { .. }), "{error}");

    assert!(matches!(Ledger::open("ledger.txt"), Err(LedgerError::BadUrl { .. })));
}

#[test]
fn a_ledger_moves_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Ledger>();
}
