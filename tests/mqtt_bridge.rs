#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The bridge against a real mosquitto: the simulated board's readings and status as `mosquitto_sub` sees
//! them, QoS 0/1/2 end to end, the retained status and the last will, a broker restarted under a running
//! bridge and source, and `benchtop broker` serving mosquitto's own clients.

#[path = "support/mosquitto.rs"]
mod mosquitto;

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use benchtop::io::{Board, SessionOptions, Telemetry};
use benchtop::model::source::Source;
use benchtop::mqtt::bridge::{Bridge, BridgeOptions};
use benchtop::mqtt::client::{ClientOptions, MqttClient, MqttEvent};
use benchtop::mqtt::{MqttUrl, Qos};
use mosquitto::{Mosquitto, Subscriber};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

fn is_hex16(text: &str) -> bool {
    text.len() == 16 && text.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// The "done when": `benchtop bridge sim --broker …` makes `mosquitto_sub -t 'sensors/#' -v` print
/// the simulated board's readings and its status.
#[test]
fn mosquitto_sub_prints_the_simulated_boards_readings_and_status() {
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, "sensors/#", &[]);
    let output =
        Command::new(BIN).args(["bridge", "sim", "--broker", &broker.url(), "--duration", "1500ms"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines = sub.collect_until(Duration::from_secs(5), |lines| {
        lines.last().is_some_and(|l| l.starts_with("sensors/status/") && l.ends_with(" offline"))
    });
    let status: Vec<_> = lines.iter().filter(|l| l.starts_with("sensors/status/")).collect();
    let device = status.first().expect("no status line").split(['/', ' ']).nth(2).unwrap().to_string();
    assert!(is_hex16(&device), "{device}");
    assert_eq!(status, [&format!("sensors/status/{device} online"), &format!("sensors/status/{device} offline")]);
    for channel in ["temperature", "humidity", "battery", "current"] {
        let prefix = format!("sensors/data/{device}/{channel} ");
        let values: Vec<f64> =
            lines.iter().filter_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap()).collect();
        assert!(!values.is_empty(), "no {channel} readings in {:?}", &lines[..lines.len().min(10)]);
        if channel == "temperature" {
            assert!(values.iter().all(|t| (-40.0..85.0).contains(t)), "{values:?}");
            // 10 Hz for 1.5 s.
            assert!((10..=20).contains(&values.len()), "{} temperature readings", values.len());
        }
    }
}

async fn bridge_sim(broker: &Mosquitto, qos: Qos, capacity: usize) -> (Bridge, benchtop::io::OpenBoard) {
    let opened = Board::open(&Source::parse("sim:seed=3").unwrap(), SessionOptions::default(), 4096).await.unwrap();
    let mut options = BridgeOptions::new(MqttUrl::parse(&broker.url()).unwrap());
    options.qos = qos;
    options.outbox_capacity = capacity;
    let bridge = Bridge::connect(options, opened.board.info().device_id).await.unwrap();
    (bridge, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_qos_is_published_and_received_as_asked() {
    let broker = Mosquitto::start();
    for qos in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce] {
        // An independent peer that prints the QoS each message arrived with (it subscribes at QoS 2, so the
        // delivered QoS is the publisher's).
        let sub = Subscriber::start(broker.port, "sensors/data/+/temperature", &["-q", "2", "-F", "%q %t %p"]);
        // And our own client subscribing at the same QoS.
        let mut options = ClientOptions::new(MqttUrl::parse(&broker.url()).unwrap(), "qos-test");
        options.subscriptions = vec![("sensors/data/+/temperature".into(), qos)];
        let (_client, mut events) = MqttClient::connect(options).await.unwrap();
        let (bridge, mut opened) = bridge_sim(&broker, qos, 4096).await;
        let info = opened.board.info().clone();
        // 10 Hz of temperature among 1 kHz of current: at QoS 2 on a loaded machine only some of it gets through
        // before the stop, which is what the outbox is for.
        bridge.run(&info, &mut opened.telemetry, tokio::time::sleep(Duration::from_millis(1500))).await;
        bridge.stop(Duration::from_secs(2)).await;
        let mut received = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
            if let MqttEvent::Message(message) = event {
                received.push(message);
            }
        }
        assert!(received.len() >= 3, "QoS {}: {} messages", qos.level(), received.len());
        assert!(received.iter().all(|m| m.qos == qos && m.topic.ends_with("/temperature")));
        assert!(received.iter().all(|m| std::str::from_utf8(&m.payload).unwrap().parse::<f64>().is_ok()));
        let lines = sub.collect_until(Duration::from_secs(2), |lines| lines.len() >= received.len());
        assert!(lines.len() >= 3, "{lines:?}");
        let level = qos.level().to_string();
        assert!(lines.iter().all(|l| l.split(' ').next() == Some(level.as_str())), "QoS {level}: {lines:?}");
    }
}

fn retained_status(port: u16, device: &str) -> String {
    let out = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            &format!("sensors/status/{device}"),
            "-C",
            "1",
            "-W",
            "5",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_status_is_retained_and_the_last_will_says_offline_when_the_bridge_is_killed() {
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, "sensors/status/+", &[]);
    let mut bridge = Command::new(BIN)
        .args(["bridge", "sim", "--broker", &broker.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let online = sub.collect_until(Duration::from_secs(10), |lines| !lines.is_empty());
    let device = online[0].strip_prefix("sensors/status/").unwrap().strip_suffix(" online").unwrap().to_string();
    // A subscriber that comes later still learns the status: it is retained.
    assert_eq!(retained_status(broker.port, &device), "online");
    bridge.kill().unwrap(); // SIGKILL: no DISCONNECT, so the broker publishes the will.
    bridge.wait().unwrap();
    let offline = sub.collect_until(Duration::from_secs(10), |lines| !lines.is_empty());
    assert_eq!(offline, [format!("sensors/status/{device} offline")]);
    assert_eq!(retained_status(broker.port, &device), "offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_broker_is_rejoined_by_the_bridge_and_the_source_without_stalling_the_device() {
    let mut broker = Mosquitto::start();
    // The source: an MQTT subscription opened as a board.
    let source = Source::parse(&format!("{}/bench/#", broker.url())).unwrap();
    let mut feed = Board::open(&source, SessionOptions::default(), 1024).await.unwrap();
    // The bridge, with a small outbox so that a broker outage overflows it.
    let (bridge, mut opened) = bridge_sim(&broker, Qos::AtLeastOnce, 64).await;
    let bridge = std::sync::Arc::new(bridge);
    let info = opened.board.info().clone();
    let running = bridge.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        running.run(&info, &mut opened.telemetry, async { drop(stop_rx.await) }).await;
        opened
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = bridge.stats().clone();
    assert!(bridge.mqtt_stats().snapshot().published > 0);

    broker.stop();
    let read_at_stop = stats.samples_read.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The device side kept reading while nothing could be sent, and the overflow was counted.
    let read_while_down = stats.samples_read.load(Ordering::Relaxed) - read_at_stop;
    assert!(read_while_down > 500, "only {read_while_down} samples read while the broker was down");
    assert!(stats.messages_dropped.load(Ordering::Relaxed) > 0, "no drops counted");
    assert!(!bridge.mqtt_stats().snapshot().connected);

    broker.resume();
    let sub = Subscriber::start(broker.port, "sensors/data/+/temperature", &[]);
    let lines = sub.collect_until(Duration::from_secs(15), |lines| lines.len() >= 3);
    assert!(lines.len() >= 3, "the bridge published nothing after the broker came back: {lines:?}");
    assert!(bridge.mqtt_stats().snapshot().connections >= 2);
    // The restarted broker kept nothing (no persistence): the status is there because the bridge announced
    // itself again.
    let device = bridge.status_topic().rsplit('/').next().unwrap().to_string();
    assert_eq!(retained_status(broker.port, &device), "online");

    // The source subscribed again: a message published now reaches it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        mosquitto::publish(broker.port, "bench/after", "42.5", &[]);
        let wait = tokio::time::sleep(Duration::from_millis(300));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                message = feed.telemetry.rx.recv() => {
                    if let Some(Telemetry::Text { values, .. }) = message
                        && values == [("bench/after".to_string(), 42.5)]
                    {
                        seen = true;
                        break;
                    }
                }
            }
        }
    }
    assert!(seen, "the source did not receive after the broker restarted");
    let _ = stop_tx.send(());
    let _ = task.await.unwrap();
}

#[test]
fn benchtop_broker_serves_a_publish_and_subscribe_round_trip() {
    mosquitto::clients();
    let port = mosquitto::free_port();
    let mut broker = Command::new(BIN)
        .args(["broker", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "benchtop broker did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sub = Subscriber::start(port, "bench/+/temperature", &["-q", "1"]);
    mosquitto::publish(port, "bench/a/temperature", "21.5", &["-q", "1"]);
    let lines = sub.collect_until(Duration::from_secs(5), |lines| !lines.is_empty());
    broker.kill().unwrap();
    let output = broker.wait_with_output().unwrap();
    assert_eq!(lines, ["bench/a/temperature 21.5"], "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("warning"));
}

#[test]
fn benchtop_broker_warns_when_it_listens_beyond_loopback_and_a_refused_broker_says_what_to_do() {
    let port = mosquitto::free_port();
    let mut broker = Command::new(BIN)
        .args(["broker", "--listen", &format!("0.0.0.0:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    broker.kill().unwrap();
    let stderr = String::from_utf8_lossy(&broker.wait_with_output().unwrap().stderr).into_owned();
    assert!(stderr.contains("warning: the broker listens beyond this machine"), "{stderr}");

    let output = Command::new(BIN)
        .args(["bridge", "sim", "--broker", &format!("mqtt://ann:hunter2@127.0.0.1:{port}"), "--duration", "1s"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refused the connection") && stderr.contains("benchtop broker"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
