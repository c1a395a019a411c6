//! Network-server imports and TR005 QR labels made from committed ledger devices.
//!
//! Everything here starts from [`DeviceRecord`]s the ledger gives back, never from what a screen shows, so an
//! export can be made again at any time and gives the same bytes. [`render`] builds a whole import file in
//! memory and checks every record first, so a bad record means no file at all rather than half an import;
//! [`write_atomically`] then puts it on disk readable by its owner only, because The Things Stack and
//! ChirpStack imports carry AppKeys. Labels ([`label_svg`], [`label_png`]) carry the TR005 payload and the
//! human-readable DevEUI, serial and ProfileID, and never a key. Errors name the device by its serial and say
//! what to change; no error message contains a key.
//!
//! Only LoRaWAN 1.0.x devices are exported: a device Benchtop provisions holds one root key, and LoRaWAN 1.1
//! needs two (NwkKey and AppKey), so a 1.1 record is refused rather than registered with a guess.

mod atomic;
mod check;
mod chirpstack;
mod label;
mod tts;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

use super::record::DeviceRecord;

pub use atomic::write_atomically;
pub use label::{label_png, label_svg, tr005_payload};

/// Pixels per QR module in the PNG labels [`write_labels`] writes: 8 px is 1 mm at 203 dpi, the common
/// thermal label printer resolution, so a module stays above the 0.5 mm that phone cameras read reliably.
pub const LABEL_PNG_MODULE_PX: u32 = 8;

/// A network-server import file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// The Things Stack CSV (`;`-separated, header row), format id `the-things-stack-csv`.
    TtsCsv,
    /// The Things Stack JSON stream of EndDevice objects, one per line, format id `the-things-stack`.
    TtsJson,
    /// ChirpStack v4: one JSON document with, per device, the `Device` and `DeviceKeys` API messages.
    Chirpstack,
}

impl ExportFormat {
    /// Every format, in the order they are offered.
    pub const ALL: [ExportFormat; 3] = [ExportFormat::TtsCsv, ExportFormat::TtsJson, ExportFormat::Chirpstack];

    /// The name used on the command line and in settings: `tts-csv`, `tts-json` or `chirpstack`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::TtsCsv => "tts-csv",
            ExportFormat::TtsJson => "tts-json",
            ExportFormat::Chirpstack => "chirpstack",
        }
    }

    /// The usual file name extension, without the dot.
    pub fn file_extension(self) -> &'static str {
        match self {
            ExportFormat::TtsCsv => "csv",
            ExportFormat::TtsJson | ExportFormat::Chirpstack => "json",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExportFormat {
    type Err = ExportError;

    /// Reads a format name as [`ExportFormat::name`] writes it, ignoring letter case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        ExportFormat::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ExportError::UnknownFormat { given: text.to_string() })
    }
}

/// Settings an export needs beyond the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// ChirpStack application the devices go into (a UUID); required for [`ExportFormat::Chirpstack`].
    pub chirpstack_application_id: Option<String>,
    /// ChirpStack device profile the devices use (a UUID); required for [`ExportFormat::Chirpstack`].
    pub chirpstack_device_profile_id: Option<String>,
}

/// Why an export or label could not be made. Messages say what is wrong and what to do, and never contain a
/// key.
#[derive(Debug, Error)]
pub enum ExportError {
    /// A format name that is not one of [`ExportFormat::ALL`].
    #[error("unknown export format \"{given}\": choose tts-csv, tts-json or chirpstack")]
    UnknownFormat {
        /// What was given.
        given: String,
    },
    /// A device name that network servers would refuse as a device id.
    #[error(
        "device serial {serial}: name \"{name}\" is not a valid device id ({reason}); device ids are 3 to 36 \
         lowercase letters, digits and single hyphens, like eui-70b3d57ed0000010: fix the name in the template"
    )]
    InvalidDeviceId {
        /// Ledger serial of the device.
        serial: i64,
        /// The name as recorded.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A LoRaWAN 1.1 device: it needs two root keys and the ledger holds one.
    #[error(
        "device serial {serial} is LoRaWAN {mac_version}, which needs two root keys (NwkKey and AppKey), but a \
         Benchtop device holds one: export only LoRaWAN 1.0.x devices (MAC_V1_0 to MAC_V1_0_4)"
    )]
    UnsupportedMacVersion {
        /// Ledger serial of the device.
        serial: i64,
        /// The MAC version as recorded.
        mac_version: String,
    },
    /// A network setting that is empty or not in the network server's form.
    #[error("device serial {serial}: {field} \"{value}\" is not valid: {expected}; fix it in the template")]
    InvalidNetworkSetting {
        /// Ledger serial of the device.
        serial: i64,
        /// Which setting.
        field: &'static str,
        /// The value as recorded.
        value: String,
        /// What the setting must look like.
        expected: &'static str,
    },
    /// A TR005 ProfileID that is not 8 hex digits.
    #[error(
        "device serial {serial}: TR005 ProfileID \"{profile_id}\" must be 8 hex digits (VendorID then \
         VendorProfileID, e.g. 000AF8BE): fix tr005_profile_id in the template"
    )]
    InvalidProfileId {
        /// Ledger serial of the device.
        serial: i64,
        /// The ProfileID as recorded.
        profile_id: String,
    },
    /// A negative serial, which the ledger never hands out.
    #[error("device serial {serial} is negative, so it is not a ledger serial: export devices from the ledger")]
    InvalidSerial {
        /// The serial as given.
        serial: i64,
    },
    /// Two records in one export with the same DevEUI or device id: the import would fail half way.
    #[error(
        "devices serial {first_serial} and {second_serial} have the same {what} {value}: a network server \
         accepts it once; export them separately after checking the ledger"
    )]
    Duplicate {
        /// "DevEUI" or "device id".
        what: &'static str,
        /// The repeated value.
        value: String,
        /// Serial of the first record with it.
        first_serial: i64,
        /// Serial of the second record with it.
        second_serial: i64,
    },
    /// A ChirpStack export without the application or device profile id.
    #[error(
        "a ChirpStack export needs the {which} (a UUID shown in the ChirpStack web interface): give it and \
         export again"
    )]
    MissingChirpstackId {
        /// "application id" or "device profile id".
        which: &'static str,
    },
    /// A ChirpStack id that is not a UUID.
    #[error(
        "ChirpStack {which} \"{value}\" is not a UUID (like 5f0c7c3e-8b4c-4e8a-9c59-2a1f3c2b9d10): copy it \
         from the ChirpStack web interface"
    )]
    InvalidChirpstackId {
        /// "application id" or "device profile id".
        which: &'static str,
        /// The value as given.
        value: String,
    },
    /// A label was asked for in no format.
    #[error("no label format chosen: ask for SVG, PNG or both")]
    NoLabelFormat,
    /// A PNG module size outside 1 to [`label::MAX_MODULE_PX`] pixels.
    #[error("a QR module of {module_px} px cannot be drawn: choose 1 to {max} px per module")]
    InvalidModuleSize {
        /// The size asked for.
        module_px: u32,
        /// The largest size drawn.
        max: u32,
    },
    /// The QR code could not be built (payload too long for a QR code).
    #[error("device serial {serial}: the TR005 payload does not fit in a QR code ({detail})")]
    Qr {
        /// Ledger serial of the device.
        serial: i64,
        /// What the QR encoder said.
        detail: String,
    },
    /// A label's text would contain the device's AppKey; nothing is written.
    #[error("device serial {serial}: the label would contain the AppKey, so it was not made; report this as a bug")]
    KeyInLabel {
        /// Ledger serial of the device.
        serial: i64,
    },
    /// The encoder of a file format failed (this does not happen with valid records).
    #[error("could not encode the {format} file: {detail}")]
    Encode {
        /// Which format.
        format: &'static str,
        /// What the encoder said.
        detail: String,
    },
    /// A file could not be written.
    #[error("could not write {}: {source}; check that the folder exists and is writable", path.display())]
    Io {
        /// The file that was being written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Renders the whole export in memory (so a failure writes nothing).
///
/// Every record is checked before anything is encoded: device ids, network settings, that no DevEUI or
/// device id appears twice, and for ChirpStack that both ids in `options` are given. The result holds AppKeys:
/// write it with [`write_atomically`].
pub fn render(records: &[DeviceRecord], format: ExportFormat, options: &ExportOptions) -> Result<Vec<u8>, ExportError> {
    check::records(records)?;
    match format {
        ExportFormat::TtsCsv => tts::csv(records),
        ExportFormat::TtsJson => tts::json(records),
        ExportFormat::Chirpstack => chirpstack::json(records, &chirpstack::Target::from_options(options)?),
    }
}

/// Writes `<dir>/<dev_eui>.svg` and/or `.png` for each record (atomically); returns the paths.
///
/// All labels are made in memory before the first file is written, so a bad record leaves the folder as it
/// was. File names are the DevEUI in upper-case hex, as printed on the label; an existing label of the same
/// device is replaced. The folder must exist. PNGs use [`LABEL_PNG_MODULE_PX`] pixels per module.
pub fn write_labels(records: &[DeviceRecord], dir: &Path, svg: bool, png: bool) -> Result<Vec<PathBuf>, ExportError> {
    if !svg && !png {
        return Err(ExportError::NoLabelFormat);
    }
    check::unique(records)?;
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for record in records {
        if svg {
            files.push((dir.join(format!("{}.svg", record.dev_eui)), label_svg(record)?.into_bytes()));
        }
        if png {
            files.push((dir.join(format!("{}.png", record.dev_eui)), label_png(record, LABEL_PNG_MODULE_PX)?));
        }
    }
    let mut written = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        write_atomically(&path, &bytes).map_err(|source| ExportError::Io { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
