//! A connected device's GATT database as a tree for people and scripts: services, characteristics and
//! descriptors with their Bluetooth SIG names, properties, and the values of readable characteristics, decoded
//! where standard. Serialisable, so `benchtop ble explore --json` and a window show the same thing.

use btleplug::api::{Characteristic, Peripheral as _};
use serde::Serialize;

use super::central::BleDevice;
use super::decode::decode_standard;
use super::names::{AttributeKind, label};
use super::scan::hex;

/// One readable standard characteristic's value in an explored tree.
#[derive(Debug, Clone, Serialize)]
pub struct CharacteristicNode {
    /// Full UUID.
    pub uuid: String,
    /// `0x2A19 Battery Level` or the UUID.
    pub label: String,
    /// `read`, `write`, `write-without-response`, `notify`, `indicate`.
    pub properties: Vec<&'static str>,
    /// Descriptors, labelled.
    pub descriptors: Vec<String>,
    /// The value read, hex (readable characteristics only, when read).
    pub value_hex: Option<String>,
    /// The value decoded, for standard characteristics.
    pub decoded: Option<String>,
}

/// One service of an explored tree.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceNode {
    /// Full UUID.
    pub uuid: String,
    /// `0x180F Battery` or the UUID.
    pub label: String,
    /// Whether primary.
    pub primary: bool,
    /// Its characteristics.
    pub characteristics: Vec<CharacteristicNode>,
}

/// A device's GATT database as discovered.
#[derive(Debug, Clone, Serialize)]
pub struct GattTree {
    /// The device as asked for.
    pub target: String,
    /// Its address.
    pub address: String,
    /// The ATT MTU of the connection, bytes.
    pub att_mtu: u16,
    /// Services in UUID order.
    pub services: Vec<ServiceNode>,
}

fn property_names(c: &Characteristic) -> Vec<&'static str> {
    use btleplug::api::CharPropFlags as F;
    [
        (F::READ, "read"),
        (F::WRITE, "write"),
        (F::WRITE_WITHOUT_RESPONSE, "write-without-response"),
        (F::NOTIFY, "notify"),
        (F::INDICATE, "indicate"),
    ]
    .into_iter()
    .filter(|(flag, _)| c.properties.contains(*flag))
    .map(|(_, name)| name)
    .collect()
}

impl BleDevice {
    /// The GATT tree with SIG names, reading every readable characteristic and decoding the standard ones.
    pub async fn explore(&self) -> GattTree {
        let mut services = Vec::new();
        for service in self.peripheral().services() {
            let mut characteristics = Vec::new();
            for c in &service.characteristics {
                let properties = property_names(c);
                let value = if properties.contains(&"read") { self.peripheral().read(c).await.ok() } else { None };
                let decoded = value.as_ref().and_then(|v| match decode_standard(c.uuid, v)? {
                    Ok(decoded) => Some(decoded.to_string()),
                    Err(error) => Some(error.to_string()),
                });
                characteristics.push(CharacteristicNode {
                    uuid: c.uuid.to_string(),
                    label: label(AttributeKind::Characteristic, c.uuid),
                    properties,
                    descriptors: c.descriptors.iter().map(|d| label(AttributeKind::Descriptor, d.uuid)).collect(),
                    value_hex: value.as_deref().map(hex),
                    decoded,
                });
            }
            services.push(ServiceNode {
                uuid: service.uuid.to_string(),
                label: label(AttributeKind::Service, service.uuid),
                primary: service.primary,
                characteristics,
            });
        }
        GattTree {
            target: self.target().to_string(),
            address: self.peripheral().address().to_string(),
            att_mtu: self.att_mtu(),
            services,
        }
    }
}
