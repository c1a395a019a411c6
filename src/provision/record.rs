//! A committed device as the ledger gives it back: what exports and labels are made from.

use super::keys::{AppKey, Eui64};

/// The LoRaWAN network settings a template gives every device it provisions; kept with each ledger row so an
/// export needs nothing but the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkProfile {
    /// The Things Stack `lorawan_version` (MAC version), e.g. `MAC_V1_0_4`.
    pub mac_version: String,
    /// The Things Stack `lorawan_phy_version`, e.g. `RP002_V1_0_3`.
    pub phy_version: String,
    /// The Things Stack `frequency_plan_id`, e.g. `EU_863_870_TTN`.
    pub frequency_plan_id: String,
    /// TR005 ProfileID for QR labels: 8 hex digits (VendorID ‖ VendorProfileID), e.g. `000AF8BE`.
    pub tr005_profile_id: String,
}

/// One device the ledger holds as committed and verified.
#[derive(Debug, Clone)]
pub struct DeviceRecord {
    /// The ledger's serial number of this attempt (row id), unique and never reused.
    pub serial: i64,
    /// The device's 64-bit factory id (DeviceInfo::device_id).
    pub device_id: u64,
    /// Device name for network servers: lowercase letters, digits and hyphens (e.g. `eui-70b3d57ed0000010`).
    pub name: String,
    /// DevEUI.
    pub dev_eui: Eui64,
    /// JoinEUI.
    pub join_eui: Eui64,
    /// The AppKey; leaves only into export files that need it.
    pub app_key: AppKey,
    /// Network settings from the template.
    pub network: NetworkProfile,
    /// Station that provisioned it.
    pub station: String,
    /// Operator logged in at that station.
    pub operator: String,
    /// When the commit was recorded, RFC 3339 UTC.
    pub committed_at: String,
}
