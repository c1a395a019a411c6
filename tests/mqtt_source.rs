#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! MQTT as a source against a real mosquitto: wildcard subscriptions decoded as number text, a JSON path and
//! an inspector layout; status topics and alerts as log lines; captures of the PUBLISH packets;
//! `benchtop record mqtt://…` writing exactly what `mosquitto_pub` sent.

#[path = "support/mosquitto.rs"]
mod mosquitto;
#[path = "support/mqtt_board.rs"]
mod mqtt_board;

use std::process::{Command, Stdio};
use std::time::Duration;

use benchtop::io::Telemetry;
use benchtop::model::source::Source;
use firmware_protocol::LogLevel;
use mosquitto::Mosquitto;

use mqtt_board::{open, take};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_subscriptions_are_decoded_as_numbers_with_statuses_and_alerts_as_log_lines() {
    let broker = Mosquitto::start();
    let mut opened = open(&format!("{}/sensors/+/temperature?alert=temperature>30", broker.url())).await;
    let mut captures = opened.board.frames().expect("an MQTT source offers its packets to the capture list");
    mosquitto::publish(broker.port, "sensors/a/temperature", "21.5", &[]);
    mosquitto::publish(broker.port, "sensors/a/humidity", "40", &[]); // not matched by the filter
    mosquitto::publish(broker.port, "sensors/b/temperature", "31.25", &["-q", "1"]);
    let (values, logs) = take(&mut opened, 2).await;
    assert_eq!(values, [("sensors/a/temperature".to_string(), 21.5), ("sensors/b/temperature".to_string(), 31.25)]);
    assert_eq!(logs, [(LogLevel::Warn, "alert: sensors/b/temperature = 31.25 (temperature>30)".to_string())]);
    let frames = captures.drain(10);
    let topics: Vec<_> = frames.iter().map(|f| f.mqtt_topic().unwrap()).collect();
    assert_eq!(topics, ["sensors/a/temperature", "sensors/b/temperature"]);
    // The inspector's own MQTT decoder reads the captured packet.
    let decoded = benchtop::inspect::mqtt::decode(&frames[1].bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);

    let mut statuses = open(&format!("{}/sensors/#", broker.url())).await;
    mosquitto::publish(broker.port, "sensors/status/00aa11bb22cc33dd", "offline", &[]);
    mosquitto::publish(broker.port, "sensors/x/temperature", "1", &[]);
    let (values, logs) = take(&mut statuses, 1).await;
    assert_eq!(values, [("sensors/x/temperature".to_string(), 1.0)]);
    assert_eq!(logs, [(LogLevel::Info, "device 00aa11bb22cc33dd is offline".to_string())]);
    let benchtop::io::Board::Mqtt(board) = &statuses.board else { panic!("not an MQTT board") };
    assert_eq!(board.device_statuses().get("00aa11bb22cc33dd").map(|s| s.online), Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_paths_and_layouts_pick_values_out_of_payloads() {
    let broker = Mosquitto::start();
    let mut json = open(&format!("{}/dev/+/json?json=data.temp", broker.url())).await;
    mosquitto::publish(broker.port, "dev/1/json", r#"{"data":{"temp":19.75,"rh":40}}"#, &[]);
    mosquitto::publish(broker.port, "dev/2/json", r#"{"data":{}}"#, &[]);
    mosquitto::publish(broker.port, "dev/3/json", r#"{"data":{"temp":"20.5"}}"#, &[]);
    let (values, logs) = take(&mut json, 2).await;
    assert_eq!(values, [("dev/1/json".to_string(), 19.75), ("dev/3/json".to_string(), 20.5)]);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].1.contains("dev/2/json") && logs[0].1.contains("data.temp"), "{logs:?}");

    let layout = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/layouts/env-sensor-v1.toml");
    let mut packed = open(&format!("{}/dev/#?layout={layout}", broker.url())).await;
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("payload.bin");
    // The layout file's own example: 21.5 °C, 45.5 %RH, 3.3 V, 1234 lx, uplink 513.
    std::fs::write(&payload, [0x08, 0x66, 0x5B, 0xA5, 0x04, 0xD2, 0x01, 0x02]).unwrap();
    mosquitto::publish_file(broker.port, "dev/9/up", &payload);
    let (values, _) = take(&mut packed, 1).await;
    let get = |name: &str| values.iter().find(|(n, _)| n == &format!("dev/9/up/{name}")).map(|(_, v)| *v);
    assert_eq!(get("temperature"), Some(21.5), "{values:?}");
    assert_eq!(get("humidity"), Some(45.5), "{values:?}");
    assert!(values.iter().all(|(name, _)| name.starts_with("dev/9/up/")));
}

#[test]
fn benchtop_record_writes_exactly_what_mosquitto_pub_sent() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("feed.csv");
    let started = std::time::SystemTime::now();
    let recorder = Command::new(BIN)
        .args(["record", &format!("{}/lab/#", broker.url()), "--duration", "3s", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The recorder is subscribed once the broker counts a second client besides a probe; mosquitto has no
    // such query, so give it the time a start takes on a loaded machine.
    std::thread::sleep(Duration::from_millis(1200));
    let sent = [("lab/bench1/temperature", "23.4"), ("lab/bench2/voltage", "3.3"), ("lab/bench1/temperature", "-0.5")];
    for (topic, value) in sent {
        mosquitto::publish(broker.port, topic, value, &["-q", "1"]);
    }
    mosquitto::publish(broker.port, "elsewhere/x", "9", &[]);
    let output = recorder.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut reader = csv::Reader::from_path(&out).unwrap();
    assert_eq!(reader.headers().unwrap(), vec!["time", "topic", "value"]);
    let rows: Vec<_> = reader.records().map(|r| r.unwrap()).collect();
    let got: Vec<(&str, &str)> = rows.iter().map(|r| (&r[1], &r[2])).collect();
    assert_eq!(got, sent);
    let mut last = started;
    for row in &rows {
        let at = humantime::parse_rfc3339(&row[0]).unwrap();
        assert!(row[0].ends_with('Z') && row[0].len() == "2026-01-01T00:00:00.000Z".len(), "{}", &row[0]);
        assert!(at + Duration::from_millis(1) >= last, "times go backwards");
        last = at;
    }
}

/// What the window gets for free: the device task opens an MQTT source like any board, the Live view's store
/// gains one channel per topic, and the capture list gets the packets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_device_task_shows_one_channel_per_topic() {
    use benchtop::io::device_task::{DeviceCommand, DeviceEvent, DeviceTaskOptions, EventSink, run_device};
    use benchtop::model::live::LiveDevice;
    use benchtop::model::series::SeriesLimits;

    let broker = Mosquitto::start();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let (commands, command_rx) = tokio::sync::mpsc::channel(8);
    let sink = EventSink { device: 1, tx, wake: std::sync::Arc::new(|| {}) };
    let source = Source::parse(&format!("{}/plant/+/level", broker.url())).unwrap();
    let task = tokio::spawn(run_device(source, DeviceTaskOptions::default(), command_rx, sink));
    let mut next = async || tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap().1;
    assert!(matches!(next().await, DeviceEvent::Connecting { attempt: 1 }));
    let DeviceEvent::Connected { info, text, .. } = next().await else { panic!("not connected") };
    assert!(text, "channels of an MQTT source are named as topics appear");
    let DeviceEvent::Frames(mut frames) = next().await else { panic!("no capture listener") };

    mosquitto::publish(broker.port, "plant/tank1/level", "0.75", &[]);
    mosquitto::publish(broker.port, "plant/tank2/level", "0.5", &[]);
    mosquitto::publish(broker.port, "plant/tank1/level", "0.7", &[]);
    let mut live = LiveDevice::new(*info, SeriesLimits::default());
    let mut samples = 0;
    while samples < 3 {
        if let DeviceEvent::Telemetry(Telemetry::Text { values, .. }) = next().await {
            samples += live.place_named(&values, 0.0).len();
        }
    }
    let names: Vec<_> = live.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["plant/tank1/level", "plant/tank2/level"]);
    assert_eq!(frames.drain(10).len(), 3);

    commands.send(DeviceCommand::Send(b"hello\n".to_vec())).await.unwrap();
    let DeviceEvent::Refused(reason) = next().await else { panic!("sending was not refused") };
    assert!(reason.contains("only subscribes"), "{reason}");
    commands.send(DeviceCommand::Disconnect).await.unwrap();
    assert!(matches!(next().await, DeviceEvent::Closed));
    task.await.unwrap();
}
