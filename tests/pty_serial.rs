#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! End to end over a real pseudo-terminal: the simulated board on the master side, Benchtop's serial link
//! (serialport, reader and writer threads) on the terminal side, postcard-rpc's HostClient on top.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use benchtop::io::{Session, SessionError, SessionOptions, Telemetry};
use benchtop::model::source::Source;
use benchtop::sim::board::device_id_for_seed;
use benchtop::sim::serve::PtyServer;
use benchtop::sim::{Faults, SimOptions};
use firmware_protocol::*;

fn options() -> SessionOptions {
    SessionOptions { timeout: Duration::from_millis(400), attempts: 4 }
}

async fn open(server: &PtyServer) -> Session {
    let source = Source::parse(&format!("serial:{}", server.path())).unwrap();
    Session::open(&source, options()).await.unwrap()
}

fn pty(seed: u64, faults: &str) -> PtyServer {
    PtyServer::start(SimOptions { seed, faults: Faults::parse(faults).unwrap() }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_and_channels_over_a_pty() {
    let server = pty(11, "");
    let session = open(&server).await;
    let info = session.info();
    assert_eq!(info.device_id, device_id_for_seed(11));
    assert_eq!(info.protocol_version, PROTOCOL_VERSION);
    let names: Vec<(&str, &str)> = info.channels.iter().map(|c| (c.name.as_str(), c.unit.as_str())).collect();
    assert_eq!(names, [("temperature", "°C"), ("humidity", "%"), ("battery", "V"), ("current", "nA")]);
    assert!(info.capabilities.contains(Capabilities::CONFIG));
    assert!(session.ping().await.unwrap() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_arrives_contiguous_and_plausible() {
    let server = pty(12, "");
    let session = open(&server).await;
    let info = session.info().clone();
    let mut telemetry = session.telemetry(4096).await.unwrap();
    // Next expected first-sample time per channel: a gap or an overlap would fail the test.
    let mut next_time_us: HashMap<u8, u64> = HashMap::new();
    let mut samples: HashMap<u8, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && samples.len() < 4 || samples.values().any(|&n| n < 20) {
        let message = tokio::time::timeout(Duration::from_secs(2), telemetry.rx.recv()).await.unwrap().unwrap();
        let (channel, first_us, period_ns, values): (u8, u64, u64, Vec<f64>) = match &message {
            Telemetry::Samples { batch, .. } => {
                let c = info.channels.iter().find(|c| c.id == batch.channel_id).unwrap();
                let values = batch.values.iter().map(|&v| c.physical(i64::from(v))).collect();
                (batch.channel_id, batch.first_sample_time_us, u64::from(batch.sample_period_us) * 1000, values)
            }
            Telemetry::Current { batch, .. } => {
                assert_eq!(batch.dropped_before, 0);
                let values = batch.values.iter().map(|&v| f64::from(v)).collect();
                (batch.channel_id, batch.first_sample_time_us, u64::from(batch.sample_period_ns), values)
            }
            Telemetry::Log { .. } | Telemetry::Text { .. } => continue,
        };
        if let Some(expected) = next_time_us.get(&channel) {
            assert_eq!(first_us, *expected, "channel {channel} batches are not contiguous");
        }
        next_time_us.insert(channel, first_us + values.len() as u64 * period_ns / 1000);
        *samples.entry(channel).or_default() += values.len();
        let range = match channel {
            0 => 15.0..30.0,
            1 => 30.0..60.0,
            2 => 3.0..4.0,
            _ => 0.0..150e6,
        };
        assert!(values.iter().all(|v| range.contains(v)), "channel {channel} out of range: {values:?}");
    }
    assert_eq!(samples.len(), 4, "every channel streams: {samples:?}");
    let stats = session.stats().snapshot();
    assert_eq!(stats.bad_checksums + stats.malformed_frames, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_stage_check_commit_round_trip() {
    let server = pty(13, "");
    let session = open(&server).await;
    let device_id = session.info().device_id;
    let before = session.read_config().await.unwrap();
    assert_eq!(before.generation, 0);

    let lorawan = LoraWanConfig {
        dev_eui: [0x70, 0xB3, 0xD5, 0x7E, 0xD0, 0x00, 0x12, 0x34],
        join_eui: [0; 8],
        app_key: [0x5A; 15].into_iter().chain([0x01]).collect::<Vec<_>>().try_into().unwrap(),
    };
    let mqtt = MqttConfig {
        client_id: heapless::String::try_from("bench-13").unwrap(),
        user: heapless::String::try_from("sensor").unwrap(),
        password: heapless::String::try_from("correct horse").unwrap(),
    };
    session.stage(&ConfigItem::Reporting(ReportingConfig { interval_secs: 300 })).await.unwrap();
    session.stage(&ConfigItem::LoraWan(lorawan.clone())).await.unwrap();
    session.stage(&ConfigItem::Mqtt(mqtt.clone())).await.unwrap();

    // Staging changes nothing in force.
    assert_eq!(session.read_config().await.unwrap(), before);

    let staged = session.check().await.unwrap();
    assert_eq!(staged.reporting.interval_secs, 300);
    assert_eq!(staged.lorawan.dev_eui, lorawan.dev_eui);
    assert_eq!(staged.lorawan.app_key_kcv, key_check_value(device_id, SecretField::AppKey, &lorawan.app_key));
    assert_eq!(
        staged.mqtt.password_kcv,
        key_check_value(device_id, SecretField::MqttPassword, mqtt.password.as_bytes())
    );

    // A commit naming another digest is refused.
    let wrong = ConfigDigest([0; 8]);
    assert!(matches!(session.commit(wrong).await, Err(SessionError::Device(DeviceError::StagedMismatch))));

    let receipt = session.commit(staged.digest).await.unwrap();
    assert_eq!(receipt.generation, 1);
    let after = session.read_config().await.unwrap();
    assert_eq!(after.generation, 1);
    assert_eq!(after.digest, staged.digest);
    assert_eq!(after.reporting.interval_secs, 300);
    assert_eq!(after.lorawan.app_key_kcv, staged.lorawan.app_key_kcv);

    // A repeated commit (its first answer lost) answers the same receipt.
    assert_eq!(session.commit(staged.digest).await.unwrap(), receipt);

    // Bad values name their field; nothing is staged by them.
    let mut bad = lorawan.clone();
    bad.app_key = [0; 16];
    let refused = session.stage(&ConfigItem::LoraWan(bad)).await;
    assert!(matches!(refused, Err(SessionError::Device(DeviceError::BadValue(ConfigField::AppKey)))), "{refused:?}");
    assert!(matches!(session.check().await, Err(SessionError::Device(DeviceError::NothingStaged))));

    // Discard drops a staged change.
    session.stage(&ConfigItem::Reporting(ReportingConfig { interval_secs: 5 })).await.unwrap();
    session.discard().await.unwrap();
    assert_eq!(session.read_config().await.unwrap().reporting.interval_secs, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_during_commit_keeps_the_previous_configuration() {
    let server = pty(14, "reset-on-commit");
    let session = open(&server).await;
    let mut telemetry = session.telemetry(4096).await.unwrap();
    session.stage(&ConfigItem::Reporting(ReportingConfig { interval_secs: 42 })).await.unwrap();
    let staged = session.check().await.unwrap();

    // The board resets half way through writing: the first attempt gets no answer, the retry finds the
    // board rebooted with nothing staged.
    let result = session.commit(staged.digest).await;
    assert!(matches!(result, Err(SessionError::Device(DeviceError::NothingStaged))), "{result:?}");
    let config = session.read_config().await.unwrap();
    assert_eq!((config.generation, config.reporting.interval_secs), (0, 60));

    // The board said so in its log.
    let mut saw_reboot = false;
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(500), telemetry.rx.recv()).await {
        if let Telemetry::Log { line, .. } = message {
            saw_reboot |= line.text.starts_with("booted (power loss during commit)");
        }
        if saw_reboot {
            break;
        }
    }
    assert!(saw_reboot);

    // Once the fault has passed, the same change commits.
    session.stage(&ConfigItem::Reporting(ReportingConfig { interval_secs: 42 })).await.unwrap();
    let staged = session.check().await.unwrap();
    assert_eq!(session.commit(staged.digest).await.unwrap().generation, 1);
    assert_eq!(session.read_config().await.unwrap().reporting.interval_secs, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_and_lost_bytes_are_counted_and_survived() {
    let server = pty(15, "corrupt=0.2,drop-bytes=0.0005");
    let session = open(&server).await;
    let mut telemetry = session.telemetry(4096).await.unwrap();
    // Requests go through despite a fifth of the frames being corrupted (retries cover the lost answers).
    for interval_secs in [30, 31, 32, 33, 34] {
        session.stage(&ConfigItem::Reporting(ReportingConfig { interval_secs })).await.unwrap();
        assert_eq!(session.check().await.unwrap().reporting.interval_secs, interval_secs);
    }
    // Telemetry keeps flowing and no corrupted value gets through.
    let mut batches = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    while batches < 30 && Instant::now() < deadline {
        if let Ok(Some(Telemetry::Samples { batch, .. })) =
            tokio::time::timeout(Duration::from_secs(1), telemetry.rx.recv()).await
        {
            if batch.channel_id == 0 {
                assert!(batch.values.iter().all(|&v| (1500..3000).contains(&v)), "{:?}", batch.values);
            }
            batches += 1;
        }
    }
    assert!(batches >= 30);
    let stats = session.stats().snapshot();
    assert!(stats.bad_checksums + stats.malformed_frames > 0, "{stats:?}");
    assert!(stats.discarded_bytes > 0);
    assert!(stats.frames_rx > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_port_is_a_clear_error() {
    let source = Source::parse("serial:/dev/benchtop-no-such-port").unwrap();
    let error = Session::open(&source, options()).await.err().unwrap();
    let text = error.to_string();
    assert!(text.contains("could not open serial port /dev/benchtop-no-such-port"), "{text}");
}

/// Paced like a 9600-baud UART, the board's telemetry arrives no faster than the line allows (960 bytes a
/// second plus the bridge's 64-byte FIFO), and it does keep the line busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_pty_is_as_slow_as_its_baud_rate() {
    use benchtop::sim::serve::UartPace;
    let server =
        PtyServer::start_paced(SimOptions { seed: 12, faults: Faults::default() }, Some(UartPace::from_baud(9600)))
            .unwrap();
    let source = Source::parse(&format!("serial:{}", server.path())).unwrap();
    let session =
        Session::open(&source, SessionOptions { timeout: Duration::from_secs(2), attempts: 3 }).await.unwrap();
    let _telemetry = session.telemetry(1024).await.unwrap();
    let before = session.stats().snapshot().bytes_rx;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bytes = session.stats().snapshot().bytes_rx - before;
    let limit = started.elapsed().as_secs_f64() * 960.0 + 64.0;
    assert!((bytes as f64) <= limit * 1.05, "{bytes} bytes in {:?}", started.elapsed());
    assert!((bytes as f64) >= limit * 0.5, "the line idled: {bytes} bytes in {:?}", started.elapsed());
}
