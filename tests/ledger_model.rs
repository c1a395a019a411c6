#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The ledger against a model: random sequences of reservations (from a small pool of device ids, DevEUIs
//! and AppKeys, so collisions are common), transitions, failures and restarts on a SQLite file, each result
//! compared with what the rules allow, and the ledger audited clean at the end.

use std::collections::HashSet;
use std::time::Duration;

use benchtop::provision::keys::{AppKey, Eui64};
use benchtop::provision::ledger::{AttemptState, DevEuiSource, DuplicateOf, Ledger, LedgerError, ReserveRequest};
use benchtop::provision::record::NetworkProfile;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Reserve { device_id: u64, eui: u64, key: u8 },
    Program(usize),
    Verify(usize),
    Commit(usize),
    Fail(usize),
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4u64, 0..4u64, 0..12u8).prop_map(|(device_id, eui, key)| Op::Reserve { device_id, eui, key }),
        2 => any::<usize>().prop_map(Op::Program),
        2 => any::<usize>().prop_map(Op::Verify),
        2 => any::<usize>().prop_map(Op::Commit),
        1 => any::<usize>().prop_map(Op::Fail),
        1 => Just(Op::Restart),
    ]
}

struct Attempt {
    serial: i64,
    device_id: u64,
    eui: u64,
    state: AttemptState,
}

fn key(index: u8) -> AppKey {
    let mut bytes = [0x5Au8; 16];
    bytes[15] = index + 1;
    AppKey::new(bytes)
}

fn request(device_id: u64, eui: u64, key_index: u8) -> ReserveRequest {
    ReserveRequest {
        station: "line-1".into(),
        operator: "ana".into(),
        device_id,
        dev_eui: DevEuiSource::Fixed(Eui64::from_u64(0x70B3_D57E_D000_0000 + eui)),
        join_eui: Eui64::from_u64(0x70B3_D57E_D000_0000),
        app_key: key(key_index),
        mqtt: None,
        network: NetworkProfile {
            mac_version: "MAC_V1_0_4".into(),
            phy_version: "RP002_V1_0_3".into(),
            frequency_plan_id: "EU_863_870_TTN".into(),
            tr005_profile_id: "000AF8BE".into(),
        },
    }
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&format!("sqlite:{}", dir.path().join("ledger.db").display())).unwrap();
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut keys_issued: HashSet<u8> = HashSet::new();
    for op in ops {
        match *op {
            Op::Reserve { device_id, eui, key } => {
                let live =
                    |f: &dyn Fn(&Attempt) -> bool| attempts.iter().any(|a| a.state != AttemptState::Failed && f(a));
                let mut allowed_refusals = Vec::new();
                if live(&|a| a.eui == eui) {
                    allowed_refusals.push(DuplicateOf::DevEui);
                }
                if live(&|a| a.device_id == device_id) {
                    allowed_refusals.push(DuplicateOf::DeviceId);
                }
                if keys_issued.contains(&key) {
                    allowed_refusals.push(DuplicateOf::AppKey);
                }
                match ledger.reserve(&request(device_id, eui, key)) {
                    Ok(reservation) => {
                        assert!(allowed_refusals.is_empty(), "accepted despite {allowed_refusals:?}");
                        keys_issued.insert(key);
                        attempts.push(Attempt {
                            serial: reservation.serial,
                            device_id,
                            eui,
                            state: AttemptState::Reserved,
                        });
                    }
                    Err(LedgerError::Duplicate { what, .. }) => {
                        assert!(allowed_refusals.contains(&what), "refused as {what} but allowed: {allowed_refusals:?}")
                    }
                    Err(other) => panic!("{other}"),
                }
            }
            Op::Program(i) | Op::Verify(i) | Op::Commit(i) | Op::Fail(i) if !attempts.is_empty() => {
                let index = i % attempts.len();
                let attempt = &mut attempts[index];
                let (result, from, to): (_, &[AttemptState], _) = match *op {
                    Op::Program(_) => {
                        (ledger.mark_programmed(attempt.serial), &[AttemptState::Reserved], AttemptState::Programmed)
                    }
                    Op::Verify(_) => {
                        (ledger.mark_verified(attempt.serial), &[AttemptState::Programmed], AttemptState::Verified)
                    }
                    Op::Commit(_) => {
                        (ledger.commit(attempt.serial), &[AttemptState::Verified], AttemptState::Committed)
                    }
                    _ => (
                        ledger.fail(attempt.serial, "test"),
                        &[AttemptState::Reserved, AttemptState::Programmed, AttemptState::Verified],
                        AttemptState::Failed,
                    ),
                };
                if from.contains(&attempt.state) {
                    result.unwrap();
                    attempt.state = to;
                } else {
                    assert!(
                        matches!(result, Err(LedgerError::BadTransition { from, .. }) if from == attempt.state),
                        "{result:?}"
                    );
                }
            }
            Op::Restart => {
                let interrupted = ledger.reconcile("line-1").unwrap();
                let expected: Vec<i64> = attempts.iter().filter(|a| a.state.in_progress()).map(|a| a.serial).collect();
                assert_eq!(interrupted.iter().map(|i| i.serial).collect::<Vec<_>>(), expected);
                for attempt in attempts.iter_mut().filter(|a| a.state.in_progress()) {
                    attempt.state = AttemptState::Failed;
                }
            }
            _ => {}
        }
    }
    let counts = ledger.counts().unwrap();
    let count = |state| attempts.iter().filter(|a| a.state == state).count() as u64;
    assert_eq!(counts.committed, count(AttemptState::Committed));
    assert_eq!(counts.failed, count(AttemptState::Failed));
    assert_eq!(counts.in_progress, attempts.iter().filter(|a| a.state.in_progress()).count() as u64);
    let committed: Vec<i64> = ledger.committed().unwrap().iter().map(|d| d.serial).collect();
    let expected: Vec<i64> = attempts.iter().filter(|a| a.state == AttemptState::Committed).map(|a| a.serial).collect();
    assert_eq!(committed, expected);
    let report = ledger.check(Duration::from_secs(3600)).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn the_ledger_follows_the_rules(ops in proptest::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}
