#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! MQTT in the window, driven headless through egui_kittest against a real mosquitto: the Live view's bridge
//! publishes the simulated board's readings (seen by `mosquitto_sub`), and an MQTT source shows the devices on
//! its status topics and turns a threshold alert into a toast.

#[path = "support/mosquitto.rs"]
mod mosquitto;
#[path = "support/window.rs"]
mod window;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use egui_kittest::kittest::Queryable;

#[test]
fn the_live_view_bridges_the_board_to_a_broker() {
    mosquitto::clients();
    let broker = mosquitto::Mosquitto::start();
    let port = broker.url().rsplit(':').next().unwrap().to_string();
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port, "-t", "sensors/#", "-v"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut harness = window::connected("sim:seed=8");
    harness.get_by_label("MQTT bridge").click();
    harness.run_steps(2);
    harness.state_mut().bridge().unwrap().broker = broker.url();
    harness.run_steps(2);
    harness.get_by_label("Start bridge").click();
    window::step_until(&mut harness, "the bridge to connect", 15, |h| h.query_by_label("Stop bridge").is_some());
    // The readings and the status arrive at an independent subscriber while the window keeps running.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = sub.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    window::step_until(&mut harness, "readings at the subscriber", 15, |_| {
        let lines = lines.lock().unwrap();
        lines.iter().any(|l| l.contains("/status/") && l.ends_with("online"))
            && lines.iter().any(|l| l.contains("sensors/data/") && l.contains("/temperature "))
    });
    let temperature = lines.lock().unwrap().iter().find(|l| l.contains("/temperature ")).cloned().unwrap();
    let value: f64 = temperature.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((-40.0..=85.0).contains(&value), "{temperature}");
    harness.get_by_label("Stop bridge").click();
    window::step_until(&mut harness, "offline at the subscriber", 15, |_| {
        lines.lock().unwrap().iter().any(|l| l.contains("/status/") && l.ends_with("offline"))
    });
    let _ = sub.kill();
    let _ = sub.wait();
    let _ = reader.join();
}

#[test]
fn an_mqtt_source_shows_device_status_and_alerts() {
    mosquitto::clients();
    let broker = mosquitto::Mosquitto::start();
    let port = broker.url().rsplit(':').next().unwrap().to_string();
    let mut harness = window::connected(&format!("{}/lab/#?alert=temperature>30", broker.url()));
    let publish = |topic: &str, message: &str, retain: bool| {
        let mut args = vec!["-h", "127.0.0.1", "-p", &port, "-t", topic, "-m", message];
        if retain {
            args.push("-r");
        }
        assert!(Command::new("mosquitto_pub").args(&args).status().unwrap().success());
    };
    publish("lab/status/b7aa01", "online", true);
    publish("lab/status/b7aa02", "offline", true);
    window::step_until(&mut harness, "the status row", 15, |h| {
        h.query_by_label("b7aa01 online").is_some() && h.query_by_label("b7aa02 offline").is_some()
    });
    publish("lab/b7aa01/temperature", "21.5", false);
    publish("lab/b7aa01/temperature", "31.5", false);
    window::step_until(&mut harness, "the alert toast", 15, |h| {
        h.state().toasts().any(|t| t.contains("alert:") && t.contains("31.5"))
    });
}
