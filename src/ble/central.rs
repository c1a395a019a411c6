//! The computer's own Bluetooth adapter through btleplug (BlueZ over the system D-Bus on Linux, CoreBluetooth
//! on macOS, WinRT on Windows): scan, connect and disconnect, discover the GATT tree, read, write, subscribe,
//! and open a Benchtop protocol link over a board's GATT service.
//!
//! Everything here is async and runs on the I/O runtime; nothing blocks a window. Failures of the platform
//! stack (no system bus, no BlueZ, no adapter, adapter off, permission denied) become a [`BleError`] that
//! says what happened and what to do, never a panic. BlueZ is reached through libdbus, which honours
//! `DBUS_SYSTEM_BUS_ADDRESS`: that is how the tests put a stand-in on a private bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use btleplug::api::{Central as _, CentralState, Characteristic, Manager as _, Peripheral as _, ScanFilter, WriteType};
use btleplug::platform::{Adapter, Manager, Peripheral};
use futures::StreamExt as _;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::decode::plot_values;
pub use super::error::BleError;
use super::error::stack;
pub use super::explore::{CharacteristicNode, GattTree, ServiceNode};
use super::gatt_link::{gatt_link, gatt_pipe};
use super::names::{AttributeKind, label};
use super::scan::{Advertisement, ScanTable};
use crate::io::link::Link;
use crate::model::source::BoardFormat;
use crate::model::textline::TextFormat;

/// How long `ble:NAME` looks for an advertising device before giving up.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection and its service discovery may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The first Bluetooth adapter, checked to be on.
pub async fn adapter() -> Result<Adapter, BleError> {
    if cfg!(target_os = "macos") {
        crate::ble::macos::check_running_program()?;
    }
    let manager = Manager::new().await.map_err(stack("start"))?;
    let adapter =
        manager.adapters().await.map_err(stack("listing adapters"))?.into_iter().next().ok_or(BleError::NoAdapter)?;
    if adapter.adapter_state().await.map_err(stack("reading the adapter state"))? == CentralState::PoweredOff {
        let name = adapter.adapter_info().await.unwrap_or_else(|_| "adapter".into());
        return Err(BleError::AdapterOff { adapter: name });
    }
    Ok(adapter)
}

async fn advertisement(peripheral: &Peripheral) -> Option<Advertisement> {
    let properties = peripheral.properties().await.ok()??;
    let address = properties.address.to_string();
    // BlueZ gives a device without a name its address as alias (`C0-FF-EE-00-00-02`): that is no name.
    let name = properties
        .advertisement_name
        .or(properties.local_name)
        .filter(|name| !name.replace('-', ":").eq_ignore_ascii_case(&address));
    Some(Advertisement {
        address,
        name,
        rssi_dbm: properties.rssi,
        tx_power_dbm: properties.tx_power_level,
        manufacturer_data: properties.manufacturer_data,
        services: properties.services,
    })
}

/// Scans for `duration`, handing every update to `on_update` as it arrives, and returns what was seen.
/// Every advertisement counts, named or not.
pub async fn scan_with(
    adapter: &Adapter,
    duration: Duration,
    mut on_update: impl FnMut(&ScanTable),
) -> Result<ScanTable, BleError> {
    let mut events = adapter.events().await.map_err(stack("scanning"))?;
    adapter.start_scan(ScanFilter::default()).await.map_err(stack("scanning"))?;
    let started = Instant::now();
    let mut table = ScanTable::default();
    // Devices the stack already knows from earlier scans count too: BlueZ reports them once, on start.
    for peripheral in adapter.peripherals().await.map_err(stack("scanning"))? {
        if let Some(advert) = advertisement(&peripheral).await {
            table.observe(&peripheral.id().to_string(), advert, 0.0);
        }
    }
    on_update(&table);
    let deadline = tokio::time::Instant::now() + duration;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
        use btleplug::api::CentralEvent as E;
        let id = match event {
            E::DeviceDiscovered(id)
            | E::DeviceUpdated(id)
            | E::RssiUpdate { id, .. }
            | E::ManufacturerDataAdvertisement { id, .. }
            | E::ServiceDataAdvertisement { id, .. }
            | E::ServicesAdvertisement { id, .. } => id,
            _ => continue,
        };
        if let Ok(peripheral) = adapter.peripheral(&id).await
            && let Some(advert) = advertisement(&peripheral).await
        {
            table.observe(&id.to_string(), advert, started.elapsed().as_secs_f64());
            on_update(&table);
        }
    }
    let _ = adapter.stop_scan().await;
    Ok(table)
}

/// Scans the first adapter for `duration`.
pub async fn scan(duration: Duration) -> Result<ScanTable, BleError> {
    scan_with(&adapter().await?, duration, |_| {}).await
}

/// Whether `peripheral` is the one `target` names: its platform id, its address, or its name.
async fn matches(peripheral: &Peripheral, target: &str) -> bool {
    if peripheral.id().to_string() == target || peripheral.address().to_string().eq_ignore_ascii_case(target) {
        return true;
    }
    advertisement(peripheral).await.and_then(|a| a.name).is_some_and(|name| name == target)
}

/// Finds the device `target` names (name, address or platform id), scanning for up to `timeout`.
pub async fn find(adapter: &Adapter, target: &str, timeout: Duration) -> Result<Peripheral, BleError> {
    let mut events = adapter.events().await.map_err(stack("scanning"))?;
    adapter.start_scan(ScanFilter::default()).await.map_err(stack("scanning"))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let found = 'search: {
        for peripheral in adapter.peripherals().await.map_err(stack("scanning"))? {
            if matches(&peripheral, target).await {
                break 'search Some(peripheral);
            }
        }
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
            use btleplug::api::CentralEvent as E;
            if let E::DeviceDiscovered(id) | E::DeviceUpdated(id) = event
                && let Ok(peripheral) = adapter.peripheral(&id).await
                && matches(&peripheral, target).await
            {
                break 'search Some(peripheral);
            }
        }
        None
    };
    let _ = adapter.stop_scan().await;
    found.ok_or_else(|| BleError::NotFound { target: target.to_string(), seconds: timeout.as_secs() })
}

/// A connected device with its services discovered.
pub struct BleDevice {
    peripheral: Peripheral,
    target: String,
}

/// The notifications of one subscribed characteristic.
pub struct Notifications {
    /// Values in the order they arrived; closes when the device disconnects.
    pub values: mpsc::Receiver<Vec<u8>>,
    /// Values dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
}

impl BleDevice {
    /// Finds `target` on the first adapter, connects and discovers its services.
    pub async fn connect(target: &str) -> Result<BleDevice, BleError> {
        let adapter = adapter().await?;
        let peripheral = find(&adapter, target, FIND_TIMEOUT).await?;
        Self::connect_to(peripheral, target).await
    }

    /// Connects to a found peripheral and discovers its services.
    pub async fn connect_to(peripheral: Peripheral, target: &str) -> Result<BleDevice, BleError> {
        let timed_out = || BleError::Stack { action: "connecting", reason: "no answer in time".into() };
        if !peripheral.is_connected().await.unwrap_or(false) {
            tokio::time::timeout(CONNECT_TIMEOUT, peripheral.connect())
                .await
                .map_err(|_| timed_out())?
                .map_err(stack("connecting"))?;
        }
        tokio::time::timeout(CONNECT_TIMEOUT, peripheral.discover_services())
            .await
            .map_err(|_| timed_out())?
            .map_err(stack("discovering services"))?;
        Ok(BleDevice { peripheral, target: target.to_string() })
    }

    /// The name, address or id it was found by.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The btleplug peripheral, for operations this type has no method for.
    pub fn peripheral(&self) -> &Peripheral {
        &self.peripheral
    }

    /// The connection's ATT MTU, bytes.
    pub fn att_mtu(&self) -> u16 {
        self.peripheral.mtu()
    }

    /// Whether it offers the Benchtop protocol service.
    pub fn has_benchtop_service(&self) -> bool {
        let service = Uuid::from_u128(firmware_protocol::ble::SERVICE_UUID);
        self.peripheral.services().iter().any(|s| s.uuid == service)
    }

    fn characteristic(&self, uuid: Uuid) -> Result<Characteristic, BleError> {
        self.peripheral.characteristics().into_iter().find(|c| c.uuid == uuid).ok_or_else(|| {
            BleError::NoCharacteristic {
                target: self.target.clone(),
                characteristic: label(AttributeKind::Characteristic, uuid),
            }
        })
    }

    /// Reads a characteristic.
    pub async fn read(&self, characteristic: Uuid) -> Result<Vec<u8>, BleError> {
        let c = self.characteristic(characteristic)?;
        self.peripheral.read(&c).await.map_err(stack("reading"))
    }

    /// Writes a characteristic, with or without response.
    pub async fn write(&self, characteristic: Uuid, value: &[u8], with_response: bool) -> Result<(), BleError> {
        let c = self.characteristic(characteristic)?;
        let kind = if with_response { WriteType::WithResponse } else { WriteType::WithoutResponse };
        self.peripheral.write(&c, value, kind).await.map_err(stack("writing"))
    }

    /// Subscribes to a characteristic; its notification values arrive in order on a bounded queue that closes
    /// when the device disconnects. A reader that falls behind loses the newest values, counted in
    /// [`Notifications::dropped`], rather than holding up the stack.
    pub async fn subscribe(&self, characteristic: Uuid, capacity: usize) -> Result<Notifications, BleError> {
        let c = self.characteristic(characteristic)?;
        // The stream first, so that nothing notified right after the subscription is missed.
        let mut stream = self.peripheral.notifications().await.map_err(stack("subscribing"))?;
        self.peripheral.subscribe(&c).await.map_err(stack("subscribing"))?;
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let task_dropped = dropped.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    next = stream.next() => match next {
                        Some(n) if n.uuid == characteristic => match tx.try_send(n.value) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                task_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => break,
                        },
                        Some(_) => {}
                        None => break,
                    },
                    () = tx.closed() => break,
                }
            }
        });
        Ok(Notifications { values: rx, dropped })
    }

    /// Stops the notifications of a characteristic (its [`Notifications`] queue closes once the stack stops).
    pub async fn unsubscribe(&self, characteristic: Uuid) -> Result<(), BleError> {
        let c = self.characteristic(characteristic)?;
        self.peripheral.unsubscribe(&c).await.map_err(stack("unsubscribing"))
    }

    /// The Benchtop protocol over this device's GATT service, as a [`Link`]; dropping the link disconnects.
    pub async fn into_link(self) -> Result<Link, BleError> {
        use firmware_protocol::ble::{RX_CHARACTERISTIC_UUID, TX_CHARACTERISTIC_UUID};
        if !self.has_benchtop_service() {
            let _ = self.peripheral.disconnect().await;
            return Err(BleError::NotBenchtop { target: self.target });
        }
        let rx = self.characteristic(Uuid::from_u128(RX_CHARACTERISTIC_UUID))?;
        // A notification dropped for a full queue cuts the stream: the frame decoder discards the frames it
        // broke and counts them, and the session retries its request, as after noise on a serial line.
        let Notifications { values: mut notifications, .. } =
            self.subscribe(Uuid::from_u128(TX_CHARACTERISTIC_UUID), super::gatt_link::GATT_NOTIFICATION_QUEUE).await?;
        let (pipe, mut end) = gatt_pipe(self.att_mtu());
        let peripheral = self.peripheral.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    value = notifications.recv() => {
                        let Some(value) = value else { break };
                        if end.notifications.send(value).await.is_err() {
                            break;
                        }
                    }
                    write = end.writes.recv() => {
                        let Some(write) = write else { break };
                        if peripheral.write(&rx, &write, WriteType::WithoutResponse).await.is_err() {
                            break;
                        }
                    }
                }
            }
            // The link is gone (or the device): let the device go too.
            let _ = peripheral.disconnect().await;
        });
        Ok(gatt_link(pipe))
    }

    /// The device's notifications as text lines for a text board: every characteristic that notifies or
    /// indicates is subscribed, and each value becomes a line of `name:value` pairs ([`plot_values`]), the
    /// serial-plotter format text boards already plot. Bytes sent to the link are dropped (a GATT device has no
    /// console). Dropping the link disconnects.
    pub async fn into_notification_lines(self) -> Result<Link, BleError> {
        use btleplug::api::CharPropFlags as F;
        let notifying: Vec<Characteristic> = self
            .peripheral
            .characteristics()
            .into_iter()
            .filter(|c| c.properties.intersects(F::NOTIFY | F::INDICATE))
            .collect();
        let mut stream = self.peripheral.notifications().await.map_err(stack("subscribing"))?;
        for c in &notifying {
            self.peripheral.subscribe(c).await.map_err(stack("subscribing"))?;
        }
        let (link, in_tx, mut out_rx) = Link::new_parts();
        let (stats, peripheral) = (link.stats.clone(), self.peripheral.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    next = stream.next() => {
                        let Some(notification) = next else { break };
                        stats.bytes_rx.fetch_add(notification.value.len() as u64, Ordering::Relaxed);
                        let values = plot_values(notification.uuid, &notification.value, None);
                        if values.is_empty() {
                            continue;
                        }
                        let pairs: Vec<String> = values.iter().map(|(name, value)| format!("{name}:{value}")).collect();
                        if in_tx.send(format!("{}\n", pairs.join(",")).into_bytes()).await.is_err() {
                            break;
                        }
                    }
                    sent = out_rx.recv() => if sent.is_none() { break },
                    () = in_tx.closed() => break,
                }
            }
            let _ = peripheral.disconnect().await;
        });
        Ok(link)
    }

    /// Disconnects.
    pub async fn disconnect(&self) -> Result<(), BleError> {
        self.peripheral.disconnect().await.map_err(stack("disconnecting"))
    }
}

/// Opens the Benchtop protocol link to the device `target` names (the `ble:` source).
pub async fn open_link(target: &str) -> Result<Link, BleError> {
    BleDevice::connect(target).await?.into_link().await
}

/// Opens the device `target` names as a board: over the Benchtop protocol if it has the service, else its
/// notifications as plotter text lines ([`BleDevice::into_notification_lines`]).
pub async fn open_board_link(target: &str) -> Result<(Link, BoardFormat), BleError> {
    let device = BleDevice::connect(target).await?;
    if device.has_benchtop_service() {
        Ok((device.into_link().await?, BoardFormat::Protocol))
    } else {
        Ok((device.into_notification_lines().await?, BoardFormat::Text(TextFormat::Plotter)))
    }
}
