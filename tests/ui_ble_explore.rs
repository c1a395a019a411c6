#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The GATT explorer window, clicked through against the real btleplug path: the BlueZ stand-in
//! (tests/support/ble_stand_in.rs) on a private bus, and the window in a child process (this test binary run
//! again with `DBUS_SYSTEM_BUS_ADDRESS` set, as setting it in-process would take unsafe code).
//!
//! Scan, explore `benchtop-sim` (SIG names in the tree, read the battery level, a malformed write refused
//! before anything is sent, a write read back, a notification counted), disconnect; then explore
//! `env-sensor`, subscribe to its temperature and plot it while notifications keep coming.

#[path = "support/ble_stand_in.rs"]
mod ble_stand_in;
#[path = "support/window.rs"]
mod window;

use std::process::Command;
use std::time::{Duration, Instant};

use benchtop::ble::names::sig_uuid;
use benchtop::ui::BenchtopApp;
use benchtop::ui::ble_explore::Connection;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Set in the child that runs the window, to the bus address.
const CHILD_BUS: &str = "BENCHTOP_TEST_BLE_EXPLORE_BUS";

#[test]
fn the_explorer_reads_writes_subscribes_and_plots_through_bluez() {
    let stand_in = ble_stand_in::StandIn::start(74);
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "explorer_window_in_a_child_with_the_bus", "--nocapture"])
        .env(CHILD_BUS, stand_in.bus_address())
        .env("DBUS_SYSTEM_BUS_ADDRESS", stand_in.bus_address())
        .status()
        .unwrap();
    assert!(status.success(), "the explorer flow failed; see the output above");
}

/// Steps the window until `done` holds, for at most `seconds`.
fn step_until(
    harness: &mut Harness<'static, BenchtopApp>,
    seconds: u64,
    what: &str,
    done: impl Fn(&mut BenchtopApp) -> bool,
) {
    window::step_until(harness, what, seconds, |h| done(h.state_mut()));
}

/// Filters the scan list down to `name` and explores it.
fn explore(harness: &mut Harness<'static, BenchtopApp>, name: &str) {
    window::type_into(harness, "Filter", name);
    let started = Instant::now();
    while harness.query_by_label("Explore").is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "{name} was not listed");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.get_by_label("Explore").click();
    harness.run_steps(2);
    step_until(harness, 20, "the connection", |app| app.ble_explorer().connection() == Some(&Connection::Connected));
    assert_eq!(harness.state_mut().ble_explorer().last_error(), None);
}

/// Disconnects the device explored as `name` (the connections panel has a Disconnect of its own).
fn disconnect(harness: &mut Harness<'static, BenchtopApp>, name: &str) {
    let title = format!("Explore {name}");
    harness.get_by_role_and_label(Role::Window, &title).get_by_label("Disconnect").click();
    harness.run_steps(2);
    step_until(harness, 10, "the disconnection", |app| {
        app.ble_explorer().connection() == Some(&Connection::Disconnected(None))
    });
    harness.get_by_role_and_label(Role::Window, &title).get_by_label("Connect");
}

/// Runs only in the child that [`the_explorer_reads_writes_subscribes_and_plots_through_bluez`] starts.
#[test]
fn explorer_window_in_a_child_with_the_bus() {
    if std::env::var_os(CHILD_BUS).is_none() {
        return;
    }
    let battery = sig_uuid(0x2A19);
    let alert = sig_uuid(0x2A06);
    let temperature = sig_uuid(0x2A6E);
    let mut harness = window::connected("sim:seed=4");
    harness.get_by_label("Scan").click();
    harness.run_steps(2);
    explore(&mut harness, "benchtop-sim");

    // The signal over the scan, as a sparkline.
    harness.get_by_role_and_label(Role::Window, "Explore benchtop-sim").get_by_label("RSSI");

    // The tree, with SIG names.
    harness.get_by_label("0x180F Battery");
    harness.get_by_label("0x180A Device Information");
    harness.get_by_label("descriptor 0x2901 Characteristic User Description");
    harness.get_by_label("0x2A29 Manufacturer Name String");

    // Read: the battery level, decoded.
    harness.get_by_label("0x2A19 Battery Level").click();
    harness.run_steps(2);
    harness.get_by_label("Read").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "the read", |app| {
        app.ble_explorer().characteristic(battery).unwrap().outcome().is_some_and(|o| o.is_ok())
    });
    assert_eq!(harness.state_mut().ble_explorer().characteristic(battery).unwrap().value(), Some(&[87u8][..]));
    harness.get_by_label("87 %");
    harness.get_by_label("57");

    // Subscribe: the stand-in notifies the level once, 86 %.
    harness.get_by_label("Subscribe").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "a battery notification", |app| {
        app.ble_explorer().characteristic(battery).unwrap().notifications() >= 1
    });
    harness.get_by_label("86 %");
    let level = harness.state_mut().ble_explorer().characteristic(battery).unwrap().clone();
    assert!(level.subscribed() && level.dropped() == 0);
    harness.get_by_label("Unsubscribe").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "the unsubscription", |app| {
        !app.ble_explorer().characteristic(battery).unwrap().subscribed()
    });

    // Write: malformed hex is refused here, nothing is sent; a good write is read back.
    harness.get_by_label("0x2A06 Alert Level").click();
    harness.run_steps(2);
    window::type_into(&mut harness, "Bytes", "0g");
    harness.get_by_label("Write").click();
    harness.run_steps(2);
    let refused = "character 2 ('g') is not a hex digit; use 0-9 and a-f";
    harness.get_by_label(refused);
    harness.get_by_label("Read").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "the read", |app| {
        app.ble_explorer().characteristic(alert).unwrap().outcome().is_some_and(|o| o.is_ok())
    });
    assert_eq!(harness.state_mut().ble_explorer().characteristic(alert).unwrap().value(), Some(&[0u8][..]));
    window::type_into(&mut harness, "Bytes", "02");
    harness.get_by_label("Write").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "the write", |app| {
        app.ble_explorer().characteristic(alert).unwrap().outcome().and_then(|o| o.as_ref().ok()).map(String::as_str)
            == Some("wrote 1 bytes")
    });
    harness.get_by_label("Read").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "the value written, read back", |app| {
        app.ble_explorer().characteristic(alert).unwrap().value() == Some(&[2u8][..])
    });

    // What the stack refuses (more than the MTU holds) shows as its sentence, by the characteristic.
    window::type_into(&mut harness, "Bytes", &"ab ".repeat(183));
    harness.get_by_label("Write").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "the refusal", |app| {
        app.ble_explorer().characteristic(alert).unwrap().outcome().is_some_and(|o| o.is_err())
    });
    let refusal = harness.state_mut().ble_explorer().last_error().unwrap().to_string();
    assert!(refusal.starts_with("Bluetooth writing failed") && refusal.contains("do not fit MTU 185"), "{refusal}");
    harness.get_by_label(&refusal);
    assert_eq!(harness.state_mut().ble_explorer().connection(), Some(&Connection::Connected));
    disconnect(&mut harness, "benchtop-sim");

    // A sensor that keeps notifying: the count grows and the temperature is plotted.
    explore(&mut harness, "env-sensor");
    harness.get_by_label("0x181A Environmental Sensing");
    harness.get_by_label("0x2A6E Temperature").click();
    harness.run_steps(2);
    harness.get_by_label("Subscribe").click();
    harness.run_steps(2);
    step_until(&mut harness, 10, "temperature notifications", |app| {
        app.ble_explorer().characteristic(temperature).unwrap().notifications() >= 3
    });
    harness.get_by_label("Plot").click();
    harness.run_steps(2);
    let before = harness.state_mut().ble_explorer().characteristic(temperature).unwrap().notifications();
    step_until(&mut harness, 10, "more notifications", |app| {
        app.ble_explorer().characteristic(temperature).unwrap().notifications() >= before + 5
    });
    let sensor = harness.state_mut().ble_explorer().characteristic(temperature).unwrap().clone();
    assert!(sensor.plotted());
    let points = &sensor.series()["temperature_c"];
    assert!(points.len() as u64 == sensor.notifications(), "one point per notification");
    let (first, last) = (points.front().unwrap(), points.back().unwrap());
    assert!(last[0] > first[0] && last[1] > first[1], "time goes on and the stand-in's temperature rises: {points:?}");
    assert!((21.5..23.0).contains(&first[1]), "{first:?}");
    harness.get_by_label("temperature_c");
    disconnect(&mut harness, "env-sensor");
}
