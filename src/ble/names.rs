//! Bluetooth SIG names for the UUIDs and company identifiers a workbench meets most: the GAP, GATT, Device
//! Information, Battery, Environmental Sensing and Heart Rate services, their characteristics, the common
//! descriptors (the Client Characteristic Configuration 0x2902 above all), a few company ids seen in
//! manufacturer data, and the Benchtop protocol's own service.
//!
//! This is a short table, not the whole assigned-numbers list: an unknown UUID prints as itself. Pure
//! lookups, no I/O.

use uuid::Uuid;

/// The Bluetooth base UUID, `0000xxxx-0000-1000-8000-00805f9b34fb`, with the 16-bit slot zero.
pub const BLUETOOTH_BASE_UUID: u128 = 0x0000_0000_0000_1000_8000_0080_5f9b_34fb;

/// What a UUID names in a GATT database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    /// A service.
    Service,
    /// A characteristic.
    Characteristic,
    /// A descriptor.
    Descriptor,
}

/// The full UUID of a 16-bit SIG-assigned number.
pub const fn sig_uuid(short: u16) -> Uuid {
    Uuid::from_u128(BLUETOOTH_BASE_UUID | ((short as u128) << 96))
}

/// The 16-bit SIG-assigned number of a UUID on the Bluetooth base, or `None` for any other UUID.
pub fn sig_short(uuid: Uuid) -> Option<u16> {
    let value = uuid.as_u128();
    let slot_mask = 0xffff_ffff_u128 << 96;
    ((value & !slot_mask) == BLUETOOTH_BASE_UUID && value >> 112 == 0).then_some((value >> 96) as u16)
}

/// The SIG name of a service, characteristic or descriptor UUID, or of the Benchtop protocol's own.
pub fn name(kind: AttributeKind, uuid: Uuid) -> Option<&'static str> {
    let value = uuid.as_u128();
    let benchtop = match kind {
        AttributeKind::Service if value == firmware_protocol::ble::SERVICE_UUID => Some("Benchtop protocol"),
        AttributeKind::Characteristic if value == firmware_protocol::ble::RX_CHARACTERISTIC_UUID => {
            Some("Benchtop RX (host to device)")
        }
        AttributeKind::Characteristic if value == firmware_protocol::ble::TX_CHARACTERISTIC_UUID => {
            Some("Benchtop TX (device to host)")
        }
        _ => None,
    };
    if benchtop.is_some() {
        return benchtop;
    }
    let short = sig_short(uuid)?;
    let table = match kind {
        AttributeKind::Service => SERVICES,
        AttributeKind::Characteristic => CHARACTERISTICS,
        AttributeKind::Descriptor => DESCRIPTORS,
    };
    table.iter().find(|(number, _)| *number == short).map(|(_, name)| *name)
}

/// A UUID for people: `0x2A19 Battery Level`, `0x1234` (SIG number without a name here), or the full UUID
/// with its name if it has one.
pub fn label(kind: AttributeKind, uuid: Uuid) -> String {
    let name = name(kind, uuid);
    match (sig_short(uuid), name) {
        (Some(short), Some(name)) => format!("0x{short:04X} {name}"),
        (Some(short), None) => format!("0x{short:04X}"),
        (None, Some(name)) => format!("{uuid} {name}"),
        (None, None) => uuid.to_string(),
    }
}

/// The name of a Bluetooth SIG company identifier (the first two bytes of manufacturer data).
pub fn company_name(company_id: u16) -> Option<&'static str> {
    COMPANIES.iter().find(|(id, _)| *id == company_id).map(|(_, name)| *name)
}

const SERVICES: &[(u16, &str)] = &[
    (0x1800, "Generic Access"),
    (0x1801, "Generic Attribute"),
    (0x1802, "Immediate Alert"),
    (0x1803, "Link Loss"),
    (0x1804, "Tx Power"),
    (0x1805, "Current Time"),
    (0x1809, "Health Thermometer"),
    (0x180A, "Device Information"),
    (0x180D, "Heart Rate"),
    (0x180F, "Battery"),
    (0x1812, "Human Interface Device"),
    (0x1814, "Running Speed and Cadence"),
    (0x1816, "Cycling Speed and Cadence"),
    (0x1819, "Location and Navigation"),
    (0x181A, "Environmental Sensing"),
    (0x181C, "User Data"),
    (0x1826, "Fitness Machine"),
];

const CHARACTERISTICS: &[(u16, &str)] = &[
    (0x2A00, "Device Name"),
    (0x2A01, "Appearance"),
    (0x2A04, "Peripheral Preferred Connection Parameters"),
    (0x2A05, "Service Changed"),
    (0x2A06, "Alert Level"),
    (0x2A07, "Tx Power Level"),
    (0x2A19, "Battery Level"),
    (0x2A1C, "Temperature Measurement"),
    (0x2A1D, "Temperature Type"),
    (0x2A23, "System ID"),
    (0x2A24, "Model Number String"),
    (0x2A25, "Serial Number String"),
    (0x2A26, "Firmware Revision String"),
    (0x2A27, "Hardware Revision String"),
    (0x2A28, "Software Revision String"),
    (0x2A29, "Manufacturer Name String"),
    (0x2A2B, "Current Time"),
    (0x2A37, "Heart Rate Measurement"),
    (0x2A38, "Body Sensor Location"),
    (0x2A39, "Heart Rate Control Point"),
    (0x2A50, "PnP ID"),
    (0x2A6D, "Pressure"),
    (0x2A6E, "Temperature"),
    (0x2A6F, "Humidity"),
    (0x2AA6, "Central Address Resolution"),
    (0x2B29, "Client Supported Features"),
    (0x2B2A, "Database Hash"),
];

const DESCRIPTORS: &[(u16, &str)] = &[
    (0x2900, "Characteristic Extended Properties"),
    (0x2901, "Characteristic User Description"),
    (0x2902, "Client Characteristic Configuration"),
    (0x2903, "Server Characteristic Configuration"),
    (0x2904, "Characteristic Presentation Format"),
    (0x2905, "Characteristic Aggregate Format"),
    (0x2906, "Valid Range"),
    (0x290C, "Environmental Sensing Measurement"),
    (0x290D, "Environmental Sensing Trigger Setting"),
    (0x290E, "Environmental Sensing Configuration"),
];

const COMPANIES: &[(u16, &str)] = &[
    (0x0006, "Microsoft"),
    (0x000D, "Texas Instruments"),
    (0x0030, "STMicroelectronics"),
    (0x004C, "Apple"),
    (0x0059, "Nordic Semiconductor"),
    (0x0075, "Samsung Electronics"),
    (0x00E0, "Google"),
    (0x02E5, "Espressif"),
    (0xFFFF, "reserved for tests"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_uuids_round_trip_and_others_have_none() {
        let battery = sig_uuid(0x2A19);
        assert_eq!(battery.to_string(), "00002a19-0000-1000-8000-00805f9b34fb");
        assert_eq!(sig_short(battery), Some(0x2A19));
        assert_eq!(sig_short(Uuid::from_u128(firmware_protocol::ble::SERVICE_UUID)), None);
        // A 32-bit SIG number is on the base but not a 16-bit one.
        assert_eq!(sig_short(Uuid::from_u128(BLUETOOTH_BASE_UUID | (0x0001_2A19 << 96))), None);
    }

    #[test]
    fn names_the_common_attributes() {
        assert_eq!(name(AttributeKind::Service, sig_uuid(0x181A)), Some("Environmental Sensing"));
        assert_eq!(name(AttributeKind::Characteristic, sig_uuid(0x2A37)), Some("Heart Rate Measurement"));
        assert_eq!(name(AttributeKind::Descriptor, sig_uuid(0x2902)), Some("Client Characteristic Configuration"));
        // The same number means nothing as another kind.
        assert_eq!(name(AttributeKind::Service, sig_uuid(0x2902)), None);
        assert_eq!(label(AttributeKind::Characteristic, sig_uuid(0x2A19)), "0x2A19 Battery Level");
        assert_eq!(label(AttributeKind::Characteristic, sig_uuid(0x2BFF)), "0x2BFF");
        let service = Uuid::from_u128(firmware_protocol::ble::SERVICE_UUID);
        assert_eq!(label(AttributeKind::Service, service), format!("{service} Benchtop protocol"));
        assert_eq!(company_name(0x0059), Some("Nordic Semiconductor"));
        assert_eq!(company_name(0x1234), None);
    }
}
