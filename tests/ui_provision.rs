#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Provision tab driven headless through egui_kittest: the bench flow step by step against the
//! simulated board (and a board that resets during its commit), and line mode against a board on a
//! pseudo-terminal; the ledger file is checked afterwards.

use std::time::{Duration, Instant};

use benchtop::provision::flow::Step;
use benchtop::provision::ledger::Ledger;
use benchtop::sim::serve::PtyServer;
use benchtop::sim::{Faults, SimOptions};
use benchtop::ui::BenchtopApp;
use benchtop::ui::app::View;
use benchtop::ui::provision_bench::StepState;
use egui_kittest::Harness;

#[path = "support/window.rs"]
mod window;
use egui_kittest::kittest::Queryable;

fn app(ledger_url: &str) -> Harness<'static, BenchtopApp> {
    let mut harness = window::connected("sim:seed=4");
    harness.get_by_label("Provision").click();
    harness.run_steps(2);
    assert_eq!(harness.state().view(), View::Provision);
    harness.state_mut().provision().ledger_url = ledger_url.to_string();
    harness
}

/// Steps the window until `done` holds for the bench status.
fn wait_for(
    harness: &mut Harness<'static, BenchtopApp>,
    what: &str,
    done: impl Fn(&benchtop::ui::provision_bench::BenchStatus) -> bool,
) {
    let started = Instant::now();
    loop {
        harness.step();
        if let Some(status) = harness.state_mut().provision().bench_status()
            && status.busy.is_none()
            && done(&status)
        {
            // Draw the new state so that the buttons it enables are enabled in the tree the next click reads.
            harness.run_steps(2);
            return;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let status = harness.state_mut().provision().bench_status();
            panic!("waiting for {what}: {status:#?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn click(harness: &mut Harness<'static, BenchtopApp>, label: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
}

#[test]
fn the_bench_flow_provisions_the_simulated_board_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("bench.sqlite").display());
    let mut harness = app(&url);
    click(&mut harness, "Read device");
    wait_for(&mut harness, "the device's identity", |s| s.info.is_some());
    harness.run_steps(2);
    harness.get_by_label("AppKey check value");
    click(&mut harness, "Generate key");
    click(&mut harness, "Stage");
    wait_for(&mut harness, "stage", |s| *s.state(Step::Stage) == StepState::Done);
    click(&mut harness, "Check");
    wait_for(&mut harness, "check", |s| *s.state(Step::Check) == StepState::Done);
    let status = harness.state_mut().provision().bench_status().unwrap();
    assert!(status.comparisons.iter().all(|c| c.matches()), "{:?}", status.comparisons);
    assert!(status.comparisons.iter().any(|c| c.field == "AppKey check value"));
    harness.run_steps(2);
    assert!(harness.query_all_by_label("match").count() >= 4);
    click(&mut harness, "Commit");
    wait_for(&mut harness, "commit", |s| *s.state(Step::Commit) == StepState::Done);
    click(&mut harness, "Read back");
    wait_for(&mut harness, "read back", |s| *s.state(Step::Record) == StepState::Done);
    let status = harness.state_mut().provision().bench_status().unwrap();
    let (error, message) = status.message.clone().unwrap();
    assert!(!error && message.contains("Provisioned and verified"), "{message}");
    assert_eq!(status.config.as_ref().unwrap().generation, 1);
    let mut ledger = Ledger::open(&url).unwrap();
    let records = ledger.committed().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].device_id, status.info.unwrap().device_id);

    // The ledger exported to The Things Stack CSV from the same tab.
    let csv = dir.path().join("devices.csv");
    harness.state_mut().provision().export_path = csv.display().to_string();
    click(&mut harness, "Export the ledger");
    click(&mut harness, "Export");
    let started = Instant::now();
    while harness.state_mut().provision().export_result().is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "no export");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let result = harness.state_mut().provision().export_result().cloned().unwrap();
    assert!(result.as_ref().is_ok_and(|t| t.contains("1 device")), "{result:?}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("id;dev_eui;join_eui;"), "{text}");
    assert!(text.contains(&records[0].dev_eui.to_string()), "{text}");
    assert!(text.contains(&records[0].app_key.expose_hex()), "{text}");
}

#[test]
fn a_malformed_key_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.sqlite");
    let mut harness = app(&format!("sqlite:{}", db.display()));
    click(&mut harness, "Read device");
    wait_for(&mut harness, "the device's identity", |s| s.info.is_some());
    harness.get_by_label("AppKey").click();
    harness.run_steps(2);
    harness.get_by_label("AppKey").type_text("2B7E1516");
    harness.run_steps(2);
    click(&mut harness, "Stage");
    harness.run_steps(3);
    harness.get_by_label("AppKey must be 32 hex digits, got 8");
    let status = harness.state_mut().provision().bench_status().unwrap();
    assert_eq!(*status.state(Step::Stage), StepState::Pending);
    assert!(!db.exists(), "nothing reaches the ledger");
}

#[test]
fn a_reset_during_the_commit_is_reported_and_the_device_keeps_its_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("bench.sqlite").display());
    let mut harness = app(&url);
    harness.state_mut().provision().type_source("sim:seed=5,faults=reset-on-commit");
    harness.run_steps(2);
    click(&mut harness, "Read device");
    wait_for(&mut harness, "the device's identity", |s| s.info.is_some());
    harness.run_steps(2);
    click(&mut harness, "Generate key");
    click(&mut harness, "Stage");
    wait_for(&mut harness, "stage", |s| *s.state(Step::Stage) == StepState::Done);
    click(&mut harness, "Check");
    wait_for(&mut harness, "check", |s| *s.state(Step::Check) == StepState::Done);
    click(&mut harness, "Commit");
    wait_for(&mut harness, "the commit's failure", |s| matches!(s.state(Step::Commit), StepState::Failed(_)));
    let status = harness.state_mut().provision().bench_status().unwrap();
    let (error, message) = status.message.unwrap();
    assert!(error && message.contains("previous configuration"), "{message}");
    let mut ledger = Ledger::open(&url).unwrap();
    let counts = ledger.counts().unwrap();
    assert_eq!((counts.committed, counts.failed, counts.in_progress), (0, 1, 0));
}

#[test]
fn line_mode_provisions_a_board_that_appears_and_shows_pass() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("line.sqlite").display());
    let by_id = dir.path().join("by-id");
    std::fs::create_dir(&by_id).unwrap();
    let mut harness = app(&url);
    click(&mut harness, "Line");
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/templates/line-eu868.toml");
    harness.state_mut().provision().template_path = template.to_string();
    harness.state_mut().provision().watch_dir = by_id.display().to_string();
    click(&mut harness, "Start line");
    harness.get_by_label("Waiting for a device");
    let server = PtyServer::start(SimOptions { seed: 77, faults: Faults::default() }).unwrap();
    std::os::unix::fs::symlink(server.path(), by_id.join("usb-Benchtop_Sim-if00")).unwrap();
    let started = Instant::now();
    while harness.state_mut().provision().counters().passed == 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "no device provisioned");
        assert_eq!(harness.state_mut().provision().counters().failed, 0);
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);
    harness.get_by_label("PASS");
    click(&mut harness, "Stop line");
    let mut ledger = Ledger::open(&url).unwrap();
    assert_eq!(ledger.committed().unwrap()[0].dev_eui.to_string(), "70B3D57ED0001000");
}
