//! A CoAP payload to values, by what the URL asks (a JSON path, an inspector layout) or else by the response's
//! Content-Format: number text (0 or none), JSON (50: a number, an object's `value`, or every numeric leaf as
//! `resource/leaf`), CBOR (60: every numeric leaf), SenML JSON or CBOR (110, 112: one value per record, named
//! `resource/record-name`). Pure logic on top of the MQTT reader and the inspector's decoders.

use crate::inspect::field::Field;
use crate::mqtt::decode::{self as mqtt_decode, PayloadDecoding, Reading};

use super::url::CoapUrl;

/// How a CoAP source reads payloads.
pub fn payload_decoding(url: &CoapUrl) -> Result<PayloadDecoding, String> {
    if let Some(path) = &url.json_path {
        return Ok(PayloadDecoding::JsonPath(path.clone()));
    }
    if let Some(path) = &url.layout {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("could not read the layout ({e}); check the path in ?layout= — {}", path.display()))?;
        let layout = crate::inspect::layout::Layout::from_toml(&text)
            .map_err(|e| format!("the layout {} is not valid: {e}", path.display()))?;
        return Ok(PayloadDecoding::Layout(Box::new(layout)));
    }
    Ok(PayloadDecoding::Number)
}

/// Reads `payload` of `resource` (the channel name) sent with `content_format`.
pub fn read(decoding: &PayloadDecoding, resource: &str, content_format: Option<u16>, payload: &[u8]) -> Reading {
    if !matches!(decoding, PayloadDecoding::Number) {
        return mqtt_decode::read(decoding, resource, payload);
    }
    match content_format {
        Some(60) => leaves(resource, crate::inspect::cbor::decode(payload).fields, "CBOR"),
        Some(112) => senml(resource, crate::inspect::cbor::decode(payload).fields, "SenML CBOR"),
        Some(110) => {
            let mut fields = crate::inspect::json::decode(payload).fields;
            for field in &mut fields {
                crate::inspect::cbor::senml::resolve_json_pack(field);
            }
            senml(resource, fields, "SenML JSON")
        }
        Some(50) => match mqtt_decode::number(payload) {
            Some(value) => Reading::Values(vec![(resource.to_string(), value)]),
            None => leaves(resource, crate::inspect::json::decode(payload).fields, "JSON"),
        },
        _ => match mqtt_decode::number(payload) {
            Some(value) => Reading::Values(vec![(resource.to_string(), value)]),
            None => Reading::Unreadable(format!(
                "{resource}: the payload is not a number ({}); add ?json=PATH or ?layout=FILE to the URL",
                preview(payload)
            )),
        },
    }
}

fn leaves(resource: &str, fields: Vec<Field>, what: &str) -> Reading {
    let mut values = Vec::new();
    for field in &fields {
        let prefix = if field.name == "root" { String::new() } else { field.name.clone() };
        let mut push = |name: String, value: f64| {
            let name = name.trim_start_matches("root.").trim_start_matches("root").to_string();
            values.push((if name.is_empty() { resource.to_string() } else { format!("{resource}/{name}") }, value));
        };
        if prefix.is_empty() && field.children.is_empty() {
            if let Some(value) = field.value.as_f64() {
                push(String::new(), value);
            }
        } else {
            mqtt_decode::numeric_leaves(field, "", &mut push);
        }
    }
    if values.is_empty() {
        Reading::Unreadable(format!("{resource}: the {what} payload has no number"))
    } else {
        Reading::Values(values)
    }
}

fn senml(resource: &str, fields: Vec<Field>, what: &str) -> Reading {
    let mut values = Vec::new();
    for pack in &fields {
        for record in &pack.children {
            if let Some(value) = record.child("value").and_then(|v| v.value.as_f64()) {
                values.push((format!("{resource}/{}", record.name), value));
            }
        }
    }
    if values.is_empty() {
        return leaves(resource, fields, what);
    }
    Reading::Values(values)
}

fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(40)]).into_owned();
    if payload.len() > 40 { format!("{text:?}…") } else { format!("{text:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(reading: Reading) -> Vec<(String, f64)> {
        match reading {
            Reading::Values(values) => values,
            other => panic!("expected values, got {other:?}"),
        }
    }

    #[test]
    fn each_content_format_reads_its_values() {
        let number = PayloadDecoding::Number;
        assert_eq!(values(read(&number, "/t", None, b"21.5")), [("/t".to_string(), 21.5)]);
        assert_eq!(values(read(&number, "/t", Some(50), br#"{"value": 3}"#)), [("/t".to_string(), 3.0)]);
        assert_eq!(
            values(read(&number, "/env", Some(50), br#"{"temp": 21.5, "hum": {"rel": 40}}"#)),
            [("/env/temp".to_string(), 21.5), ("/env/hum.rel".to_string(), 40.0)]
        );
        // CBOR {"t": 21.5} and a bare CBOR number 7.
        assert_eq!(
            values(read(&number, "/c", Some(60), &[0xa1, 0x61, b't', 0xf9, 0x4d, 0x60])),
            [("/c/t".to_string(), 21.5)]
        );
        assert_eq!(values(read(&number, "/c", Some(60), &[0x07])), [("/c".to_string(), 7.0)]);
        // SenML JSON with a base name: names resolve.
        let senml = br#"[{"bn":"dev1/","n":"temp","u":"Cel","v":21.5},{"n":"hum","u":"%RH","v":40}]"#;
        assert_eq!(
            values(read(&number, "/s", Some(110), senml)),
            [("/s/dev1/temp".to_string(), 21.5), ("/s/dev1/hum".to_string(), 40.0)]
        );
        // SenML CBOR: [{-2: "d/", 0: "t", 2: 21.5}]
        let cbor = [0x81, 0xa3, 0x21, 0x62, b'd', b'/', 0x00, 0x61, b't', 0x02, 0xf9, 0x4d, 0x60];
        assert_eq!(values(read(&number, "/s", Some(112), &cbor)), [("/s/d/t".to_string(), 21.5)]);
    }

    #[test]
    fn a_json_path_wins_and_text_that_is_no_number_says_what_to_do() {
        let path = PayloadDecoding::JsonPath("a.b".into());
        assert_eq!(values(read(&path, "/x", Some(50), br#"{"a":{"b":2}}"#)), [("/x".to_string(), 2.0)]);
        match read(&PayloadDecoding::Number, "/x", Some(0), b"warm") {
            Reading::Unreadable(reason) => assert!(reason.contains("?json=PATH"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
