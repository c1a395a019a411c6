//! The Things Stack imports: the bulk CSV and the JSON stream of EndDevice objects.
//!
//! Both hold the same fields: device id (the ledger name), DevEUI and JoinEUI in upper-case hex, name,
//! a description leading back to the ledger row, MAC and PHY version, frequency plan, and the AppKey as the
//! OTAA root key (`app_key`, which is what a LoRaWAN 1.0.x device uses). Records are checked before they
//! get here; these functions only encode.

use serde::Serialize;

use super::{ExportError, check};
use crate::provision::record::DeviceRecord;

/// The CSV header: the columns The Things Stack reads, in this order.
pub(super) const CSV_HEADER: [&str; 9] = [
    "id",
    "dev_eui",
    "join_eui",
    "name",
    "description",
    "frequency_plan_id",
    "lorawan_version",
    "lorawan_phy_version",
    "app_key",
];

/// The `;`-separated CSV with a header row; fields with `;`, `"` or a line break are quoted, quotes doubled.
pub(super) fn csv(records: &[DeviceRecord]) -> Result<Vec<u8>, ExportError> {
    let encode_error =
        |error: csv::Error| ExportError::Encode { format: "The Things Stack CSV", detail: error.to_string() };
    let mut writer =
        csv::WriterBuilder::new().delimiter(b';').terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    writer.write_record(CSV_HEADER).map_err(encode_error)?;
    for record in records {
        let row = [
            record.name.clone(),
            record.dev_eui.to_string(),
            record.join_eui.to_string(),
            record.name.clone(),
            check::description(record),
            record.network.frequency_plan_id.clone(),
            record.network.mac_version.clone(),
            record.network.phy_version.clone(),
            record.app_key.expose_hex(),
        ];
        writer.write_record(&row).map_err(encode_error)?;
    }
    writer
        .into_inner()
        .map_err(|error| ExportError::Encode { format: "The Things Stack CSV", detail: error.error().to_string() })
}

/// `EndDevice` as The Things Stack reads it, reduced to the fields an OTAA 1.0.x device needs.
#[derive(Serialize)]
struct EndDevice<'a> {
    ids: EndDeviceIds<'a>,
    name: &'a str,
    description: String,
    lorawan_version: &'a str,
    lorawan_phy_version: &'a str,
    frequency_plan_id: &'a str,
    /// OTAA: the device joins rather than coming with a session.
    supports_join: bool,
    root_keys: RootKeys,
}

#[derive(Serialize)]
struct EndDeviceIds<'a> {
    device_id: &'a str,
    dev_eui: String,
    join_eui: String,
}

#[derive(Serialize)]
struct RootKeys {
    app_key: KeyEnvelope,
}

#[derive(Serialize)]
struct KeyEnvelope {
    key: String,
}

/// One EndDevice object per line, each line ending in `\n` (The Things Stack reads a stream of objects).
pub(super) fn json(records: &[DeviceRecord]) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::new();
    for record in records {
        let device = EndDevice {
            ids: EndDeviceIds {
                device_id: &record.name,
                dev_eui: record.dev_eui.to_string(),
                join_eui: record.join_eui.to_string(),
            },
            name: &record.name,
            description: check::description(record),
            lorawan_version: &record.network.mac_version,
            lorawan_phy_version: &record.network.phy_version,
            frequency_plan_id: &record.network.frequency_plan_id,
            supports_join: true,
            root_keys: RootKeys { app_key: KeyEnvelope { key: record.app_key.expose_hex() } },
        };
        serde_json::to_writer(&mut out, &device)
            .map_err(|error| ExportError::Encode { format: "The Things Stack JSON", detail: error.to_string() })?;
        out.push(b'\n');
    }
    Ok(out)
}
