#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The real btleplug path, against a BlueZ stand-in: python-dbusmock's bluez5 template on a private D-Bus
//! (tests/support/ble_mock.py), whose Benchtop GATT service is bridged to a simulated board over TCP.
//!
//! libdbus finds the bus through `DBUS_SYSTEM_BUS_ADDRESS`, which only a process's environment can carry.
//! So Bluetooth runs in child processes that get it: the `benchtop` binary for the CLI test, and this test
//! binary itself (one test, run again with the variable set) for the library calls.

#[path = "support/ble_stand_in.rs"]
mod ble_stand_in;

use std::process::Command;
use std::time::Duration;

use ble_stand_in::StandIn;

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");
/// Set in the child that runs the library calls, to the bus address.
const CHILD_BUS: &str = "BENCHTOP_TEST_BLE_BUS";

/// Runs the `benchtop` binary with the stand-in as the system bus.
trait RunBenchtop {
    /// Its stdout, panicking with stderr on failure.
    fn benchtop(&self, args: &[&str]) -> String;
    /// Its output, whatever the exit status.
    fn run(&self, args: &[&str]) -> std::process::Output;
}

impl RunBenchtop for StandIn {
    fn benchtop(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "benchtop {args:?} failed: {stderr}");
        String::from_utf8(output.stdout).unwrap()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN).args(args).env("DBUS_SYSTEM_BUS_ADDRESS", self.bus_address()).output().unwrap()
    }
}

#[test]
fn cli_scans_explores_and_speaks_the_protocol_through_bluez() {
    let stand_in = StandIn::start(71);

    let scan: serde_json::Value =
        serde_json::from_str(&stand_in.benchtop(&["ble", "scan", "--duration", "1s", "--json"])).unwrap();
    let devices = scan.as_array().unwrap();
    assert_eq!(devices.len(), 3, "{scan:#}");
    let board = devices.iter().find(|d| d["name"] == "benchtop-sim").expect("the named device");
    assert!(devices.iter().any(|d| d["name"].is_null()), "the unnamed device is listed too: {scan:#}");
    assert_eq!(board["address"], "C0:FF:EE:00:00:01");
    assert_eq!(board["benchtop"], true);
    assert_eq!(board["manufacturer_data"][0]["company_id"], 0xFFFF);
    assert_eq!(board["manufacturer_data"][0]["data_hex"], "4254");
    assert!(board["advertisements"].as_u64().unwrap() > 2, "RSSI updates while scanning: {board:#}");
    assert!(board["rssi_max_dbm"].as_i64().unwrap() > board["rssi_min_dbm"].as_i64().unwrap(), "{board:#}");
    let services: Vec<&str> =
        board["services"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap_or("")).collect();
    assert!(services.contains(&"Battery") && services.contains(&"Benchtop protocol"), "{services:?}");

    let filtered = stand_in.benchtop(&["ble", "scan", "--duration", "1s", "--filter", "ENV", "--sort", "name"]);
    assert_eq!(filtered.lines().count(), 1, "{filtered}");
    assert!(filtered.starts_with("env-sensor"), "{filtered}");

    let table = stand_in.benchtop(&["ble", "explore", "ble:benchtop-sim"]);
    assert!(table.contains("service 0x180F Battery"), "{table}");
    assert!(table.contains("characteristic 0x2A19 Battery Level [read, notify] = 87 %"), "{table}");
    assert!(table.contains("descriptor 0x2901 Characteristic User Description"), "{table}");
    assert!(table.contains("0x2A29 Manufacturer Name String [read] = \"Benchtop Labs\""), "{table}");
    assert!(table.contains("Benchtop TX (device to host) [notify]"), "{table}");

    // The Benchtop protocol over the stand-in's GATT service: RX writes and TX notifications.
    let info: serde_json::Value =
        serde_json::from_str(&stand_in.benchtop(&["info", "ble:benchtop-sim", "--json"])).unwrap();
    assert_eq!(info["protocol_version"], 1);
    assert!(!info["channels"].as_array().unwrap().is_empty());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ble.csv");
    let summary: serde_json::Value = serde_json::from_str(&stand_in.benchtop(&[
        "record",
        "ble:C0:FF:EE:00:00:01",
        "--duration",
        "4s",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert!(summary["samples"].as_u64().unwrap() > 100, "telemetry batches arrived: {summary}");
    assert_eq!(summary["disconnected"], false);

    // A plain GATT sensor: its notifications are recorded (and plotted) like a text board's values.
    let out = dir.path().join("env.csv");
    let summary: serde_json::Value = serde_json::from_str(&stand_in.benchtop(&[
        "record",
        "ble:env-sensor",
        "--duration",
        "2s",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert!(summary["samples"].as_u64().unwrap() >= 10, "{summary}");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.contains("temperature_c") && csv.contains("humidity_percent"), "{csv}");
    // It has no Benchtop service, so `info` says so rather than waiting for answers.
    let output = stand_in.run(&["info", "ble:env-sensor"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("has no Benchtop protocol service"), "{stderr}");
}

#[test]
fn library_reads_writes_and_subscribes_through_bluez() {
    let stand_in = StandIn::start(72);
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "library_calls_in_a_child_with_the_bus", "--nocapture"])
        .env(CHILD_BUS, stand_in.bus_address())
        .env("DBUS_SYSTEM_BUS_ADDRESS", stand_in.bus_address())
        .status()
        .unwrap();
    assert!(status.success(), "the library calls failed; see the output above");
}

/// Runs only in the child that [`library_reads_writes_and_subscribes_through_bluez`] starts.
#[test]
fn library_calls_in_a_child_with_the_bus() {
    if std::env::var_os(CHILD_BUS).is_none() {
        return;
    }
    use benchtop::ble::central::{BleDevice, adapter, find};
    use benchtop::ble::decode::{StandardValue, decode_standard};
    use benchtop::ble::names::sig_uuid;
    use benchtop::io::{Session, SessionOptions, Telemetry};

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let adapter = adapter().await.unwrap();
        let found = find(&adapter, "benchtop-sim", Duration::from_secs(5)).await.unwrap();
        let device = BleDevice::connect_to(found, "benchtop-sim").await.unwrap();
        assert!(device.has_benchtop_service());
        assert_eq!(device.att_mtu(), 185);

        // Read: the battery level, decoded.
        let battery = device.read(sig_uuid(0x2A19)).await.unwrap();
        assert_eq!(decode_standard(sig_uuid(0x2A19), &battery), Some(Ok(StandardValue::BatteryLevel { percent: 87 })));

        // Write with response, read back.
        device.write(sig_uuid(0x2A06), &[2], true).await.unwrap();
        assert_eq!(device.read(sig_uuid(0x2A06)).await.unwrap(), vec![2]);

        // Notifications.
        let mut levels = device.subscribe(sig_uuid(0x2A19), 16).await.unwrap();
        let level = tokio::time::timeout(Duration::from_secs(5), levels.values.recv()).await.unwrap().unwrap();
        assert_eq!(level, vec![86]);

        // A characteristic the device does not have is an error that names it.
        let missing = device.read(sig_uuid(0x2A6E)).await.unwrap_err().to_string();
        assert!(missing.contains("0x2A6E Temperature"), "{missing}");

        // The Benchtop protocol: info, then telemetry batches.
        let options = SessionOptions { timeout: Duration::from_millis(1000), attempts: 3 };
        let session = Session::over(device.into_link().await.unwrap(), options).await.unwrap();
        assert!(!session.info().channels.is_empty());
        session.ping().await.unwrap();
        let mut telemetry = session.telemetry(4096).await.unwrap();
        let mut batches = 0;
        while batches < 5 {
            let message = tokio::time::timeout(Duration::from_secs(5), telemetry.rx.recv()).await.unwrap().unwrap();
            if matches!(message, Telemetry::Current { .. } | Telemetry::Samples { .. }) {
                batches += 1;
            }
        }
        assert_eq!(session.stats().snapshot().decode_errors(), 0);
        session.close();
    });
}

#[test]
fn a_bus_that_refuses_bluez_to_this_user_is_permission_denied() {
    // As a system bus whose policy keeps a user away from BlueZ (no `bluetooth` group): every call is refused.
    let stand_in = StandIn::start_with_policy(75, r#"<deny send_destination="org.bluez"/>"#);
    let output = stand_in.run(&["ble", "scan", "--duration", "1s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("permission denied using Bluetooth") && stderr.contains("Rejected send message"),
        "{stderr}"
    );
    assert!(stderr.contains("`bluetooth` group"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn no_adapter_and_an_adapter_that_is_off_are_sentences_not_crashes() {
    for (seed, mock_args, says) in [
        (73, "--adapter-off", ["is off", "bluetoothctl power on"]),
        (74, "--no-adapter", ["no Bluetooth adapter found", "rfkill list"]),
    ] {
        let stand_in = StandIn::start_with(seed, &[mock_args]);
        for args in [&["ble", "scan", "--duration", "1s"][..], &["info", "ble:benchtop-sim"][..]] {
            let output = stand_in.run(args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{stderr}");
            assert!(says.iter().all(|s| stderr.contains(s)), "{mock_args}: {stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}
