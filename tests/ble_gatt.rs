#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Benchtop protocol over GATT against the in-process simulated peripheral: the session layer unchanged
//! on a BLE link at the MTUs boards really negotiate, frames reassembled across notification boundaries,
//! provisioning through the real flow and ledger, and reconnecting after the peripheral drops the link.

use std::time::Duration;

use benchtop::ble::gatt_link::{GattPipe, gatt_link, gatt_pipe};
use benchtop::ble::sim_peripheral::SimPeripheral;
use benchtop::io::{Session, SessionError, SessionOptions, Telemetry};
use benchtop::provision::flow::{Station, Step};
use benchtop::provision::ledger::Ledger;
use benchtop::provision::template::Template;
use benchtop::sim::SimOptions;
use firmware_protocol::ble::max_write_len;
use tokio::sync::mpsc;

fn options() -> SessionOptions {
    SessionOptions { timeout: Duration::from_millis(500), attempts: 4 }
}

/// What a tap between peripheral and host saw of the notifications.
#[derive(Debug, Default, Clone, Copy)]
struct Boundaries {
    notifications: usize,
    longest: usize,
    /// Notifications that end inside a frame (the frame continues in the next one).
    ending_mid_frame: usize,
    /// Notifications with a frame end before their last byte (the end of one frame and more after it).
    holding_a_frame_end_and_more: usize,
}

/// Puts a tap on the notifications of `pipe`, reporting on `report` when the connection ends.
fn tapped(pipe: GattPipe) -> (GattPipe, mpsc::UnboundedReceiver<Boundaries>) {
    let GattPipe { mut notifications, writes, att_mtu } = pipe;
    let (host_pipe, mut end) = gatt_pipe(att_mtu);
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut seen = Boundaries::default();
        loop {
            tokio::select! {
                value = notifications.recv() => {
                    let Some(value) = value else { break };
                    seen.notifications += 1;
                    seen.longest = seen.longest.max(value.len());
                    if value.last() != Some(&0) {
                        seen.ending_mid_frame += 1;
                    }
                    if value[..value.len() - 1].contains(&0) {
                        seen.holding_a_frame_end_and_more += 1;
                    }
                    let _ = report_tx.send(seen);
                    if end.notifications.send(value).await.is_err() {
                        break;
                    }
                }
                write = end.writes.recv() => {
                    let Some(write) = write else { break };
                    if writes.send(write).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    (host_pipe, report_rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_and_telemetry_at_every_common_mtu() {
    for att_mtu in [23u16, 27, 185, 247] {
        let peripheral =
            SimPeripheral::new(SimOptions { seed: 40 + u64::from(att_mtu), ..Default::default() }, att_mtu);
        let (pipe, mut report) = tapped(peripheral.connect().unwrap());
        let session = Session::over(gatt_link(pipe), options()).await.unwrap();
        // DeviceInfo is several notifications long at any of these MTUs.
        assert_eq!(session.info().device_id, peripheral.device_id());
        assert!(!session.info().channels.is_empty());
        session.ping().await.unwrap();
        let mut telemetry = session.telemetry(4096).await.unwrap();
        let (mut sensor_batches, mut current_batches) = (0, 0);
        while sensor_batches < 3 || current_batches < 3 {
            match tokio::time::timeout(Duration::from_secs(5), telemetry.rx.recv()).await.unwrap().unwrap() {
                Telemetry::Samples { .. } => sensor_batches += 1,
                Telemetry::Current { batch, .. } => {
                    assert!(!batch.values.is_empty());
                    current_batches += 1;
                }
                _ => {}
            }
        }
        let stats = session.stats().snapshot();
        assert_eq!(stats.decode_errors(), 0, "MTU {att_mtu}: {stats:?}");
        let mut seen = Boundaries::default();
        while let Ok(latest) = report.try_recv() {
            seen = latest;
        }
        assert!(seen.longest <= max_write_len(att_mtu), "MTU {att_mtu}: {seen:?}");
        assert!(seen.ending_mid_frame > 0, "MTU {att_mtu}: no frame spanned notifications: {seen:?}");
        assert!(seen.holding_a_frame_end_and_more > 0, "MTU {att_mtu}: no notification held two frames: {seen:?}");
        let counters = peripheral.counters();
        assert_eq!(counters.refused_writes, 0, "MTU {att_mtu}: the host wrote more than MTU - 3");
        assert!(counters.writes >= 2, "requests went out as writes: {counters:?}");
        session.close();
    }
}

#[test]
fn provisioning_over_gatt_through_the_station() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&format!("sqlite:{}", dir.path().join("ledger.sqlite").display())).unwrap();
    let template = Template::parse(
        "station = \"ble-station\"\noperator = \"tester\"\n[lorawan]\njoin_eui = \"70B3D57ED0000010\"\n\
         dev_eui = \"device-id\"\napp_key = \"generate\"\n[reporting]\ninterval_s = 300\n",
    )
    .unwrap();
    let station = Station { station: template.station.clone(), operator: template.operator.clone(), template };
    // The smallest MTU: the configuration messages are the longest the protocol sends.
    let peripheral = SimPeripheral::new(SimOptions { seed: 61, ..Default::default() }, 23);
    let session = rt.block_on(async { Session::over(peripheral.link().unwrap(), options()).await }).unwrap();
    let mut steps = Vec::new();
    let outcome = station.provision(rt.handle(), &session, &mut ledger, &mut |step| steps.push(step));
    assert!(outcome.passed, "{:?}", outcome.failure);
    assert_eq!(steps, Step::ALL);
    session.close();
    drop(session);
    // A new connection reads the committed configuration back.
    let view = rt
        .block_on(async {
            let session = Session::over(peripheral.link().unwrap(), options()).await?;
            session.read_config().await
        })
        .unwrap();
    assert_eq!(view.reporting.interval_secs, 300);
    assert_eq!(view.generation, 1);
    assert_eq!(ledger.committed().unwrap().len(), 1);
    // Nine requests in all (info, read, two stages, check, commit, read back; info and read again), and more
    // writes than that: the longer requests went out split, and every piece fitted the MTU.
    let counters = peripheral.counters();
    assert_eq!(counters.refused_writes, 0);
    assert!(counters.writes > 9, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_closes_the_session_and_a_reconnect_works() {
    let peripheral = SimPeripheral::new(SimOptions { seed: 62, ..Default::default() }, 185);
    let session = Session::over(peripheral.link().unwrap(), options()).await.unwrap();
    let device_id = session.info().device_id;
    let mut telemetry = session.telemetry(4096).await.unwrap();
    telemetry.rx.recv().await.unwrap();
    // Out of range: the peripheral ends the connection.
    peripheral.disconnect();
    let drained = tokio::time::timeout(Duration::from_secs(5), async { while telemetry.rx.recv().await.is_some() {} });
    drained.await.expect("the telemetry stream ends when the link drops");
    assert!(matches!(session.ping().await, Err(SessionError::Closed | SessionError::Timeout { .. })));
    assert!(!session.connected());
    // Back in range: a new link to the same board.
    let again = Session::over(peripheral.link().unwrap(), options()).await.unwrap();
    assert_eq!(again.info().device_id, device_id);
    again.ping().await.unwrap();
    assert_eq!(peripheral.counters().connections, 2);
}
