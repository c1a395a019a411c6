//! Key check values: how a host verifies a secret it wrote without the device ever sending it back.
//!
//! A check value is the first [`KCV_LEN`] bytes of SHA-256 over a domain tag, the field, the device id and
//! the secret. Binding the device id means two devices holding the same key show different check values, so
//! a table of check values reveals nothing across devices; four bytes make a wrong key visible while leaving
//! far too many candidates to recover the secret from the check value.

use postcard_schema::Schema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Bytes in a key check value.
pub const KCV_LEN: usize = 4;

const DOMAIN: &[u8] = b"benchtop/kcv/v1";

/// A key check value; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, Schema)]
pub struct Kcv(pub [u8; KCV_LEN]);

/// Which secret a check value covers; part of the hashed input so equal bytes in two fields differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretField {
    /// The LoRaWAN AppKey.
    AppKey,
    /// The MQTT password.
    MqttPassword,
}

impl SecretField {
    const fn tag(self) -> u8 {
        match self {
            SecretField::AppKey => 1,
            SecretField::MqttPassword => 2,
        }
    }
}

/// The check value of `secret` stored in `field` of the device `device_id`.
pub fn key_check_value(device_id: u64, field: SecretField, secret: &[u8]) -> Kcv {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update([field.tag()]);
    hasher.update(device_id.to_le_bytes());
    // The length keeps `"ab" + "c"` and `"a" + "bc"` apart should fields ever be concatenated.
    hasher.update((secret.len() as u32).to_le_bytes());
    hasher.update(secret);
    let digest = hasher.finalize();
    let mut kcv = [0u8; KCV_LEN];
    kcv.copy_from_slice(&digest[..KCV_LEN]);
    Kcv(kcv)
}

impl core::fmt::Display for Kcv {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}
