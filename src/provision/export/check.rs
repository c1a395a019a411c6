//! Checks a batch of ledger records before any export byte is written, and the texts every format shares.
//!
//! The rules are the network servers' own (The Things Stack device ids, its MAC/PHY/frequency-plan enum
//! spellings) so a file that passes here is not refused half way through an import. Only non-secret fields
//! are read; no message built here can contain a key.

use std::collections::HashMap;

use super::ExportError;
use crate::provision::record::DeviceRecord;

/// The longest device id The Things Stack accepts.
const DEVICE_ID_MAX_LEN: usize = 36;

/// Checks every record for export and that no DevEUI or device id repeats.
pub(super) fn records(records: &[DeviceRecord]) -> Result<(), ExportError> {
    for record in records {
        serial(record)?;
        device_id(record)?;
        mac_version(record)?;
        let phy_version = &record.network.phy_version;
        setting(record, "lorawan_phy_version", phy_version, "upper-case, like RP002_V1_0_3 or PHY_V1_0_2_REV_B")?;
        setting(record, "frequency_plan_id", &record.network.frequency_plan_id, "upper-case, like EU_863_870_TTN")?;
    }
    unique(records)
}

/// Refuses a batch in which a DevEUI or a device id appears twice.
pub(super) fn unique(records: &[DeviceRecord]) -> Result<(), ExportError> {
    let mut by_eui = HashMap::new();
    let mut by_name = HashMap::new();
    for record in records {
        if let Some(&first_serial) = by_eui.get(&record.dev_eui) {
            return Err(ExportError::Duplicate {
                what: "DevEUI",
                value: record.dev_eui.to_string(),
                first_serial,
                second_serial: record.serial,
            });
        }
        if let Some(&first_serial) = by_name.get(record.name.as_str()) {
            return Err(ExportError::Duplicate {
                what: "device id",
                value: record.name.clone(),
                first_serial,
                second_serial: record.serial,
            });
        }
        by_eui.insert(record.dev_eui, record.serial);
        by_name.insert(record.name.as_str(), record.serial);
    }
    Ok(())
}

/// Ledger serials are row ids, never negative.
pub(super) fn serial(record: &DeviceRecord) -> Result<(), ExportError> {
    if record.serial < 0 {
        return Err(ExportError::InvalidSerial { serial: record.serial });
    }
    Ok(())
}

/// The Things Stack's device id rule: 3 to 36 characters of `a-z`, `0-9` and `-`, a hyphen only between
/// two letters or digits.
fn device_id(record: &DeviceRecord) -> Result<(), ExportError> {
    let name = record.name.as_str();
    let reason = if name.len() < 3 {
        Some("shorter than 3 characters")
    } else if name.len() > DEVICE_ID_MAX_LEN {
        Some("longer than 36 characters")
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Some("only lowercase letters, digits and hyphens are allowed")
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("it starts or ends with a hyphen")
    } else if name.contains("--") {
        Some("it has two hyphens in a row")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ExportError::InvalidDeviceId { serial: record.serial, name: name.to_string(), reason }),
        None => Ok(()),
    }
}

/// True for the LoRaWAN 1.0.x MAC versions (`MAC_V1_0`, `MAC_V1_0_1` … `MAC_V1_0_4`).
pub(super) fn is_lorawan_1_0(mac_version: &str) -> bool {
    mac_version == "MAC_V1_0" || mac_version.strip_prefix("MAC_V1_0_").is_some_and(|minor| minor.len() == 1)
}

fn mac_version(record: &DeviceRecord) -> Result<(), ExportError> {
    let mac_version = record.network.mac_version.as_str();
    if is_lorawan_1_0(mac_version) && matches!(mac_version.as_bytes().last(), Some(b'0'..=b'4')) {
        Ok(())
    } else if mac_version.starts_with("MAC_V1_1") {
        Err(ExportError::UnsupportedMacVersion { serial: record.serial, mac_version: mac_version.to_string() })
    } else {
        Err(ExportError::InvalidNetworkSetting {
            serial: record.serial,
            field: "lorawan_version",
            value: mac_version.to_string(),
            expected: "one of MAC_V1_0, MAC_V1_0_1, MAC_V1_0_2, MAC_V1_0_3, MAC_V1_0_4",
        })
    }
}

/// An enum spelling of The Things Stack: upper-case letters, digits and underscores, not empty.
fn setting(record: &DeviceRecord, field: &'static str, value: &str, expected: &'static str) -> Result<(), ExportError> {
    let valid = !value.is_empty() && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ExportError::InvalidNetworkSetting { serial: record.serial, field, value: value.to_string(), expected })
    }
}

/// The device's 64-bit factory id as 16 upper-case hex digits.
pub(super) fn factory_id(record: &DeviceRecord) -> String {
    format!("{:016X}", record.device_id)
}

/// The description every format carries, so a device in the network server leads back to its ledger row.
pub(super) fn description(record: &DeviceRecord) -> String {
    format!(
        "Benchtop serial {}, device {}, station {}, committed {}",
        record.serial,
        factory_id(record),
        record.station,
        record.committed_at
    )
}
