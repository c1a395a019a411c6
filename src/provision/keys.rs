//! Identifiers and secrets of a provisioned device: EUI-64s, the LoRaWAN AppKey and MQTT passwords.
//!
//! Parsing is strict (exact length, hex only, never all zeros or all ones) and every error says what was
//! wrong without repeating the secret. A [`Secret`] prints as `<secret>` in `Debug` and `Display`, is wiped
//! from memory when dropped, and shows its bytes only through [`Secret::expose`], so a key reaches a log or an
//! error message only by a deliberate call.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Why an identifier or key was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not the number of hex digits the field needs.
    #[error("{field} must be {expected} hex digits, got {got}")]
    Length {
        /// Which field.
        field: &'static str,
        /// Hex digits wanted.
        expected: usize,
        /// Hex digits given.
        got: usize,
    },
    /// A character that is not a hex digit (the position is given, never the character of a secret).
    #[error("{field} is not hex: character {position} is not 0-9 or A-F")]
    NotHex {
        /// Which field.
        field: &'static str,
        /// 1-based position in the text after separators are removed.
        position: usize,
    },
    /// All zeros or all ones: unset or erased flash, never a real value.
    #[error("{field} is all {which}: that is erased or unset memory, not a real value")]
    Uniform {
        /// Which field.
        field: &'static str,
        /// "zeros" or "ones".
        which: &'static str,
    },
    /// The OS random source failed.
    #[error("the OS random source failed: {0}")]
    Random(String),
}

/// Parses `text` as exactly `N` bytes of hex; `:`, `-` and spaces between digits are ignored, as are a `0x`
/// prefix and letter case.
pub fn parse_hex_exact<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N], KeyError> {
    let trimmed = text.trim();
    let body = trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")).unwrap_or(trimmed);
    let digits: Vec<u8> = body.bytes().filter(|b| !matches!(b, b':' | b'-' | b' ')).collect();
    if let Some(position) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(KeyError::NotHex { field, position: position + 1 });
    }
    if digits.len() != 2 * N {
        return Err(KeyError::Length { field, expected: 2 * N, got: digits.len() });
    }
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
    }
    Ok(out)
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

fn uniform(bytes: &[u8]) -> Option<&'static str> {
    if bytes.iter().all(|&b| b == 0) {
        Some("zeros")
    } else if bytes.iter().all(|&b| b == 0xFF) {
        Some("ones")
    } else {
        None
    }
}

/// Upper-case hex without separators, the form network servers and labels use.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Fills `buf` from the operating system's random source.
pub fn os_random(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}

/// An EUI-64 (DevEUI or JoinEUI), most significant byte first as printed on labels.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Eui64(pub [u8; 8]);

impl Eui64 {
    /// Parses a DevEUI: 16 hex digits, not all zeros or all ones.
    pub fn parse_dev_eui(text: &str) -> Result<Eui64, KeyError> {
        let bytes = parse_hex_exact::<8>("DevEUI", text)?;
        if let Some(which) = uniform(&bytes) {
            return Err(KeyError::Uniform { field: "DevEUI", which });
        }
        Ok(Eui64(bytes))
    }

    /// Parses a JoinEUI: 16 hex digits; all zeros is allowed (LoRaWAN 1.0 networks use it), all ones is not.
    pub fn parse_join_eui(text: &str) -> Result<Eui64, KeyError> {
        let bytes = parse_hex_exact::<8>("JoinEUI", text)?;
        if bytes == [0xFF; 8] {
            return Err(KeyError::Uniform { field: "JoinEUI", which: "ones" });
        }
        Ok(Eui64(bytes))
    }

    /// The EUI as a big-endian integer, for counting through an allocated block.
    pub fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The EUI of a big-endian integer.
    pub fn from_u64(value: u64) -> Eui64 {
        Eui64(value.to_be_bytes())
    }
}

impl fmt::Display for Eui64 {
    /// Upper-case hex, 16 digits, no separators.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex_upper(&self.0))
    }
}

impl fmt::Debug for Eui64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Eui64({self})")
    }
}

impl FromStr for Eui64 {
    type Err = KeyError;

    /// Parses as a DevEUI (the stricter rule).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Eui64::parse_dev_eui(text)
    }
}

/// Secret bytes that never print and are wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T: zeroize::Zeroize>(T);

impl<T: zeroize::Zeroize> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret itself: call only where it must leave (to the device, the ledger, an export file).
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: zeroize::Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: zeroize::Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl<T: zeroize::Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// A LoRaWAN 1.0.x AppKey (the root key): 16 bytes, a secret.
pub type AppKey = Secret<[u8; 16]>;

/// An MQTT password: text, a secret.
pub type Password = Secret<String>;

impl Secret<[u8; 16]> {
    /// Parses an AppKey: 32 hex digits, not all zeros or all ones.
    pub fn parse_app_key(text: &str) -> Result<AppKey, KeyError> {
        let bytes = parse_hex_exact::<16>("AppKey", text)?;
        if let Some(which) = uniform(&bytes) {
            return Err(KeyError::Uniform { field: "AppKey", which });
        }
        Ok(Secret(bytes))
    }

    /// A fresh AppKey from the OS random source (drawn again in the 2⁻¹²⁷ case of a uniform key).
    pub fn generate_app_key() -> Result<AppKey, KeyError> {
        loop {
            let mut bytes = [0u8; 16];
            os_random(&mut bytes)?;
            if uniform(&bytes).is_none() {
                return Ok(Secret(bytes));
            }
        }
    }

    /// Upper-case hex of the key, for export files and the device only.
    pub fn expose_hex(&self) -> String {
        hex_upper(&self.0)
    }
}

impl Secret<String> {
    /// A fresh password of `length` characters from a 62-letter alphabet (≈ 5.95 bits each), drawn without
    /// modulo bias.
    pub fn generate_password(length: usize) -> Result<Password, KeyError> {
        const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut out = String::with_capacity(length);
        let mut pool = [0u8; 64];
        while out.len() < length {
            os_random(&mut pool)?;
            // 248 = 4 × 62: bytes at or above it are dropped so every letter is equally likely.
            for &byte in pool.iter().filter(|&&b| b < 248) {
                if out.len() == length {
                    break;
                }
                out.push(ALPHABET[usize::from(byte % 62)] as char);
            }
        }
        pool.iter_mut().for_each(|b| *b = 0);
        Ok(Secret(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui_parsing_accepts_separators_and_refuses_bad_text() {
        assert_eq!(Eui64::parse_dev_eui("70-B3-D5-7E-D0-00-00-10").unwrap().to_string(), "70B3D57ED0000010");
        assert_eq!(Eui64::parse_dev_eui("0x70b3d57ed0000010").unwrap().to_u64(), 0x70B3_D57E_D000_0010);
        assert_eq!(
            Eui64::parse_dev_eui("70B3D57ED00000").unwrap_err(),
            KeyError::Length { field: "DevEUI", expected: 16, got: 14 }
        );
        assert_eq!(
            Eui64::parse_dev_eui("70B3D57ED000001G").unwrap_err(),
            KeyError::NotHex { field: "DevEUI", position: 16 }
        );
        assert!(matches!(Eui64::parse_dev_eui("0000000000000000"), Err(KeyError::Uniform { which: "zeros", .. })));
        assert!(Eui64::parse_join_eui("0000000000000000").is_ok());
        assert!(Eui64::parse_join_eui("FFFFFFFFFFFFFFFF").is_err());
    }

    #[test]
    fn app_keys_are_checked_and_never_printed() {
        let key = AppKey::parse_app_key("2B7E151628AED2A6ABF7158809CF4F3C").unwrap();
        assert_eq!(key.expose_hex(), "2B7E151628AED2A6ABF7158809CF4F3C");
        assert_eq!(format!("{key:?} {key}"), "<secret> <secret>");
        assert!(matches!(
            AppKey::parse_app_key("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
            Err(KeyError::Uniform { which: "ones", .. })
        ));
        let error = AppKey::parse_app_key("2B7E151628AED2A6ABF7158809CF4FZZ").unwrap_err().to_string();
        assert!(!error.contains("2B7E"), "{error}");
    }

    #[test]
    fn generated_secrets_differ_and_have_the_asked_shape() {
        let a = AppKey::generate_app_key().unwrap();
        let b = AppKey::generate_app_key().unwrap();
        assert_ne!(a.expose(), b.expose());
        let password = Password::generate_password(24).unwrap();
        assert_eq!(password.expose().len(), 24);
        assert!(password.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(password.expose(), Password::generate_password(24).unwrap().expose());
    }
}
