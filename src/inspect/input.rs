//! Turning pasted text into payload bytes: hex (with spaces, colons, dashes and `0x` prefixes) and base64
//! (standard or URL-safe alphabet, padding optional), the two forms network servers and consoles show.
//!
//! Written here rather than taken from a crate because it is small and needs error messages that point
//! at the character the user has to fix. Errors are [`InspectError::Input`] with a 1-based position.

use super::InspectError;

/// Parses hex digits; separators (whitespace, `:`, `-`, `,`) and `0x` prefixes are ignored.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, InspectError> {
    let chars: Vec<char> = text.chars().collect();
    let mut digits: Vec<(usize, u8)> = Vec::with_capacity(chars.len());
    let mut index = 0;
    while let Some(&c) = chars.get(index) {
        let position = index + 1;
        if c == '0' && matches!(chars.get(index + 1), Some('x' | 'X')) {
            // A `0x` prefix only where a number begins, so `10x` stays an error.
            let at_start = index == 0 || chars.get(index - 1).is_some_and(|p| is_separator(*p));
            if at_start {
                index += 2;
                continue;
            }
        }
        if let Some(value) = c.to_digit(16) {
            digits.push((position, u8::try_from(value).unwrap_or(0)));
        } else if !is_separator(c) {
            return Err(InspectError::Input {
                expected: "hex",
                reason: format!("character {position} ('{c}') is not a hex digit; use 0-9 and a-f"),
            });
        }
        index += 1;
    }
    if digits.is_empty() {
        return Err(InspectError::Input { expected: "hex", reason: "there are no hex digits".into() });
    }
    if digits.len() % 2 == 1 {
        let (position, _) = digits.last().copied().unwrap_or((0, 0));
        return Err(InspectError::Input {
            expected: "hex",
            reason: format!(
                "an odd number of hex digits ({}); the last one, at character {position}, has no partner — \
                 each byte takes two digits, so write 0F rather than F",
                digits.len()
            ),
        });
    }
    Ok(digits.chunks(2).map(|pair| pair.iter().fold(0u8, |byte, (_, digit)| (byte << 4) | digit)).collect())
}

/// [`parse_hex`] with only the reason as its error, for a form that shows what to fix next to the field.
pub fn parse_hex_text(text: &str) -> Result<Vec<u8>, String> {
    parse_hex(text).map_err(|error| match error {
        InspectError::Input { reason, .. } => reason,
        other => other.to_string(),
    })
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ':' | '-' | ',')
}

/// Parses base64 in the standard (`+/`) or URL-safe (`-_`) alphabet; `=` padding and whitespace are optional.
pub fn parse_base64(text: &str) -> Result<Vec<u8>, InspectError> {
    let mut sextets = Vec::with_capacity(text.len());
    let mut padding_at: Option<usize> = None;
    for (index, c) in text.chars().enumerate() {
        let position = index + 1;
        if c.is_whitespace() {
            continue;
        }
        if c == '=' {
            padding_at.get_or_insert(position);
            continue;
        }
        if let Some(first_pad) = padding_at {
            return Err(InspectError::Input {
                expected: "base64",
                reason: format!("character {position} ('{c}') follows the padding '=' at {first_pad}"),
            });
        }
        let value = match c {
            'A'..='Z' => u32::from(c) - u32::from('A'),
            'a'..='z' => u32::from(c) - u32::from('a') + 26,
            '0'..='9' => u32::from(c) - u32::from('0') + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            _ => {
                return Err(InspectError::Input {
                    expected: "base64",
                    reason: format!("character {position} ('{c}') is not in the base64 alphabet"),
                });
            }
        };
        sextets.push(value);
    }
    if sextets.is_empty() {
        return Err(InspectError::Input { expected: "base64", reason: "there is nothing to decode".into() });
    }
    if sextets.len() % 4 == 1 {
        return Err(InspectError::Input {
            expected: "base64",
            reason: format!("{} characters cannot be base64 (one too many, or a character missing)", sextets.len()),
        });
    }
    let mut bytes = Vec::with_capacity(sextets.len() * 3 / 4);
    for chunk in sextets.chunks(4) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (i, s)| word | (s << (18 - 6 * i)));
        let [_, b0, b1, b2] = word.to_be_bytes();
        bytes.extend_from_slice(&[b0, b1, b2][..chunk.len() - 1]);
    }
    Ok(bytes)
}

/// Parses pasted text as hex when it reads as hex (only hex digits, separators and `0x`), else as base64.
/// Text that is valid both ways (`CAFE`) is taken as hex, the form consoles and datasheets show most.
pub fn parse_pasted(text: &str) -> Result<Vec<u8>, InspectError> {
    let without_prefixes = text.replace("0x", "").replace("0X", "");
    let looks_like_hex =
        without_prefixes.chars().all(|c| c.is_ascii_hexdigit() || is_separator(c)) && parse_hex(text).is_ok();
    if looks_like_hex { parse_hex(text) } else { parse_base64(text) }
}

/// Formats bytes as lowercase hex without separators.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_the_usual_separators_and_prefixes() {
        let expected = vec![0x03, 0x67, 0x01, 0x10];
        assert_eq!(parse_hex("03670110").unwrap(), expected);
        assert_eq!(parse_hex("03 67 01 10").unwrap(), expected);
        assert_eq!(parse_hex("03:67:01:10").unwrap(), expected);
        assert_eq!(parse_hex("0x03 0x67 0X01 0x10").unwrap(), expected);
        assert_eq!(parse_hex("0x03670110\n").unwrap(), expected);
        assert_eq!(to_hex(&expected), "03670110");
    }

    #[test]
    fn hex_errors_name_the_position() {
        let error = parse_hex("03 67 1").unwrap_err().to_string();
        assert!(error.contains("odd number of hex digits (5)") && error.contains("character 7"), "{error}");
        let error = parse_hex("03 6g").unwrap_err().to_string();
        assert!(error.contains("character 5 ('g')"), "{error}");
        assert!(parse_hex("10x5").is_err(), "an x inside a number is not a prefix");
        assert!(parse_hex("  ").is_err());
    }

    #[test]
    fn base64_standard_and_url_safe() {
        // "A2cBEAVnAP8=" is the Cayenne LPP example 03 67 01 10 05 67 00 FF.
        let lpp = [0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00, 0xFF];
        assert_eq!(parse_base64("A2cBEAVnAP8=").unwrap(), lpp);
        assert_eq!(parse_base64("A2cBEAVnAP8").unwrap(), lpp, "padding is optional");
        assert_eq!(parse_base64("+/+/").unwrap(), parse_base64("-_-_").unwrap());
        assert_eq!(parse_base64("+/+/").unwrap(), [0xFB, 0xFF, 0xBF]);
        assert_eq!(parse_base64("TWFu").unwrap(), b"Man");
        assert_eq!(parse_base64("TWE=").unwrap(), b"Ma");
        assert_eq!(parse_base64("TQ==").unwrap(), b"M");
    }

    #[test]
    fn pasted_text_is_hex_when_it_can_be() {
        assert_eq!(parse_pasted("03 67 01 10").unwrap(), [0x03, 0x67, 0x01, 0x10]);
        assert_eq!(parse_pasted("CAFE").unwrap(), [0xCA, 0xFE], "valid both ways: hex wins");
        assert_eq!(parse_pasted("A2cBEAVnAP8=").unwrap(), [0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00, 0xFF]);
        // An odd number of hex digits cannot be hex, so it is read as base64.
        assert_eq!(parse_pasted("ABC").unwrap(), [0x00, 0x10]);
        let error = parse_pasted("not a payload!").unwrap_err().to_string();
        assert!(error.contains("base64") && error.contains("character 14 ('!')"), "{error}");
    }

    #[test]
    fn base64_errors_name_the_position() {
        let error = parse_base64("TW*u").unwrap_err().to_string();
        assert!(error.contains("character 3 ('*')"), "{error}");
        let error = parse_base64("TQ==QQ").unwrap_err().to_string();
        assert!(error.contains("follows the padding"), "{error}");
        assert!(parse_base64("TWFuT").is_err(), "5 characters cannot be base64");
    }
}
