//! CoAP's registered names: response and method codes, option numbers with their value formats, and
//! Content-Formats (RFC 7252 §12, RFC 7641, RFC 7959, RFC 8428 as listed in the reference).

/// How an option's value is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum OptionKind {
    /// Unsigned big-endian integer of at most `max_bytes`.
    Uint { unit: &'static str, max_bytes: usize },
    /// UTF-8 text.
    Text,
    /// Opaque bytes.
    Opaque,
    /// No value.
    Empty,
}

/// The name and value format of option `number` (opaque with no name when unknown).
pub(super) fn option_info(number: u32) -> (Option<&'static str>, OptionKind) {
    let uint = |unit, max_bytes| OptionKind::Uint { unit, max_bytes };
    let (name, kind) = match number {
        1 => ("If-Match", OptionKind::Opaque),
        3 => ("Uri-Host", OptionKind::Text),
        4 => ("ETag", OptionKind::Opaque),
        5 => ("If-None-Match", OptionKind::Empty),
        6 => ("Observe", uint("", 3)),
        7 => ("Uri-Port", uint("", 2)),
        8 => ("Location-Path", OptionKind::Text),
        11 => ("Uri-Path", OptionKind::Text),
        12 => ("Content-Format", uint("", 2)),
        14 => ("Max-Age", uint("s", 4)),
        15 => ("Uri-Query", OptionKind::Text),
        17 => ("Accept", uint("", 2)),
        20 => ("Location-Query", OptionKind::Text),
        23 => ("Block2", uint("", 3)),
        27 => ("Block1", uint("", 3)),
        28 => ("Size2", uint("B", 4)),
        35 => ("Proxy-Uri", OptionKind::Text),
        39 => ("Proxy-Scheme", OptionKind::Text),
        60 => ("Size1", uint("B", 4)),
        _ => return (None, OptionKind::Opaque),
    };
    (Some(name), kind)
}

/// The name of a method or response code (`class << 5 | detail`), empty when unassigned.
pub(crate) fn code_name(code: u8) -> &'static str {
    match (code >> 5, code & 0x1F) {
        (0, 0) => "Empty",
        (0, 1) => "GET",
        (0, 2) => "POST",
        (0, 3) => "PUT",
        (0, 4) => "DELETE",
        (0, 5) => "FETCH",
        (0, 6) => "PATCH",
        (0, 7) => "iPATCH",
        (2, 1) => "Created",
        (2, 2) => "Deleted",
        (2, 3) => "Valid",
        (2, 4) => "Changed",
        (2, 5) => "Content",
        (2, 31) => "Continue",
        (4, 0) => "Bad Request",
        (4, 1) => "Unauthorized",
        (4, 2) => "Bad Option",
        (4, 3) => "Forbidden",
        (4, 4) => "Not Found",
        (4, 5) => "Method Not Allowed",
        (4, 6) => "Not Acceptable",
        (4, 8) => "Request Entity Incomplete",
        (4, 12) => "Precondition Failed",
        (4, 13) => "Request Entity Too Large",
        (4, 15) => "Unsupported Content-Format",
        (5, 0) => "Internal Server Error",
        (5, 1) => "Not Implemented",
        (5, 2) => "Bad Gateway",
        (5, 3) => "Service Unavailable",
        (5, 4) => "Gateway Timeout",
        (5, 5) => "Proxying Not Supported",
        _ => "",
    }
}

/// The media type of a Content-Format number.
pub(crate) fn content_format_name(format: u64) -> &'static str {
    match format {
        0 => "text/plain;charset=utf-8",
        16 => "application/cose; cose-type=\"cose-encrypt0\"",
        40 => "application/link-format",
        41 => "application/xml",
        42 => "application/octet-stream",
        47 => "application/exi",
        50 => "application/json",
        51 => "application/json-patch+json",
        60 => "application/cbor",
        110 => "application/senml+json",
        111 => "application/sensml+json",
        112 => "application/senml+cbor",
        113 => "application/sensml+cbor",
        _ => "unregistered",
    }
}
