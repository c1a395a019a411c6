//! What the GATT explorer knows of the device it explores, and how each event from the connection changes
//! it: the tree, each characteristic's last value, pending operation, subscription counts, plotted series
//! (bounded) and write form, and the sentences of what went wrong.
//!
//! No window and no runtime here, so every transition is tested directly; the window
//! ([`super::BleExplorer`]) draws this state and turns clicks into commands.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use uuid::Uuid;

use crate::ble::decode::{decode_standard, plot_values};
use crate::ble::explore::GattTree;
use crate::ble::explorer::ExploreEvent;
use crate::inspect::input::parse_hex_text;

/// Points kept per plotted channel, newest last.
pub const PLOT_POINTS: usize = 2000;

/// Bytes as spaced hex pairs (`66 08`), as they are on the air; `(empty)` for none.
pub fn spaced_hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "(empty)".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Finding the device, connecting, discovering and reading.
    Connecting,
    /// Connected; the tree is shown.
    Connected,
    /// Disconnect asked for, not yet done.
    Disconnecting,
    /// Not connected: `None` when asked for, else why (the stack's sentence).
    Disconnected(Option<String>),
}

/// One characteristic as the explorer shows it: the tree's facts and what was done with it since.
#[derive(Debug, Clone)]
pub struct CharacteristicView {
    /// Its UUID.
    pub uuid: Uuid,
    /// `0x2A19 Battery Level`, or the UUID.
    pub label: String,
    /// `read`, `write`, `write-without-response`, `notify`, `indicate`.
    pub properties: Vec<&'static str>,
    /// Its descriptors, labelled.
    pub descriptors: Vec<String>,
    pub(super) value: Option<Vec<u8>>,
    /// A read, write or (un)subscription is on its way.
    pub(super) pending: bool,
    pub(super) subscribed: bool,
    pub(super) notifications: u64,
    pub(super) dropped: u64,
    pub(super) plot: bool,
    pub(super) series: BTreeMap<String, VecDeque<[f64; 2]>>,
    pub(super) write_text: String,
    pub(super) write_as_text: bool,
    pub(super) with_response: bool,
    /// What the last operation on it gave: a note, or the error sentence.
    pub(super) outcome: Option<Result<String, String>>,
}

impl CharacteristicView {
    /// Whether its properties include `property` (`read`, `notify`, …).
    pub fn has(&self, property: &str) -> bool {
        self.properties.contains(&property)
    }

    /// The last value read or notified.
    pub fn value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }

    /// The last value decoded, for a standard characteristic (or why it does not decode).
    pub fn decoded(&self) -> Option<String> {
        let value = self.value.as_ref()?;
        Some(match decode_standard(self.uuid, value)? {
            Ok(decoded) => decoded.to_string(),
            Err(error) => error.to_string(),
        })
    }

    /// Whether notifications are on.
    pub fn subscribed(&self) -> bool {
        self.subscribed
    }

    /// Notifications received since subscribing.
    pub fn notifications(&self) -> u64 {
        self.notifications
    }

    /// Notifications the stack dropped because the window fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether its numbers are plotted.
    pub fn plotted(&self) -> bool {
        self.plot
    }

    /// Points of each plotted channel (`temperature_c`, …): seconds since the explorer connected, value.
    pub fn series(&self) -> &BTreeMap<String, VecDeque<[f64; 2]>> {
        &self.series
    }

    /// What the last read, write or subscription gave: a note, or the stack's sentence.
    pub fn outcome(&self) -> Option<&Result<String, String>> {
        self.outcome.as_ref()
    }

    fn from_tree(node: &crate::ble::explore::CharacteristicNode) -> Option<Self> {
        let uuid = node.uuid.parse().ok()?;
        let value = node
            .value_hex
            .as_deref()
            .map(|h| if h.is_empty() { Vec::new() } else { parse_hex_text(h).unwrap_or_default() });
        let write_with_response = node.properties.contains(&"write");
        Some(CharacteristicView {
            uuid,
            label: node.label.clone(),
            properties: node.properties.clone(),
            descriptors: node.descriptors.clone(),
            value,
            pending: false,
            subscribed: false,
            notifications: 0,
            dropped: 0,
            plot: false,
            series: BTreeMap::new(),
            write_text: String::new(),
            write_as_text: false,
            with_response: write_with_response,
            outcome: None,
        })
    }
}

/// The explorer's state for one device.
#[derive(Debug)]
pub struct ExplorerState {
    /// Where the connection stands.
    pub connection: Connection,
    /// The explored tree, once connected.
    pub tree: Option<GattTree>,
    /// Its characteristics by UUID.
    pub characteristics: BTreeMap<Uuid, CharacteristicView>,
    /// The characteristic whose operations are shown.
    pub selected: Option<Uuid>,
    /// The last error sentence anywhere in the explorer.
    pub last_error: Option<String>,
    /// A problem of the connection as a whole (shown at the top; an operation's shows by its characteristic).
    pub notice: Option<String>,
    /// Zero of the plots' time axis: when the connection was made.
    pub started: Instant,
}

impl Default for ExplorerState {
    fn default() -> Self {
        ExplorerState {
            connection: Connection::Connecting,
            tree: None,
            characteristics: BTreeMap::new(),
            selected: None,
            last_error: None,
            notice: None,
            started: Instant::now(),
        }
    }
}

impl ExplorerState {
    /// A command could not be queued.
    pub fn busy(&mut self) {
        let busy = "the connection is busy; try again in a moment".to_string();
        self.last_error = Some(busy.clone());
        self.notice = Some(busy);
    }

    fn fail(&mut self, uuid: Uuid, error: String) {
        if let Some(c) = self.characteristics.get_mut(&uuid) {
            c.outcome = Some(Err(error.clone()));
        }
        self.last_error = Some(error);
    }

    /// Takes in one event from the connection.
    pub fn apply(&mut self, event: ExploreEvent) {
        match event {
            ExploreEvent::Connected(tree) => {
                self.characteristics = tree
                    .services
                    .iter()
                    .flat_map(|s| &s.characteristics)
                    .filter_map(CharacteristicView::from_tree)
                    .map(|c| (c.uuid, c))
                    .collect();
                self.selected = self.selected.filter(|uuid| self.characteristics.contains_key(uuid));
                self.tree = Some(tree);
                self.connection = Connection::Connected;
                self.started = Instant::now();
            }
            ExploreEvent::Failed(reason) | ExploreEvent::Disconnected(Some(reason)) => {
                self.last_error = Some(reason.clone());
                self.notice = Some(reason.clone());
                self.end(Some(reason));
            }
            ExploreEvent::Disconnected(None) => self.end(None),
            ExploreEvent::Read { characteristic, result } => {
                let Some(c) = self.characteristics.get_mut(&characteristic) else { return };
                c.pending = false;
                match result {
                    Ok(value) => {
                        c.outcome = Some(Ok(format!("read {} bytes", value.len())));
                        c.value = Some(value);
                    }
                    Err(error) => self.fail(characteristic, error),
                }
            }
            ExploreEvent::Written { characteristic, result } => {
                let Some(c) = self.characteristics.get_mut(&characteristic) else { return };
                c.pending = false;
                match result {
                    Ok(bytes) => c.outcome = Some(Ok(format!("wrote {bytes} bytes"))),
                    Err(error) => self.fail(characteristic, error),
                }
            }
            ExploreEvent::Subscribed { characteristic, result } => {
                let Some(c) = self.characteristics.get_mut(&characteristic) else { return };
                c.pending = false;
                match result {
                    Ok(()) => {
                        c.subscribed = true;
                        c.notifications = 0;
                        c.dropped = 0;
                        c.outcome = Some(Ok("subscribed".into()));
                    }
                    Err(error) => self.fail(characteristic, error),
                }
            }
            ExploreEvent::Notification { characteristic, value, at, dropped } => {
                let at_s = at.saturating_duration_since(self.started).as_secs_f64();
                let Some(c) = self.characteristics.get_mut(&characteristic) else { return };
                c.notifications += 1;
                c.dropped = dropped;
                for (name, number) in plot_values(characteristic, &value, None) {
                    let points = c.series.entry(name).or_default();
                    if points.len() == PLOT_POINTS {
                        points.pop_front();
                    }
                    points.push_back([at_s, number]);
                }
                c.value = Some(value);
            }
            ExploreEvent::Unsubscribed { characteristic } => {
                if let Some(c) = self.characteristics.get_mut(&characteristic) {
                    c.pending = false;
                    c.subscribed = false;
                }
            }
        }
    }

    /// The connection is over: nothing is pending or subscribed any more.
    pub fn end(&mut self, reason: Option<String>) {
        self.connection = Connection::Disconnected(reason);
        for c in self.characteristics.values_mut() {
            c.pending = false;
            c.subscribed = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::explore::{CharacteristicNode, ServiceNode};
    use crate::ble::names::sig_uuid;

    fn tree() -> GattTree {
        let node = |short: u16, properties: Vec<&'static str>, value_hex: Option<&str>| CharacteristicNode {
            uuid: sig_uuid(short).to_string(),
            label: format!("0x{short:04X}"),
            properties,
            descriptors: vec!["0x2902 Client Characteristic Configuration".into()],
            value_hex: value_hex.map(str::to_string),
            decoded: None,
        };
        GattTree {
            target: "env-sensor".into(),
            address: "C0:FF:EE:00:00:03".into(),
            att_mtu: 185,
            services: vec![ServiceNode {
                uuid: sig_uuid(0x181A).to_string(),
                label: "0x181A Environmental Sensing".into(),
                primary: true,
                characteristics: vec![
                    node(0x2A6E, vec!["read", "notify"], Some("6608")),
                    node(0x2A06, vec!["write-without-response"], None),
                ],
            }],
        }
    }

    #[test]
    fn the_tree_becomes_characteristics_with_their_values_decoded() {
        let mut s = ExplorerState::default();
        s.apply(ExploreEvent::Connected(tree()));
        assert_eq!(s.connection, Connection::Connected);
        let temperature = &s.characteristics[&sig_uuid(0x2A6E)];
        assert_eq!(temperature.value(), Some(&[0x66, 0x08][..]));
        assert_eq!(temperature.decoded().as_deref(), Some("21.50 °C"));
        let alert = &s.characteristics[&sig_uuid(0x2A06)];
        assert_eq!(alert.value(), None);
        assert!(!alert.with_response, "a write-without-response characteristic writes without");
    }

    #[test]
    fn notifications_are_counted_and_plotted_within_bounds() {
        let mut s = ExplorerState::default();
        s.apply(ExploreEvent::Connected(tree()));
        let uuid = sig_uuid(0x2A6E);
        s.apply(ExploreEvent::Subscribed { characteristic: uuid, result: Ok(()) });
        for i in 0..PLOT_POINTS + 10 {
            let value = (2150 + i as i16).to_le_bytes().to_vec();
            s.apply(ExploreEvent::Notification { characteristic: uuid, value, at: Instant::now(), dropped: 3 });
        }
        let c = &s.characteristics[&uuid];
        assert_eq!(c.notifications(), (PLOT_POINTS + 10) as u64);
        assert_eq!(c.dropped(), 3);
        let points = &c.series()["temperature_c"];
        assert_eq!(points.len(), PLOT_POINTS);
        assert!((points.back().unwrap()[1] - (2150.0 + (PLOT_POINTS + 9) as f64) / 100.0).abs() < 1e-9);
        s.apply(ExploreEvent::Unsubscribed { characteristic: uuid });
        assert!(!s.characteristics[&uuid].subscribed());
    }

    #[test]
    fn a_refusal_or_a_lost_device_is_its_sentence() {
        let mut s = ExplorerState::default();
        s.apply(ExploreEvent::Connected(tree()));
        let uuid = sig_uuid(0x2A6E);
        s.apply(ExploreEvent::Read { characteristic: uuid, result: Err("Bluetooth reading failed: gone".into()) });
        assert_eq!(s.last_error.as_deref(), Some("Bluetooth reading failed: gone"));
        assert_eq!(s.characteristics[&uuid].outcome(), Some(&Err("Bluetooth reading failed: gone".to_string())));
        s.apply(ExploreEvent::Subscribed { characteristic: uuid, result: Ok(()) });
        let gone = crate::ble::BleError::Disconnected { target: "env-sensor".into() }.to_string();
        s.apply(ExploreEvent::Disconnected(Some(gone.clone())));
        assert_eq!(s.connection, Connection::Disconnected(Some(gone.clone())));
        assert_eq!(s.last_error.as_deref(), Some(gone.as_str()));
        assert!(!s.characteristics[&uuid].subscribed(), "nothing is subscribed once disconnected");
    }
}
