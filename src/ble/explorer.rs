//! The task behind the window's GATT explorer: it owns one connected [`BleDevice`], takes
//! [`ExploreCommand`]s (read, write, subscribe, unsubscribe, disconnect) and reports [`ExploreEvent`]s (the
//! explored tree, each result, every notification, the end of the connection).
//!
//! Not here: any window. The caller gets a bounded command queue and a bounded event queue
//! ([`ExplorerLink`]) and a wake-up call for each event; nothing it does waits on Bluetooth. Every failure
//! reaches the caller as the [`BleError`] sentence, never a panic. Dropping the link (or sending
//! [`ExploreCommand::Disconnect`]) disconnects the device; a device that goes away on its own ends the task
//! with [`BleError::Disconnected`]. Each stack call has [`OPERATION_TIMEOUT`], so a device that stops answering
//! cannot hold the task up.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use btleplug::api::{Central as _, CentralEvent, Peripheral as _};
use btleplug::platform::{Adapter, Peripheral};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::central::{BleDevice, FIND_TIMEOUT, adapter, find};
use super::error::BleError;
use super::explore::GattTree;

/// Commands queued from the window to the task.
const COMMAND_QUEUE: usize = 32;
/// Events queued from the task to the window; a full queue holds notifications back in their own queue,
/// which counts what it has to drop.
const EVENT_QUEUE: usize = 512;
/// Notifications queued per subscribed characteristic before the newest are dropped and counted.
pub const NOTIFICATION_QUEUE: usize = 256;
/// How often the connection is checked, for a device (or a stack) that goes without a word.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(2);
/// Longest one read, write, subscribe or unsubscribe may take.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// What the window asks of the connected device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExploreCommand {
    /// Read a characteristic.
    Read(Uuid),
    /// Write a characteristic.
    Write {
        /// The characteristic.
        characteristic: Uuid,
        /// The bytes.
        value: Vec<u8>,
        /// Write request (acknowledged) rather than write command.
        with_response: bool,
    },
    /// Subscribe to a characteristic's notifications or indications.
    Subscribe(Uuid),
    /// Stop them.
    Unsubscribe(Uuid),
    /// Disconnect and end the task.
    Disconnect,
}

/// What the task reports.
#[derive(Debug, Clone)]
pub enum ExploreEvent {
    /// Connected, services discovered, readable values read.
    Connected(GattTree),
    /// The connection could not be made (the sentence of the [`BleError`]); the task has ended.
    Failed(String),
    /// A read's value, or why it failed.
    Read {
        /// The characteristic.
        characteristic: Uuid,
        /// The value, or the error sentence.
        result: Result<Vec<u8>, String>,
    },
    /// A write's outcome.
    Written {
        /// The characteristic.
        characteristic: Uuid,
        /// Bytes written, or the error sentence.
        result: Result<usize, String>,
    },
    /// A subscription's outcome.
    Subscribed {
        /// The characteristic.
        characteristic: Uuid,
        /// Whether notifications now flow, or the error sentence.
        result: Result<(), String>,
    },
    /// One notification.
    Notification {
        /// The characteristic.
        characteristic: Uuid,
        /// Its value.
        value: Vec<u8>,
        /// When the task received it.
        at: Instant,
        /// Notifications of this characteristic dropped so far because the window fell behind.
        dropped: u64,
    },
    /// Notifications stopped (asked for, or the stack ended them).
    Unsubscribed {
        /// The characteristic.
        characteristic: Uuid,
    },
    /// The connection ended: `None` when asked for, else the sentence saying why. The task has ended.
    Disconnected(Option<String>),
}

/// The window's end of an explorer task.
pub struct ExplorerLink {
    /// Commands to the task; dropping it disconnects.
    pub commands: mpsc::Sender<ExploreCommand>,
    /// Events from the task, in order.
    pub events: mpsc::Receiver<ExploreEvent>,
}

/// Called after each event is queued, to wake the window.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
struct Reporter {
    tx: mpsc::Sender<ExploreEvent>,
    wake: Wake,
}

impl Reporter {
    /// Queues `event`; `false` once the window has gone.
    async fn send(&self, event: ExploreEvent) -> bool {
        let sent = self.tx.send(event).await.is_ok();
        (self.wake)();
        sent
    }
}

/// Starts exploring the device `target` names (platform id, address or name) on `runtime`.
pub fn spawn_explorer(runtime: &tokio::runtime::Handle, target: String, wake: Wake) -> ExplorerLink {
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (tx, events) = mpsc::channel(EVENT_QUEUE);
    runtime.spawn(run_explorer(target, command_rx, Reporter { tx, wake }));
    ExplorerLink { commands, events }
}

/// The device `target` names: one the adapter already knows by platform id (as a scan lists it), else found
/// by scanning.
async fn locate(adapter: &Adapter, target: &str) -> Result<Peripheral, BleError> {
    if let Ok(known) = adapter.peripherals().await
        && let Some(peripheral) = known.into_iter().find(|p| p.id().to_string() == target)
    {
        return Ok(peripheral);
    }
    find(adapter, target, FIND_TIMEOUT).await
}

async fn connect(target: &str) -> Result<(Adapter, BleDevice), BleError> {
    let adapter = adapter().await?;
    let peripheral = locate(&adapter, target).await?;
    let device = BleDevice::connect_to(peripheral, target).await?;
    Ok((adapter, device))
}

/// `operation`, or [`BleError::TimedOut`] after [`OPERATION_TIMEOUT`], as a sentence.
async fn timed<T>(action: &'static str, operation: impl Future<Output = Result<T, BleError>>) -> Result<T, String> {
    match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(BleError::TimedOut { action, seconds: OPERATION_TIMEOUT.as_secs() }.to_string()),
    }
}

async fn run_explorer(target: String, mut commands: mpsc::Receiver<ExploreCommand>, report: Reporter) {
    let (adapter, device) = match connect(&target).await {
        Ok(connected) => connected,
        Err(error) => {
            report.send(ExploreEvent::Failed(error.to_string())).await;
            return;
        }
    };
    // Watch for the device going away before exploring, so that nothing is missed.
    let mut central_events = adapter.events().await.ok();
    if !report.send(ExploreEvent::Connected(device.explore().await)).await {
        let _ = device.disconnect().await;
        return;
    }
    let id = device.peripheral().id();
    let mut forwarders: HashMap<Uuid, JoinHandle<()>> = HashMap::new();
    let mut liveness = tokio::time::interval(LIVENESS_INTERVAL);
    liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let reason = loop {
        let gone = async {
            match central_events.as_mut() {
                Some(events) => loop {
                    match events.next().await {
                        Some(CentralEvent::DeviceDisconnected(gone)) if gone == id => break,
                        Some(_) => {}
                        None => std::future::pending::<()>().await,
                    }
                },
                None => std::future::pending::<()>().await,
            }
        };
        let command = tokio::select! {
            command = commands.recv() => command,
            () = gone => break Some(BleError::Disconnected { target: target.clone() }.to_string()),
            _ = liveness.tick() => {
                match timed("checking the connection", async {
                    device.peripheral().is_connected().await.map_err(|e| BleError::from_stack("checking the connection", e))
                })
                .await
                {
                    Ok(true) => continue,
                    Ok(false) => break Some(BleError::Disconnected { target: target.clone() }.to_string()),
                    Err(sentence) => break Some(sentence),
                }
            }
        };
        let event = match command {
            None | Some(ExploreCommand::Disconnect) => break None,
            Some(ExploreCommand::Read(characteristic)) => {
                ExploreEvent::Read { characteristic, result: timed("reading", device.read(characteristic)).await }
            }
            Some(ExploreCommand::Write { characteristic, value, with_response }) => {
                let result = timed("writing", device.write(characteristic, &value, with_response)).await;
                ExploreEvent::Written { characteristic, result: result.map(|()| value.len()) }
            }
            Some(ExploreCommand::Subscribe(characteristic)) => {
                let result = timed("subscribing", device.subscribe(characteristic, NOTIFICATION_QUEUE)).await;
                let result = result.map(|notifications| {
                    let forwarder = tokio::spawn(forward(characteristic, notifications, report.clone()));
                    if let Some(old) = forwarders.insert(characteristic, forwarder) {
                        old.abort();
                    }
                });
                ExploreEvent::Subscribed { characteristic, result }
            }
            Some(ExploreCommand::Unsubscribe(characteristic)) => {
                if let Some(forwarder) = forwarders.remove(&characteristic) {
                    forwarder.abort();
                }
                // The stack may refuse (the device went away); notifications have stopped here either way.
                let _ = timed("unsubscribing", device.unsubscribe(characteristic)).await;
                ExploreEvent::Unsubscribed { characteristic }
            }
        };
        if !report.send(event).await {
            break None;
        }
    };
    for forwarder in forwarders.into_values() {
        forwarder.abort();
    }
    let _ = tokio::time::timeout(OPERATION_TIMEOUT, device.disconnect()).await;
    report.send(ExploreEvent::Disconnected(reason)).await;
}

/// Passes one characteristic's notifications on, waiting for room in the event queue (so a window that
/// falls behind makes the notification queue drop and count, rather than this one grow).
async fn forward(characteristic: Uuid, mut notifications: super::central::Notifications, report: Reporter) {
    while let Some(value) = notifications.values.recv().await {
        let dropped = notifications.dropped.load(Ordering::Relaxed);
        let event = ExploreEvent::Notification { characteristic, value, at: Instant::now(), dropped };
        if !report.send(event).await {
            return;
        }
    }
    report.send(ExploreEvent::Unsubscribed { characteristic }).await;
}
