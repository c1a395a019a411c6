#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Provisioning end to end: simulated boards on pseudo-terminals (with faults switched on), the flow, and a
//! real SQLite ledger; afterwards every device is read back on its own to prove the ledger tells the truth.

use std::collections::HashSet;
use std::time::Duration;

use benchtop::io::{Session, SessionOptions};
use benchtop::model::source::Source;
use benchtop::provision::flow::{Outcome, Station, Step};
use benchtop::provision::ledger::Ledger;
use benchtop::provision::template::Template;
use benchtop::sim::serve::PtyServer;
use benchtop::sim::{Faults, SimOptions};
use firmware_protocol::kcv::{SecretField, key_check_value};

fn template(dev_eui: &str) -> Template {
    Template::parse(&format!(
        "station = \"test-station\"\noperator = \"tester\"\n[lorawan]\njoin_eui = \"70B3D57ED0000010\"\n\
         dev_eui = {dev_eui}\napp_key = \"generate\"\ntr005_profile_id = \"000AF8BE\"\n[reporting]\ninterval_s = 120\n\
         [mqtt]\nclient_id = \"env-{{dev_eui}}\"\npassword = \"generate\"\n"
    ))
    .unwrap()
}

fn station(dev_eui: &str) -> Station {
    let template = template(dev_eui);
    Station { station: template.station.clone(), operator: template.operator.clone(), template }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn options() -> SessionOptions {
    SessionOptions { timeout: Duration::from_millis(150), attempts: 6 }
}

fn source(server: &PtyServer) -> Source {
    Source::parse(&format!("serial:{}?format=protocol", server.path())).unwrap()
}

/// Provisions the board behind `server` once.
fn provision(rt: &tokio::runtime::Runtime, station: &Station, ledger: &mut Ledger, server: &PtyServer) -> Outcome {
    let session = rt.block_on(Session::open(&source(server), options())).unwrap();
    let outcome = station.provision(rt.handle(), &session, ledger, &mut |_| {});
    session.close();
    outcome
}

/// What the device itself runs now, through a fresh session.
fn device_config(rt: &tokio::runtime::Runtime, server: &PtyServer) -> (u64, firmware_protocol::config::ConfigView) {
    let session = rt.block_on(Session::open(&source(server), options())).unwrap();
    let view = rt.block_on(session.read_config()).unwrap();
    let id = session.info().device_id;
    session.close();
    (id, view)
}

#[test]
fn a_clean_board_is_provisioned_verified_and_recorded() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let mut ledger = Ledger::open(&url).unwrap();
    let station = station("\"device-id\"");
    let server = PtyServer::start(SimOptions { seed: 3, faults: Faults::default() }).unwrap();
    let mut steps = Vec::new();
    let session = rt.block_on(Session::open(&source(&server), options())).unwrap();
    let outcome = station.provision(rt.handle(), &session, &mut ledger, &mut |step| steps.push(step));
    session.close();
    assert!(outcome.passed, "{:?}", outcome.failure);
    assert_eq!(steps, Step::ALL);
    let (device_id, view) = device_config(&rt, &server);
    assert_eq!(outcome.dev_eui.as_deref(), Some(format!("{device_id:016X}").as_str()));
    let records = ledger.committed().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.device_id, device_id);
    assert_eq!(view.lorawan.dev_eui, record.dev_eui.0);
    assert_eq!(view.lorawan.app_key_kcv, key_check_value(device_id, SecretField::AppKey, record.app_key.expose()));
    assert_eq!(view.reporting.interval_secs, 120);
    assert_eq!(view.mqtt.client_id.as_str(), format!("env-{}", record.dev_eui.to_string().to_lowercase()));
    assert_eq!(view.generation, 1);

    // The same board again: already committed, so refused at the reservation and left alone.
    let again = provision(&rt, &station, &mut ledger, &server);
    assert!(!again.passed);
    let failure = again.failure.unwrap();
    assert_eq!(failure.step, Step::Reserve);
    assert!(failure.reason.contains("committed"), "{}", failure.reason);
    assert_eq!(device_config(&rt, &server).1, view);
    assert_eq!(ledger.counts().unwrap().committed, 1);
}

#[test]
fn a_reset_during_commit_leaves_the_previous_configuration_and_burns_the_row() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let mut ledger = Ledger::open(&url).unwrap();
    let station = station("{ block = \"70B3D57ED0001000..70B3D57ED00013FF\" }");
    let server = PtyServer::start(SimOptions { seed: 4, faults: Faults::parse("reset-on-commit").unwrap() }).unwrap();
    let before = device_config(&rt, &server).1;
    let outcome = provision(&rt, &station, &mut ledger, &server);
    let failure = outcome.failure.clone().expect("the commit is interrupted");
    assert_eq!(failure.step, Step::Commit);
    assert!(failure.device_state.contains("previous configuration"), "{failure}");
    assert_eq!(device_config(&rt, &server).1.digest, before.digest);
    assert_eq!(ledger.counts().unwrap().failed, 1);
    // The fault fires once: the retry gets the next DevEUI of the block and a new key.
    let retry = provision(&rt, &station, &mut ledger, &server);
    assert!(retry.passed, "{:?}", retry.failure);
    assert_eq!(outcome.dev_eui.as_deref(), Some("70B3D57ED0001000"));
    assert_eq!(retry.dev_eui.as_deref(), Some("70B3D57ED0001001"));
    assert!(ledger.check(Duration::from_secs(600)).unwrap().is_clean());
}

/// 1,000 attempts against boards with faults: resets during commit, corrupted frames, lost bytes, late
/// answers. Every device ends committed-and-verified or recorded as failed; no key or DevEUI twice.
#[test]
fn a_thousand_attempts_with_faults_lose_nothing_and_duplicate_nothing() {
    const ATTEMPTS: u64 = 1000;
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let mut ledger = Ledger::open(&url).unwrap();
    let station = station("{ block = \"70B3D57ED0100000..70B3D57ED01FFFFF\" }");
    let faults = ["reset-on-commit", "corrupt=0.05", "drop-bytes=0.002", "late=20ms", ""];
    let mut passed = 0;
    let mut failed_reserved = 0;
    let mut failed_before_reserve = 0;
    for i in 0..ATTEMPTS {
        let fault = faults[(i % faults.len() as u64) as usize];
        let server = PtyServer::start(SimOptions { seed: 10_000 + i, faults: Faults::parse(fault).unwrap() }).unwrap();
        let outcome = provision(&rt, &station, &mut ledger, &server);
        let (device_id, view) = device_config(&rt, &server);
        match (&outcome.failure, outcome.serial) {
            (None, Some(_)) => {
                passed += 1;
                assert_eq!(view.generation, 1, "attempt {i}");
            }
            (Some(failure), Some(_)) => {
                failed_reserved += 1;
                // Failed before or at the commit: the device runs its factory configuration.
                if failure.step <= Step::Commit {
                    assert_eq!(view.generation, 0, "attempt {i} ({fault}): {failure}");
                }
            }
            (Some(failure), None) => {
                failed_before_reserve += 1;
                assert!(failure.step <= Step::Reserve, "attempt {i}: {failure}");
            }
            (None, None) => panic!("attempt {i} passed without a reservation"),
        }
        // What the ledger says about this device matches the device.
        let records = ledger.committed().unwrap();
        if outcome.passed {
            let record = records.iter().find(|r| Some(r.serial) == outcome.serial).expect("committed row");
            assert_eq!(record.device_id, device_id);
            assert_eq!(
                view.lorawan.app_key_kcv,
                key_check_value(device_id, SecretField::AppKey, record.app_key.expose())
            );
            assert_eq!(view.lorawan.dev_eui, record.dev_eui.0);
        }
        server.stop().unwrap();
    }
    let counts = ledger.counts().unwrap();
    assert_eq!(counts.in_progress, 0);
    assert_eq!(counts.committed, passed);
    assert_eq!(counts.failed, failed_reserved);
    assert_eq!(passed + failed_reserved + failed_before_reserve, ATTEMPTS);
    // Every fifth board resets during its commit; the rest pass despite their faults.
    assert!(failed_reserved >= ATTEMPTS / 5, "{failed_reserved} failed");
    assert!(passed >= ATTEMPTS * 3 / 4 - 10, "only {passed} passed");
    let records = ledger.committed().unwrap();
    let keys: HashSet<[u8; 16]> = records.iter().map(|r| *r.app_key.expose()).collect();
    let euis: HashSet<u64> = records.iter().map(|r| r.dev_eui.to_u64()).collect();
    let devices: HashSet<u64> = records.iter().map(|r| r.device_id).collect();
    assert_eq!((keys.len(), euis.len(), devices.len()), (records.len(), records.len(), records.len()));
    let report = ledger.check(Duration::from_secs(600)).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let events = ledger.events(None).unwrap();
    assert!(events.len() as u64 >= passed * 4 + failed_reserved * 2);
    assert!(ledger.committed().unwrap().iter().all(|r| r.station == "test-station"));
}

#[path = "support/postgres.rs"]
mod postgres_server;

/// Four stations, each with its own ledger connection and its own boards on pseudo-terminals, provision
/// concurrently into one PostgreSQL server from one DevEUI block: no DevEUI, key or device twice.
#[test]
fn four_stations_into_one_postgres_ledger_hand_out_nothing_twice() {
    const STATIONS: u64 = 4;
    const PER_STATION: u64 = 15;
    let server = postgres_server::PgServer::start();
    let url = server.url();
    let rt = runtime();
    let handles: Vec<_> = (0..STATIONS)
        .map(|s| {
            let url = url.clone();
            let handle = rt.handle().clone();
            std::thread::spawn(move || {
                let mut ledger = Ledger::open(&url).unwrap();
                let mut station = station("{ block = \"70B3D57ED0200000..70B3D57ED02000FF\" }");
                station.station = format!("station-{s}");
                let mut passed = 0u64;
                for i in 0..PER_STATION {
                    let faults = if i % 5 == 4 { "reset-on-commit" } else { "corrupt=0.02" };
                    let board = PtyServer::start(SimOptions {
                        seed: 50_000 + s * 1000 + i,
                        faults: Faults::parse(faults).unwrap(),
                    })
                    .unwrap();
                    let session = handle.block_on(Session::open(&source(&board), options())).unwrap();
                    let outcome = station.provision(&handle, &session, &mut ledger, &mut |_| {});
                    session.close();
                    passed += u64::from(outcome.passed);
                }
                passed
            })
        })
        .collect();
    let passed: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let mut ledger = Ledger::open(&url).unwrap();
    let counts = ledger.counts().unwrap();
    assert_eq!(counts.committed, passed);
    assert_eq!(counts.committed + counts.failed, STATIONS * PER_STATION);
    assert!(counts.failed >= STATIONS * (PER_STATION / 5), "{counts:?}");
    let records = ledger.committed().unwrap();
    let euis: HashSet<u64> = records.iter().map(|r| r.dev_eui.to_u64()).collect();
    let keys: HashSet<[u8; 16]> = records.iter().map(|r| *r.app_key.expose()).collect();
    assert_eq!((euis.len(), keys.len()), (records.len(), records.len()));
    let stations: HashSet<&str> = records.iter().map(|r| r.station.as_str()).collect();
    assert_eq!(stations.len() as u64, STATIONS);
    let report = ledger.check(Duration::from_secs(600)).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}
