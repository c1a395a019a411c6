//! CoAP messages as Benchtop sends and reads them, on top of `coap-lite`'s packet codec: requests built from a
//! [`CoapUrl`], responses read into a [`Response`], codes and Content-Formats by name, and a one-line summary
//! of any datagram for the capture list.

use coap_lite::block_handler::BlockValue;
use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType};

use super::url::CoapUrl;
use crate::inspect::coap::names::{code_name, content_format_name};

/// A request method Benchtop sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (0.01).
    Get,
    /// POST (0.02).
    Post,
    /// PUT (0.03).
    Put,
    /// DELETE (0.04).
    Delete,
}

impl Method {
    fn request_type(self) -> RequestType {
        match self {
            Method::Get => RequestType::Get,
            Method::Post => RequestType::Post,
            Method::Put => RequestType::Put,
            Method::Delete => RequestType::Delete,
        }
    }

    /// The method's name (`GET`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A Content-Format number from a name (`text`, `json`, `cbor`, `senml+json`, `senml+cbor`, `link`,
/// `octets`) or a number.
pub fn content_format_number(text: &str) -> Result<u16, String> {
    Ok(match text {
        "text" | "text/plain" => 0,
        "link" | "link-format" | "application/link-format" => 40,
        "octets" | "octet-stream" | "application/octet-stream" => 42,
        "json" | "application/json" => 50,
        "cbor" | "application/cbor" => 60,
        "senml+json" | "application/senml+json" => 110,
        "senml+cbor" | "application/senml+cbor" => 112,
        other => other.parse().map_err(|_| {
            format!("`{other}` is not a Content-Format; use text, json, cbor, senml+json, senml+cbor, link, octets or a number")
        })?,
    })
}

/// A Content-Format as people read it: `application/json (50)`.
pub fn content_format_text(format: u16) -> String {
    format!("{} ({format})", content_format_name(u64::from(format)))
}

/// A code as `2.05 Content`.
pub fn code_text(code: u8) -> String {
    let name = code_name(code);
    let number = format!("{}.{:02}", code >> 5, code & 0x1F);
    if name.is_empty() { number } else { format!("{number} {name}") }
}

/// A request to `url` (its path and Uri-Query options), without message id or token yet.
pub fn request(method: Method, url: &CoapUrl, confirmable: bool) -> Packet {
    let mut packet = Packet::new();
    packet.header.set_type(if confirmable { MessageType::Confirmable } else { MessageType::NonConfirmable });
    packet.header.code = MessageClass::Request(method.request_type());
    for segment in &url.path {
        packet.add_option(CoapOption::UriPath, segment.as_bytes().to_vec());
    }
    for query in &url.query {
        packet.add_option(CoapOption::UriQuery, query.as_bytes().to_vec());
    }
    packet
}

/// Sets a block option (`CoapOption::Block1` or `Block2`).
pub fn set_block(
    packet: &mut Packet,
    option: CoapOption,
    num: usize,
    more: bool,
    size_bytes: usize,
) -> Result<(), String> {
    let value =
        BlockValue::new(num, more, size_bytes).map_err(|e| format!("block {num} of {size_bytes} bytes: {e:?}"))?;
    packet.clear_option(option);
    packet.add_option_as(option, value);
    Ok(())
}

/// A block option's value, if present and well formed.
pub fn block(packet: &Packet, option: CoapOption) -> Option<BlockValue> {
    packet.get_first_option_as::<BlockValue>(option).and_then(Result::ok)
}

/// An unsigned option's value (Observe, Max-Age, Content-Format …).
pub fn uint_option(packet: &Packet, option: CoapOption) -> Option<u32> {
    let bytes = packet.get_first_option(option)?;
    (bytes.len() <= 4).then(|| bytes.iter().fold(0u32, |value, &b| (value << 8) | u32::from(b)))
}

/// Sets an unsigned option, in the fewest bytes.
pub fn set_uint_option(packet: &mut Packet, option: CoapOption, value: u32) {
    let bytes = value.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(4);
    packet.clear_option(option);
    packet.add_option(option, bytes[first..].to_vec());
}

/// The raw code byte of a packet.
pub fn raw_code(packet: &Packet) -> u8 {
    u8::from(packet.header.code)
}

/// A response as Benchtop uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The code (`class << 5 | detail`).
    pub code: u8,
    /// Its Content-Format, if it said.
    pub content_format: Option<u16>,
    /// Max-Age in seconds (60 when absent, RFC 7252 §5.10.5).
    pub max_age_s: u32,
    /// The Observe option (a notification's sequence number).
    pub observe: Option<u32>,
    /// ETag, if any.
    pub etag: Option<Vec<u8>>,
    /// Location-Path segments (a POST that created something).
    pub location: Vec<String>,
    /// The payload (all blocks, once assembled).
    pub payload: Vec<u8>,
}

impl Response {
    /// Reads a response packet.
    pub fn from_packet(packet: &Packet) -> Response {
        Response {
            code: raw_code(packet),
            content_format: uint_option(packet, CoapOption::ContentFormat).and_then(|f| u16::try_from(f).ok()),
            max_age_s: uint_option(packet, CoapOption::MaxAge).unwrap_or(60),
            observe: uint_option(packet, CoapOption::Observe),
            etag: packet.get_first_option(CoapOption::ETag).cloned(),
            location: packet
                .get_option(CoapOption::LocationPath)
                .map(|list| list.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
                .unwrap_or_default(),
            payload: packet.payload.clone(),
        }
    }

    /// 2.xx.
    pub fn is_success(&self) -> bool {
        self.code >> 5 == 2
    }

    /// `2.05 Content`.
    pub fn code_text(&self) -> String {
        code_text(self.code)
    }

    /// The payload as text if it is printable, else as hex.
    pub fn payload_text(&self) -> String {
        match crate::inspect::coap::printable_text(&self.payload) {
            Some(text) => text.to_string(),
            None => self.payload.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" "),
        }
    }
}

/// One line for a datagram: `CON GET /temperature obs=0 mid 0x1a2b`, `ACK 2.05 Content obs=3 (5 B)`, or why
/// it is not CoAP.
pub fn summary(datagram: &[u8]) -> String {
    let packet = match Packet::from_bytes(datagram) {
        Ok(packet) => packet,
        Err(error) => return format!("not CoAP ({})", malformed_reason(datagram, &error)),
    };
    let kind = match packet.header.get_type() {
        MessageType::Confirmable => "CON",
        MessageType::NonConfirmable => "NON",
        MessageType::Acknowledgement => "ACK",
        MessageType::Reset => "RST",
    };
    let code = raw_code(&packet);
    let mut line = if code == 0 {
        format!("{kind} Empty")
    } else if code >> 5 == 0 {
        let path: Vec<String> = packet
            .get_option(CoapOption::UriPath)
            .map(|list| list.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
            .unwrap_or_default();
        format!("{kind} {} /{}", code_name(code), path.join("/"))
    } else {
        format!("{kind} {}", code_text(code))
    };
    if let Some(observe) = uint_option(&packet, CoapOption::Observe) {
        line.push_str(&format!(" obs={observe}"));
    }
    for (name, option) in [("block1", CoapOption::Block1), ("block2", CoapOption::Block2)] {
        if let Some(b) = block(&packet, option) {
            let size = 1usize << (b.size_exponent + 4);
            line.push_str(&format!(" {name}={}{}/{size}", b.num, if b.more { "+" } else { "" }));
        }
    }
    if !packet.payload.is_empty() {
        line.push_str(&format!(" ({} B)", packet.payload.len()));
    }
    line.push_str(&format!(" mid 0x{:04x}", packet.header.message_id));
    line
}

/// Why a datagram is not a CoAP message, in words.
pub fn malformed_reason(datagram: &[u8], error: &coap_lite::error::MessageError) -> String {
    let preview: Vec<String> = datagram.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let what = match datagram.first() {
        None => "an empty datagram".to_string(),
        Some(first) if first >> 6 != 1 => format!("version {} where CoAP has 1", first >> 6),
        Some(_) if datagram.len() < 4 => format!("{} bytes, shorter than the 4-byte header", datagram.len()),
        Some(_) => {
            use coap_lite::error::MessageError;
            match error {
                MessageError::InvalidHeader => "a header that cannot be read".to_string(),
                MessageError::InvalidPacketLength => "a message cut short".to_string(),
                MessageError::InvalidTokenLength => format!("a token length of {} (at most 8)", datagram[0] & 0x0f),
                MessageError::InvalidOptionDelta => "a reserved option delta (15)".to_string(),
                MessageError::InvalidOptionLength => "an option running past the end".to_string(),
            }
        }
    };
    format!("{what}; {} bytes: {}{}", datagram.len(), preview.join(" "), if datagram.len() > 8 { " …" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_its_path_and_query_and_reads_back() {
        let url = CoapUrl::parse("coap://127.0.0.1/sensors/temp?unit=c").unwrap();
        let mut packet = request(Method::Get, &url, true);
        packet.header.message_id = 0x1a2b;
        packet.set_token(vec![1, 2]);
        set_uint_option(&mut packet, CoapOption::Observe, 0);
        set_block(&mut packet, CoapOption::Block2, 2, false, 64).unwrap();
        let bytes = packet.to_bytes().unwrap();
        assert_eq!(summary(&bytes), "CON GET /sensors/temp obs=0 block2=2/64 mid 0x1a2b");
        // The inspector's own decoder reads what we wrote.
        let decoded = crate::inspect::coap::decode(&bytes);
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        let read = Packet::from_bytes(&bytes).unwrap();
        assert_eq!(uint_option(&read, CoapOption::Observe), Some(0));
        assert_eq!(block(&read, CoapOption::Block2).map(|b| (b.num, b.more, b.size_exponent)), Some((2, false, 2)));
    }

    #[test]
    fn codes_and_formats_have_names() {
        assert_eq!(code_text(0x45), "2.05 Content");
        assert_eq!(code_text(0x84), "4.04 Not Found");
        assert_eq!(code_text(0x5f), "2.31 Continue");
        assert_eq!(content_format_number("senml+cbor"), Ok(112));
        assert_eq!(content_format_number("42"), Ok(42));
        assert!(content_format_number("yaml").unwrap_err().contains("not a Content-Format"));
        assert_eq!(content_format_text(50), "application/json (50)");
    }

    #[test]
    fn a_datagram_that_is_not_coap_says_why() {
        assert!(summary(&[0x00, 0x01]).starts_with("not CoAP (version 0 where CoAP has 1"));
        assert!(summary(&[0x40]).contains("shorter than the 4-byte header"));
        assert!(summary(&[]).contains("empty datagram"));
        // A token length of 9 is reserved.
        assert!(summary(&[0x49, 0x01, 0, 1]).starts_with("not CoAP"));
    }
}
