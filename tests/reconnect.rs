#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! A board that is unplugged and plugged back in is found again and reconnected, through the real serial
//! code. The port is reached through a symlink, as udev's /dev/serial/by-id names are, and the board comes back
//! on a new pseudo-terminal behind it.

use std::sync::Arc;
use std::time::Duration;

use benchtop::io::device_task::{
    DeviceCommand, DeviceEvent, DeviceTaskOptions, EventSink, RecordingStatus, run_device,
};
use benchtop::io::{SessionOptions, Telemetry};
use benchtop::model::source::Source;
use benchtop::sim::SimOptions;
use benchtop::sim::board::device_id_for_seed;
use benchtop::sim::serve::PtyServer;
use tokio::sync::mpsc;

fn plug_in(link: &std::path::Path) -> PtyServer {
    let server = PtyServer::start(SimOptions { seed: 51, ..Default::default() }).unwrap();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(server.path(), link).unwrap();
    server
}

/// Waits for the next state event (telemetry is counted, not returned).
async fn next_state(rx: &mut mpsc::Receiver<(u64, DeviceEvent)>, telemetry: &mut usize) -> DeviceEvent {
    loop {
        let (_, event) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
        match event {
            DeviceEvent::Telemetry(Telemetry::Samples { .. }) => *telemetry += 1,
            DeviceEvent::Telemetry(_) | DeviceEvent::Frames(_) | DeviceEvent::Schema(_) => {}
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplugged_board_is_reconnected_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("usb-Benchtop_Sim-if00");
    let first = plug_in(&link);

    let (tx, mut rx) = mpsc::channel(1024);
    let (commands, command_rx) = mpsc::channel(8);
    let sink = EventSink { device: 7, tx, wake: Arc::new(|| {}) };
    let options = DeviceTaskOptions {
        session: SessionOptions { timeout: Duration::from_millis(300), attempts: 2 },
        retry_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let source = Source::parse(&format!("serial:{}", link.display())).unwrap();
    let task = tokio::spawn(run_device(source, options, command_rx, sink));

    let mut telemetry = 0;
    assert!(matches!(next_state(&mut rx, &mut telemetry).await, DeviceEvent::Connecting { attempt: 1 }));
    let DeviceEvent::Connected { info, .. } = next_state(&mut rx, &mut telemetry).await else {
        panic!("not connected")
    };
    assert_eq!(info.device_id, device_id_for_seed(51));

    // A recording started now keeps going across the unplug.
    let recording = dir.path().join("session.csv");
    commands.send(DeviceCommand::StartRecording(recording.clone())).await.unwrap();
    let started = next_state(&mut rx, &mut telemetry).await;
    assert!(matches!(started, DeviceEvent::Recording(RecordingStatus::Started(ref p)) if *p == recording));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Unplug: the board's end of the pty closes.
    first.stop().unwrap();
    let lost = next_state(&mut rx, &mut telemetry).await;
    assert!(matches!(lost, DeviceEvent::Lost { .. }), "expected the board to be lost");
    let before = telemetry;

    // Retries while it is away, then it returns on another pty behind the same name.
    assert!(matches!(next_state(&mut rx, &mut telemetry).await, DeviceEvent::Connecting { .. }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _second = plug_in(&link);
    let reconnected = loop {
        match next_state(&mut rx, &mut telemetry).await {
            DeviceEvent::Connecting { .. } => continue,
            other => break other,
        }
    };
    let DeviceEvent::Connected { info, .. } = reconnected else { panic!("not reconnected") };
    assert_eq!(info.device_id, device_id_for_seed(51));

    // Telemetry flows again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while telemetry < before + 5 && tokio::time::Instant::now() < deadline {
        if let Ok(Some((_, DeviceEvent::Telemetry(Telemetry::Samples { .. })))) =
            tokio::time::timeout(Duration::from_secs(1), rx.recv()).await
        {
            telemetry += 1;
        }
    }
    assert!(telemetry >= before + 5);

    tokio::time::sleep(Duration::from_millis(600)).await;
    commands.send(DeviceCommand::StopRecording).await.unwrap();
    let DeviceEvent::Recording(RecordingStatus::Stopped { samples, .. }) = next_state(&mut rx, &mut telemetry).await
    else {
        panic!("recording not stopped")
    };
    // Rows from before the unplug and after the return are in the one file.
    let rows: Vec<(f64, String)> = csv::Reader::from_path(&recording)
        .unwrap()
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r[1].to_string())
        })
        .collect();
    assert_eq!(rows.len() as u64, samples);
    let temperature: Vec<f64> = rows.iter().filter(|(_, c)| c == "temperature").map(|(t, _)| *t).collect();
    let largest_gap = temperature.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(largest_gap > 0.3, "the unplugged time shows as a gap ({largest_gap} s)");
    assert!(temperature.len() > 5);

    commands.send(DeviceCommand::Disconnect).await.unwrap();
    assert!(matches!(next_state(&mut rx, &mut telemetry).await, DeviceEvent::Closed));
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_never_existed_fails_without_retrying() {
    let (tx, mut rx) = mpsc::channel(16);
    let (_commands, command_rx) = mpsc::channel(1);
    let sink = EventSink { device: 1, tx, wake: Arc::new(|| {}) };
    let source = Source::parse("serial:/dev/benchtop-never").unwrap();
    tokio::spawn(run_device(source, DeviceTaskOptions::default(), command_rx, sink));
    let mut telemetry = 0;
    assert!(matches!(next_state(&mut rx, &mut telemetry).await, DeviceEvent::Connecting { .. }));
    let DeviceEvent::Failed(message) = next_state(&mut rx, &mut telemetry).await else { panic!("should fail") };
    assert!(message.contains("could not open serial port /dev/benchtop-never"), "{message}");
}
