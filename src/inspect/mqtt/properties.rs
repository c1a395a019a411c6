//! MQTT 5 properties (OASIS MQTT 5.0 §2.2.2.2): a variable byte integer length, then properties by identifier,
//! each with its value type. The reference lists only where properties sit; the identifiers and types here are
//! the standard's table. An unknown identifier stops the block (its value length cannot be known).

use serde_json::json;

use super::reader::Reader;
use crate::inspect::field::Field;

/// How a property's value is written.
#[derive(Clone, Copy)]
enum Kind {
    Byte,
    TwoByte,
    FourByte,
    Varint,
    Text,
    Binary,
    TextPair,
}

/// Name, value type and unit of a property identifier.
fn property(id: u32) -> Option<(&'static str, Kind, &'static str)> {
    Some(match id {
        1 => ("payload format indicator", Kind::Byte, ""),
        2 => ("message expiry interval", Kind::FourByte, "s"),
        3 => ("content type", Kind::Text, ""),
        8 => ("response topic", Kind::Text, ""),
        9 => ("correlation data", Kind::Binary, ""),
        11 => ("subscription identifier", Kind::Varint, ""),
        17 => ("session expiry interval", Kind::FourByte, "s"),
        18 => ("assigned client identifier", Kind::Text, ""),
        19 => ("server keep alive", Kind::TwoByte, "s"),
        21 => ("authentication method", Kind::Text, ""),
        22 => ("authentication data", Kind::Binary, ""),
        23 => ("request problem information", Kind::Byte, ""),
        24 => ("will delay interval", Kind::FourByte, "s"),
        25 => ("request response information", Kind::Byte, ""),
        26 => ("response information", Kind::Text, ""),
        28 => ("server reference", Kind::Text, ""),
        31 => ("reason string", Kind::Text, ""),
        33 => ("receive maximum", Kind::TwoByte, ""),
        34 => ("topic alias maximum", Kind::TwoByte, ""),
        35 => ("topic alias", Kind::TwoByte, ""),
        36 => ("maximum qos", Kind::Byte, ""),
        37 => ("retain available", Kind::Byte, ""),
        38 => ("user property", Kind::TextPair, ""),
        39 => ("maximum packet size", Kind::FourByte, "B"),
        40 => ("wildcard subscription available", Kind::Byte, ""),
        41 => ("subscription identifier available", Kind::Byte, ""),
        42 => ("shared subscription available", Kind::Byte, ""),
        _ => return None,
    })
}

/// Reads a property block into a `properties` field whose children are `length` and the properties.
pub(super) fn read(body: &mut Reader<'_>) -> Result<Field, String> {
    let start = body.pos;
    let (length_field, length) = body.varint("properties length")?;
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    let mut block = body
        .sub(length)
        .ok_or_else(|| format!("byte {start}: {length} bytes of properties run past the end of the packet"))?;
    let mut field = Field::new("properties", start, length_field.length + length);
    field.children.push(length_field);
    while !block.at_end() {
        let (id_field, id) = block.varint("identifier")?;
        let Some((name, kind, unit)) = property(id) else {
            let problem = format!("byte {}: unknown property identifier {id}", id_field.offset);
            field.warnings.push(problem.clone());
            if let Some(rest) = block.rest("unknown properties") {
                field.children.push(rest);
            }
            break;
        };
        let mut value = match kind {
            Kind::Byte => block.u8(name)?.0,
            Kind::TwoByte => block.u16(name)?.0,
            Kind::FourByte => block.u32(name)?.0,
            Kind::Varint => block.varint(name)?.0,
            Kind::Text => block.string(name)?.0,
            Kind::Binary => block.binary(name)?,
            Kind::TextPair => {
                let (key, key_text) = block.string("key")?;
                let (value, value_text) = block.string("value")?;
                let mut pair = Field::new(name, key.offset, key.length + value.length)
                    .with_values(json!([key_text, value_text]), json!(format!("{key_text}={value_text}")));
                pair.children = vec![key, value];
                pair
            }
        };
        value.unit = unit.to_owned();
        // The property covers its identifier too.
        value.length += value.offset - id_field.offset;
        value.offset = id_field.offset;
        value.children.insert(0, id_field);
        field.children.push(value);
    }
    body.pos = start + field.length;
    Ok(field)
}
