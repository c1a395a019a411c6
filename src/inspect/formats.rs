//! The built-in formats by name, as `benchtop inspect --format NAME` and the window's format picker choose
//! them. Layouts are not here: they need a file ([`super::layout::Layout`]).
//!
//! A name listed in [`FORMAT_NAMES`] whose decoder is not written yet answers
//! [`InspectError::UnknownFormat`], so callers never need to know which decoders exist.

use super::{Decoded, InspectError, cbor, coap, frame, json, lpp, mqtt};

/// Every built-in format name, in the order help texts list them.
pub const FORMAT_NAMES: [&str; 6] = ["lpp", "cbor", "json", "coap", "mqtt", "frame"];

/// Decodes `bytes` as the built-in format `name` (`lpp`, `cbor`, `json`, `coap`, `mqtt`, `frame`).
pub fn decode_format(name: &str, bytes: &[u8]) -> Result<Decoded, InspectError> {
    match name {
        "lpp" => Ok(lpp::decode(bytes)),
        "cbor" => Ok(cbor::decode(bytes)),
        "json" => Ok(json::decode(bytes)),
        "coap" => Ok(coap::decode(bytes)),
        "mqtt" => Ok(mqtt::decode(bytes)),
        "frame" => Ok(frame::decode(bytes)),
        other => Err(InspectError::UnknownFormat(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_route_to_their_decoders() {
        // The Cayenne LPP example of the reference: two temperatures.
        let lpp = decode_format("lpp", &[0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00, 0xFF]).unwrap();
        assert_eq!((lpp.format.as_str(), lpp.size_bytes), ("lpp", 8));
        let json = decode_format("json", br#"{"t":21.5}"#).unwrap();
        assert_eq!(json.format, "json");
        let cbor = decode_format("cbor", &[0xA1, 0x61, 0x74, 0x01]).unwrap();
        assert_eq!(cbor.format, "cbor");
        // A confirmable CoAP GET with message id 0x1234, and an MQTT PINGREQ.
        let coap = decode_format("coap", &[0x40, 0x01, 0x12, 0x34]).unwrap();
        assert_eq!((coap.format.as_str(), coap.size_bytes), ("coap", 4));
        let mqtt = decode_format("mqtt", &[0xC0, 0x00]).unwrap();
        assert_eq!((mqtt.format.as_str(), mqtt.size_bytes), ("mqtt", 2));
        // A postcard-rpc ping request as a wire frame (firmware-protocol's golden bytes).
        let frame = decode_format(
            "frame",
            &[0x03, 0x10, 0xbd, 0x01, 0x0a, 0xf8, 0xac, 0xd1, 0x91, 0x01, 0x81, 0x1d, 0x10, 0xe5, 0x00],
        )
        .unwrap();
        assert_eq!(frame.format, "frame");
        assert_eq!(decode_format("protobuf", &[1]), Err(InspectError::UnknownFormat("protobuf".into())));
    }
}
