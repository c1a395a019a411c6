//! What a scan saw: every advertising device, named or not, keyed by its stable platform id, with its RSSI
//! over time, manufacturer data, service UUIDs and TX power; filtered and sorted for display.
//!
//! Pure bookkeeping fed by [`super::central::scan`] (or by a test): no radio, no runtime. The RSSI history of
//! each device is a bounded ring ([`RSSI_HISTORY_LEN`]), so a scan left running grows no further.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;
use uuid::Uuid;

use super::names::{AttributeKind, company_name, label};

/// RSSI readings kept per device.
pub const RSSI_HISTORY_LEN: usize = 600;

/// One advertisement (or the properties a stack merged from several), as the scan hands it over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Advertisement {
    /// The device's address (`AA:BB:CC:DD:EE:FF`), which may change for devices with private addresses.
    pub address: String,
    /// Its local name, if it sends one.
    pub name: Option<String>,
    /// Received signal strength, dBm.
    pub rssi_dbm: Option<i16>,
    /// Advertised transmit power, dBm.
    pub tx_power_dbm: Option<i16>,
    /// Manufacturer-specific data by company id.
    pub manufacturer_data: HashMap<u16, Vec<u8>>,
    /// Advertised service UUIDs.
    pub services: Vec<Uuid>,
}

/// One device seen by a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedDevice {
    /// The platform's stable id (BlueZ: the D-Bus path; macOS: a UUID).
    pub id: String,
    /// The latest address.
    pub address: String,
    /// The latest name, if any advertisement had one.
    pub name: Option<String>,
    /// RSSI readings: seconds since the scan started, dBm; oldest first, at most [`RSSI_HISTORY_LEN`].
    pub rssi_history: VecDeque<(f64, i16)>,
    /// Weakest RSSI seen, dBm.
    pub rssi_min_dbm: Option<i16>,
    /// Strongest RSSI seen, dBm.
    pub rssi_max_dbm: Option<i16>,
    /// Latest advertised TX power, dBm.
    pub tx_power_dbm: Option<i16>,
    /// Latest manufacturer data by company id.
    pub manufacturer_data: BTreeMap<u16, Vec<u8>>,
    /// Every service UUID advertised.
    pub services: BTreeSet<Uuid>,
    /// Advertisements (or updates) received.
    pub advertisements: u64,
    /// When it was first and last seen, seconds since the scan started.
    pub first_seen_s: f64,
    /// See `first_seen_s`.
    pub last_seen_s: f64,
}

impl ScannedDevice {
    /// The latest RSSI, dBm.
    pub fn rssi_last_dbm(&self) -> Option<i16> {
        self.rssi_history.back().map(|&(_, dbm)| dbm)
    }

    /// Whether it advertises the Benchtop protocol service.
    pub fn is_benchtop(&self) -> bool {
        self.services.contains(&Uuid::from_u128(firmware_protocol::ble::SERVICE_UUID))
    }
}

/// How to order a scan's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanSort {
    /// Strongest latest RSSI first (devices without one last).
    #[default]
    Signal,
    /// By name, unnamed last.
    Name,
    /// Most recently seen first.
    LastSeen,
}

/// All devices a scan saw.
#[derive(Debug, Clone, Default)]
pub struct ScanTable {
    devices: BTreeMap<String, ScannedDevice>,
}

impl ScanTable {
    /// Takes in an advertisement from device `id` at `at_s` seconds since the scan started.
    pub fn observe(&mut self, id: &str, advertisement: Advertisement, at_s: f64) {
        let device = self.devices.entry(id.to_string()).or_insert_with(|| ScannedDevice {
            id: id.to_string(),
            address: String::new(),
            name: None,
            rssi_history: VecDeque::new(),
            rssi_min_dbm: None,
            rssi_max_dbm: None,
            tx_power_dbm: None,
            manufacturer_data: BTreeMap::new(),
            services: BTreeSet::new(),
            advertisements: 0,
            first_seen_s: at_s,
            last_seen_s: at_s,
        });
        device.advertisements += 1;
        device.last_seen_s = at_s;
        device.address = advertisement.address;
        if advertisement.name.is_some() {
            device.name = advertisement.name;
        }
        if let Some(rssi) = advertisement.rssi_dbm {
            if device.rssi_history.len() == RSSI_HISTORY_LEN {
                device.rssi_history.pop_front();
            }
            device.rssi_history.push_back((at_s, rssi));
            device.rssi_min_dbm = Some(device.rssi_min_dbm.map_or(rssi, |m| m.min(rssi)));
            device.rssi_max_dbm = Some(device.rssi_max_dbm.map_or(rssi, |m| m.max(rssi)));
        }
        if advertisement.tx_power_dbm.is_some() {
            device.tx_power_dbm = advertisement.tx_power_dbm;
        }
        device.manufacturer_data.extend(advertisement.manufacturer_data);
        device.services.extend(advertisement.services);
    }

    /// How many devices were seen.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// One device by its id.
    pub fn get(&self, id: &str) -> Option<&ScannedDevice> {
        self.devices.get(id)
    }

    /// Devices whose name, id or address contains `filter` (case-insensitive; empty keeps all), in `sort` order.
    pub fn sorted(&self, sort: ScanSort, filter: &str) -> Vec<&ScannedDevice> {
        let filter = filter.to_lowercase();
        let mut devices: Vec<&ScannedDevice> = self
            .devices
            .values()
            .filter(|d| {
                filter.is_empty()
                    || [Some(&d.id), Some(&d.address), d.name.as_ref()]
                        .into_iter()
                        .flatten()
                        .any(|text| text.to_lowercase().contains(&filter))
            })
            .collect();
        match sort {
            ScanSort::Signal => devices.sort_by_key(|d| std::cmp::Reverse(d.rssi_last_dbm().unwrap_or(i16::MIN))),
            ScanSort::Name => devices.sort_by(|a, b| match (&a.name, &b.name) {
                (Some(a), Some(b)) => a.to_lowercase().cmp(&b.to_lowercase()),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.id.cmp(&b.id),
            }),
            ScanSort::LastSeen => devices.sort_by(|a, b| b.last_seen_s.total_cmp(&a.last_seen_s)),
        }
        devices
    }

    /// The report `benchtop ble scan` prints, strongest first.
    pub fn report(&self) -> Vec<ScanReportRow> {
        self.report_sorted(ScanSort::Signal, "")
    }

    /// The report of the devices [`ScanTable::sorted`] keeps, in its order.
    pub fn report_sorted(&self, sort: ScanSort, filter: &str) -> Vec<ScanReportRow> {
        self.sorted(sort, filter).into_iter().map(ScanReportRow::new).collect()
    }
}

/// One device in the scan report.
#[derive(Debug, Clone, Serialize)]
pub struct ScanReportRow {
    /// Platform id.
    pub id: String,
    /// Address.
    pub address: String,
    /// Name, if any.
    pub name: Option<String>,
    /// Latest RSSI, dBm.
    pub rssi_last_dbm: Option<i16>,
    /// Weakest RSSI, dBm.
    pub rssi_min_dbm: Option<i16>,
    /// Strongest RSSI, dBm.
    pub rssi_max_dbm: Option<i16>,
    /// Advertised TX power, dBm.
    pub tx_power_dbm: Option<i16>,
    /// Advertisements received.
    pub advertisements: u64,
    /// Manufacturer data.
    pub manufacturer_data: Vec<ManufacturerData>,
    /// Service UUIDs with their SIG names.
    pub services: Vec<ServiceLabel>,
    /// Whether it offers the Benchtop protocol.
    pub benchtop: bool,
}

/// Manufacturer data in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ManufacturerData {
    /// Company id.
    pub company_id: u16,
    /// The company's name, if known.
    pub company: Option<&'static str>,
    /// The data after the company id, hex.
    pub data_hex: String,
}

/// A service UUID in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLabel {
    /// The full UUID.
    pub uuid: String,
    /// Its SIG (or Benchtop) name, if known.
    pub name: Option<&'static str>,
}

impl ScanReportRow {
    fn new(device: &ScannedDevice) -> Self {
        ScanReportRow {
            id: device.id.clone(),
            address: device.address.clone(),
            name: device.name.clone(),
            rssi_last_dbm: device.rssi_last_dbm(),
            rssi_min_dbm: device.rssi_min_dbm,
            rssi_max_dbm: device.rssi_max_dbm,
            tx_power_dbm: device.tx_power_dbm,
            advertisements: device.advertisements,
            manufacturer_data: device
                .manufacturer_data
                .iter()
                .map(|(&company_id, data)| ManufacturerData {
                    company_id,
                    company: company_name(company_id),
                    data_hex: hex(data),
                })
                .collect(),
            services: device
                .services
                .iter()
                .map(|&uuid| ServiceLabel {
                    uuid: uuid.to_string(),
                    name: super::names::name(AttributeKind::Service, uuid),
                })
                .collect(),
            benchtop: device.is_benchtop(),
        }
    }

    /// One line of the table: name, address, RSSI, then what it advertises.
    pub fn to_line(&self) -> String {
        let dbm = |v: Option<i16>| v.map_or("-".to_string(), |v| v.to_string());
        let mut line = format!(
            "{:<20} {:<17} {:>4} dBm ({:>4}..{:>4})  {:>4} adv",
            self.name.as_deref().unwrap_or("(no name)"),
            self.address,
            dbm(self.rssi_last_dbm),
            dbm(self.rssi_min_dbm),
            dbm(self.rssi_max_dbm),
            self.advertisements
        );
        for m in &self.manufacturer_data {
            line.push_str(&format!(
                "  mfr 0x{:04X}{} {}",
                m.company_id,
                m.company.map(|c| format!(" ({c})")).unwrap_or_default(),
                m.data_hex
            ));
        }
        for s in &self.services {
            let uuid = s.uuid.parse::<Uuid>().map(|u| label(AttributeKind::Service, u)).unwrap_or(s.uuid.clone());
            line.push_str(&format!("  svc {uuid}"));
        }
        line.push_str(&format!("  id {}", self.id));
        line
    }
}

/// Bytes as lowercase hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::names::sig_uuid;
    use super::*;

    fn advert(name: Option<&str>, rssi: i16) -> Advertisement {
        Advertisement {
            address: "C0:FF:EE:00:00:01".into(),
            name: name.map(str::to_string),
            rssi_dbm: Some(rssi),
            ..Advertisement::default()
        }
    }

    #[test]
    fn keeps_rssi_over_time_and_merges_what_devices_advertise() {
        let mut table = ScanTable::default();
        table.observe("dev-a", advert(None, -70), 0.1);
        let mut named = advert(Some("env-sensor"), -50);
        named.manufacturer_data.insert(0x0059, vec![0x01, 0x02]);
        named.services.push(sig_uuid(0x181A));
        table.observe("dev-a", named, 0.5);
        table.observe("dev-a", advert(None, -60), 0.9);
        table.observe("dev-b", advert(None, -40), 1.0);
        let a = table.get("dev-a").unwrap();
        assert_eq!(a.name.as_deref(), Some("env-sensor"), "a later unnamed advertisement keeps the name");
        assert_eq!((a.rssi_min_dbm, a.rssi_max_dbm, a.rssi_last_dbm()), (Some(-70), Some(-50), Some(-60)));
        assert_eq!(a.rssi_history.len(), 3);
        assert_eq!(a.advertisements, 3);
        let report = table.report();
        assert_eq!(report[0].id, "dev-b", "strongest first");
        let line = report[1].to_line();
        assert!(line.contains("mfr 0x0059 (Nordic Semiconductor) 0102"), "{line}");
        assert!(line.contains("svc 0x181A Environmental Sensing"), "{line}");
        assert_eq!(table.sorted(ScanSort::Name, "")[0].id, "dev-a");
        assert_eq!(table.sorted(ScanSort::Signal, "ENV").len(), 1);
    }

    #[test]
    fn rssi_history_is_bounded() {
        let mut table = ScanTable::default();
        for i in 0..RSSI_HISTORY_LEN + 10 {
            table.observe("x", advert(None, -(i as i16 % 90)), i as f64);
        }
        assert_eq!(table.get("x").unwrap().rssi_history.len(), RSSI_HISTORY_LEN);
    }
}
