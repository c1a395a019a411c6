#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop ble scan` and a `ble:` source where there is no Bluetooth: no system bus at all, and a system bus
//! without BlueZ. Each must end with a sentence that says what happened and what to do, exit code 1, no panic.

#[path = "support/dbus.rs"]
mod dbus;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

/// Runs benchtop with the system bus at `bus_address`; returns the exit code and stderr.
fn benchtop(bus_address: &str, args: &[&str]) -> (i32, String) {
    let output = Command::new(BIN).args(args).env("DBUS_SYSTEM_BUS_ADDRESS", bus_address).output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_clear_failure(code: i32, stderr: &str, says: &str) {
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn no_system_bus_is_a_sentence_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("unix:path={}", dir.path().join("no-such-bus").display());
    let (code, stderr) = benchtop(&missing, &["ble", "scan", "--duration", "1s"]);
    assert_clear_failure(code, &stderr, "there is no system D-Bus");
    assert!(stderr.contains("systemctl start dbus"), "{stderr}");
    let (code, stderr) = benchtop(&missing, &["info", "ble:env-sensor"]);
    assert_clear_failure(code, &stderr, "there is no system D-Bus");
}

#[test]
fn a_bus_without_bluez_is_a_sentence_not_a_crash() {
    let bus = dbus::PrivateBus::start();
    let (code, stderr) = benchtop(bus.address(), &["ble", "scan", "--duration", "1s"]);
    assert_clear_failure(code, &stderr, "BlueZ (bluetoothd) is not running");
    assert!(stderr.contains("systemctl start bluetooth"), "{stderr}");
    let (code, stderr) = benchtop(bus.address(), &["ble", "explore", "ble:env-sensor"]);
    assert_clear_failure(code, &stderr, "BlueZ (bluetoothd) is not running");
}
