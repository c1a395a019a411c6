//! ChirpStack v4 import: one JSON document holding, per device, the bodies of the two API calls that
//! register it (`DeviceService.Create` and `DeviceService.CreateKeys`).
//!
//! ChirpStack has no file import, so this document is what a script or `grpcurl` feeds to the API, one
//! `device` and one `keys` per entry. Hex is lower-case, as ChirpStack writes it. The AppKey of a LoRaWAN
//! 1.0.x device goes into `nwk_key`: ChirpStack's `DeviceKeys` says "for LoRaWAN 1.0.x, use this field for the
//! LoRaWAN 1.0.x 'AppKey'", and `app_key` is only read for 1.1 devices, so it is sent as all zeros. A device
//! registered with the key in `app_key` instead never joins. Only 1.0.x records reach this module (1.1 is
//! refused by the checks), so no record needs both fields.
//!
//! The application and device profile ids are required, never filled in with placeholders: a document that
//! names no application cannot be imported, and one with a made-up id would fail only at import time.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ExportError, ExportOptions, check};
use crate::provision::keys::AppKey;
use crate::provision::record::DeviceRecord;

/// The `app_key` of a 1.0.x device: unused by ChirpStack, sent as zeros because the field is a fixed-size
/// key.
const UNUSED_APP_KEY: &str = "00000000000000000000000000000000";

/// The ChirpStack application and device profile the devices are created in, checked as UUIDs and written
/// lower-case.
pub(super) struct Target {
    application_id: String,
    device_profile_id: String,
}

impl Target {
    /// Takes both ids from `options`; either missing or not a UUID is an error that says which.
    pub(super) fn from_options(options: &ExportOptions) -> Result<Target, ExportError> {
        Ok(Target {
            application_id: uuid(options.chirpstack_application_id.as_deref(), "application id")?,
            device_profile_id: uuid(options.chirpstack_device_profile_id.as_deref(), "device profile id")?,
        })
    }
}

/// Checks the 8-4-4-4-12 hex form and returns it lower-case.
fn uuid(value: Option<&str>, which: &'static str) -> Result<String, ExportError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).ok_or(ExportError::MissingChirpstackId { which })?;
    let groups: Vec<&str> = value.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let hex = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    if lengths != [8, 4, 4, 4, 12] || !hex {
        return Err(ExportError::InvalidChirpstackId { which, value: value.to_string() });
    }
    Ok(value.to_ascii_lowercase())
}

#[derive(Serialize)]
struct Document<'a> {
    devices: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    device: Device<'a>,
    keys: Keys,
}

/// `api.Device`, the body of `POST /api/devices` (inside `{"device": …}`).
#[derive(Serialize)]
struct Device<'a> {
    dev_eui: String,
    name: &'a str,
    description: String,
    application_id: &'a str,
    device_profile_id: &'a str,
    join_eui: String,
    skip_fcnt_check: bool,
    is_disabled: bool,
    tags: BTreeMap<&'static str, String>,
}

/// `api.DeviceKeys`, the body of `POST /api/devices/{dev_eui}/keys` (inside `{"device_keys": …}`).
#[derive(Serialize)]
struct Keys {
    dev_eui: String,
    nwk_key: String,
    app_key: &'static str,
}

/// The whole document, pretty-printed with a final newline.
pub(super) fn json(records: &[DeviceRecord], target: &Target) -> Result<Vec<u8>, ExportError> {
    let devices = records
        .iter()
        .map(|record| {
            let dev_eui = record.dev_eui.to_string().to_ascii_lowercase();
            Entry {
                device: Device {
                    dev_eui: dev_eui.clone(),
                    name: &record.name,
                    description: check::description(record),
                    application_id: &target.application_id,
                    device_profile_id: &target.device_profile_id,
                    join_eui: record.join_eui.to_string().to_ascii_lowercase(),
                    skip_fcnt_check: false,
                    is_disabled: false,
                    tags: tags(record),
                },
                keys: Keys { dev_eui, nwk_key: lower_hex(&record.app_key), app_key: UNUSED_APP_KEY },
            }
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&Document { devices })
        .map_err(|error| ExportError::Encode { format: "ChirpStack", detail: error.to_string() })?;
    out.push(b'\n');
    Ok(out)
}

/// Ledger fields as device tags, so a ChirpStack device leads back to its ledger row.
fn tags(record: &DeviceRecord) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("benchtop_serial", record.serial.to_string()),
        ("device_id", check::factory_id(record)),
        ("station", record.station.clone()),
        ("committed_at", record.committed_at.clone()),
    ])
}

fn lower_hex(key: &AppKey) -> String {
    key.expose().iter().map(|b| format!("{b:02x}")).collect()
}
