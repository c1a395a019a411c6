#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Bluetooth section of the devices panel, driven headless through egui_kittest: a scan on a machine
//! whose Bluetooth stack refuses (no system bus, no BlueZ, no adapter) shows the stack's own sentence in the
//! panel and the window goes on; on a machine with an adapter the scan finishes with its list.

use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable;

#[path = "support/window.rs"]
mod window;

#[test]
fn a_bluetooth_scan_shows_what_the_stack_says() {
    let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
    let expected = runtime.block_on(benchtop::ble::central::adapter()).err().map(|e| e.to_string());
    let mut harness = window::connected("sim:seed=4");
    harness.get_by_label("Scan").click();
    harness.run_steps(2);
    let started = Instant::now();
    while harness.state_mut().ble_scan().running() {
        assert!(started.elapsed() < Duration::from_secs(20), "the scan did not end");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);
    match expected {
        Some(sentence) => {
            assert_eq!(harness.state_mut().ble_scan().error().as_deref(), Some(sentence.as_str()));
            harness.get_by_label(&sentence);
        }
        None => assert!(harness.state_mut().ble_scan().error().is_none()),
    }
    // The window goes on: the simulated board is still plotted.
    assert!(harness.state().paused().is_some());
}
