#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Connecting to a real mosquitto in each way a broker asks for: TLS with a CA made in the test (and a wrong
//! CA refused with a clear error), a client certificate, a user and password (and a wrong one refused), and
//! MQTT 5 for both the source and the bridge.

#[path = "support/mosquitto.rs"]
mod mosquitto;
#[path = "support/mqtt_board.rs"]
mod mqtt_board;

use std::process::Command;
use std::time::{Duration, Instant};

use benchtop::io::{Board, SessionOptions};
use benchtop::model::source::Source;
use benchtop::mqtt::bridge::{Bridge, BridgeOptions};
use benchtop::mqtt::{MqttBoard, MqttError, MqttUrl, Qos};
use mosquitto::{Mosquitto, Subscriber, TestPki};

use mqtt_board::{open, take};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_works_and_a_wrong_ca_is_refused_clearly() {
    let pki = TestPki::new();
    let broker = Mosquitto::start_tls(&pki);
    let port = broker.tls_port.unwrap();
    let url = format!("mqtts://127.0.0.1:{port}/secure/#?ca={}", pki.ca.display());
    let mut opened = open(&url).await;
    mosquitto::publish(broker.port, "secure/a", "7.5", &[]);
    assert_eq!(take(&mut opened, 1).await.0, [("secure/a".to_string(), 7.5)]);

    let wrong = MqttUrl::parse(&format!("mqtts://127.0.0.1:{port}/secure/#?ca={}", pki.wrong_ca.display())).unwrap();
    let started = Instant::now();
    let error = MqttBoard::open(&wrong, 16).await.err().expect("a wrong CA must be refused");
    assert!(matches!(error, MqttError::Tls { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("TLS") && message.contains("certificate") && message.contains("ca="), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5), "the refusal took {:?}", started.elapsed());

    // The bridge's command line says the same.
    let output = Command::new(BIN)
        .args(["bridge", "sim", "--broker", &format!("mqtts://127.0.0.1:{port}"), "--ca"])
        .arg(&pki.wrong_ca)
        .args(["--duration", "1s"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TLS with the broker failed"), "{stderr}");

    // Plain MQTT to the TLS port does not hang forever either.
    let plain = MqttUrl::parse(&format!("mqtt://127.0.0.1:{port}/x")).unwrap();
    assert!(MqttBoard::open(&plain, 16).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_when_the_broker_requires_one() {
    let pki = TestPki::new();
    let broker = Mosquitto::start_tls(&pki);
    let port = broker.client_cert_port.unwrap();
    let with_cert = format!(
        "mqtts://127.0.0.1:{port}/secure/#?ca={}&cert={}&key={}",
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let mut opened = open(&with_cert).await;
    mosquitto::publish(broker.port, "secure/b", "1.25", &[]);
    assert_eq!(take(&mut opened, 1).await.0, [("secure/b".to_string(), 1.25)]);

    let without = MqttUrl::parse(&format!("mqtts://127.0.0.1:{port}/secure/#?ca={}", pki.ca.display())).unwrap();
    assert!(MqttBoard::open(&without, 16).await.is_err(), "the broker requires a client certificate");

    let missing =
        MqttUrl::parse(&format!("mqtts://127.0.0.1:{port}/s?ca={}&cert=/nonexistent.pem&key=k.pem", pki.ca.display()))
            .unwrap();
    let error = MqttBoard::open(&missing, 16).await.err().unwrap().to_string();
    assert!(error.contains("could not read the certificate file") && error.contains("/nonexistent.pem"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_and_password_get_in_and_a_wrong_password_is_refused_without_showing_it() {
    let broker = Mosquitto::start_with_password("bench", "right-horse");
    let mut opened = open(&format!("mqtt://bench:right-horse@127.0.0.1:{}/lab/#", broker.port)).await;
    mosquitto::publish(broker.port, "lab/t", "3", &["-u", "bench", "-P", "right-horse"]);
    assert_eq!(take(&mut opened, 1).await.0, [("lab/t".to_string(), 3.0)]);

    let wrong = MqttUrl::parse(&format!("mqtt://bench:wrong-staple@127.0.0.1:{}/lab/#", broker.port)).unwrap();
    let error = MqttBoard::open(&wrong, 16).await.err().unwrap();
    assert!(matches!(error, MqttError::NotAuthorized { .. }), "{error:?}");
    assert!(error.to_string().contains("user name or password"), "{error}");

    let output = Command::new(BIN)
        .args(["record", &format!("mqtt://bench:wrong-staple@127.0.0.1:{}/lab/#", broker.port)])
        .args(["--duration", "1s", "--out", "/dev/null.csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("user name or password") && stderr.contains("bench:***@"), "{stderr}");
    assert!(!stderr.contains("wrong-staple"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_5_works_for_the_source_and_the_bridge() {
    let broker = Mosquitto::start();
    let mut opened = open(&format!("{}/v5/#?version=5&qos=1", broker.url())).await;
    mosquitto::publish(broker.port, "v5/a", "8.5", &["-V", "mqttv5", "-q", "1"]);
    assert_eq!(take(&mut opened, 1).await.0, [("v5/a".to_string(), 8.5)]);

    let sub = Subscriber::start(broker.port, "sensors/#", &["-V", "mqttv5"]);
    let board = Board::open(&Source::parse("sim:seed=5").unwrap(), SessionOptions::default(), 4096).await.unwrap();
    let mut options = BridgeOptions::new(MqttUrl::parse(&format!("{}?version=5", broker.url())).unwrap());
    options.qos = Qos::AtLeastOnce;
    let bridge = Bridge::connect(options, board.board.info().device_id).await.unwrap();
    let info = board.board.info().clone();
    let mut telemetry = board.telemetry;
    bridge.run(&info, &mut telemetry, tokio::time::sleep(Duration::from_millis(700))).await;
    let status_topic = bridge.status_topic().to_string();
    bridge.stop(Duration::from_secs(2)).await;
    let lines = sub.collect_until(Duration::from_secs(5), |lines| {
        lines.last().is_some_and(|l| l == &format!("{status_topic} offline"))
    });
    assert_eq!(lines.first(), Some(&format!("{status_topic} online")));
    assert!(lines.iter().any(|l| l.contains("/temperature ")), "{:?}", &lines[..lines.len().min(5)]);
}
