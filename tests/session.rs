#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The session over loopback TCP and the in-process link: schema discovery through postcard-rpc's standard
//! endpoint, reboot, streaming control, and a vanished board.

use std::time::Duration;

use benchtop::io::{Session, SessionError, SessionOptions, Telemetry};
use benchtop::model::source::Source;
use benchtop::sim::SimOptions;
use benchtop::sim::serve::TcpServer;
use firmware_protocol::*;

fn options() -> SessionOptions {
    SessionOptions { timeout: Duration::from_millis(500), attempts: 3 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_postcard_rpc_host_can_read_the_schema() {
    let server = TcpServer::start("127.0.0.1:0", SimOptions { seed: 21, ..Default::default() }).unwrap();
    let source = Source::parse(&format!("tcp:{}", server.address())).unwrap();
    let session = Session::open(&source, options()).await.unwrap();
    let report = session.schema_report().await.unwrap();
    let endpoints: Vec<&str> = report.endpoints.iter().map(|e| e.path.as_str()).collect();
    for path in ["benchtop/info", "benchtop/config/commit", "postcard-rpc/ping"] {
        assert!(endpoints.contains(&path), "{path} missing from {endpoints:?}");
    }
    let topics: Vec<&str> = report.topics_out.iter().map(|t| t.path.as_str()).collect();
    assert!(topics.contains(&"benchtop/telemetry/current"), "{topics:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_can_be_switched_and_rate_changed() {
    let session = Session::open(&Source::parse("sim:seed=22").unwrap(), options()).await.unwrap();
    let mut telemetry = session.telemetry(8192).await.unwrap();
    session.set_streaming(StreamingConfig { enabled: true, current_rate_hz: 100_000 }).await.unwrap();
    let mut fast = None;
    while fast.is_none() {
        if let Telemetry::Current { batch, .. } = telemetry.rx.recv().await.unwrap()
            && batch.sample_period_ns == 10_000
        {
            fast = Some(batch);
        }
    }
    assert_eq!(fast.unwrap().values.len(), firmware_protocol::telemetry::CURRENT_BATCH_MAX_SAMPLES);
    let refused = session.set_streaming(StreamingConfig { enabled: true, current_rate_hz: 5_000_000 }).await;
    assert!(matches!(refused, Err(SessionError::Device(DeviceError::BadValue(ConfigField::StreamingRate)))));

    session.set_streaming(StreamingConfig { enabled: false, current_rate_hz: 1000 }).await.unwrap();
    // Drain what was in flight, then nothing more arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while telemetry.rx.try_recv().is_ok() {}
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match telemetry.rx.recv().await {
                Some(Telemetry::Log { .. }) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "telemetry arrived after streaming was switched off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_and_identify_are_logged() {
    let session = Session::open(&Source::parse("sim:seed=23").unwrap(), options()).await.unwrap();
    let mut telemetry = session.telemetry(8192).await.unwrap();
    session.identify(1500).await.unwrap();
    session.reboot().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = tokio::time::timeout(Duration::from_secs(2), telemetry.rx.recv()).await.unwrap().unwrap();
        if let Telemetry::Log { line, .. } = message
            && (line.text.starts_with("identify") || line.text.starts_with("booted (reset)"))
        {
            seen.push(line.text.to_string());
        }
    }
    assert_eq!(seen, ["identify: blinking for 1500 ms", "booted (reset), configuration generation 0"]);
    assert!(matches!(
        session.identify(0).await,
        Err(SessionError::Device(DeviceError::BadValue(ConfigField::IdentifyDuration)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_that_goes_away_closes_the_session() {
    let server = TcpServer::start("127.0.0.1:0", SimOptions { seed: 24, ..Default::default() }).unwrap();
    let source = Source::parse(&format!("tcp:{}", server.address())).unwrap();
    let session = Session::open(&source, options()).await.unwrap();
    drop(server);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while session.connected() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!session.connected());
    assert!(matches!(session.read_config().await, Err(SessionError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_is_a_clear_error() {
    let error = Session::open(&Source::parse("tcp:127.0.0.1:9").unwrap(), options()).await.err().unwrap();
    assert!(error.to_string().contains("could not connect to 127.0.0.1:9"), "{error}");
}
