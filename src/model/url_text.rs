//! Pieces of URLs as text, shared by the MQTT and CoAP URL readers: `HOST[:PORT]` (`127.0.0.1:1883`,
//! `broker.local`, `[::1]:5683`) and %-escapes. Pure parsing: no name is resolved here.

/// Splits `text` into its host (an IPv6 address without brackets) and its port, if one is given; `example` is
/// a whole URL shown when the host is missing.
pub fn split_host_port(text: &str, example: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("an IPv6 address needs its closing ]")?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if host.is_empty() {
        return Err(format!("give the host, e.g. {example}"));
    }
    let port = match port {
        Some(port) => Some(
            port.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("the port must be a number from 1 to 65535, not `{port}`"))?,
        ),
        None => None,
    };
    Ok((host.to_string(), port))
}

/// Undoes %-escapes (`%20` → space); the result must be UTF-8.
pub fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or("a % must be followed by two hex digits")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a % must be followed by two hex digits")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoded text must be UTF-8".to_string())
}

/// Escapes the characters that would end a URL part early (`%&?@:/#=` and space).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | '&' | '?' | '@' | ':' | '/' | '#' | ' ' | '=' => {
                let mut buffer = [0u8; 4];
                for b in c.encode_utf8(&mut buffer).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_and_ipv6() {
        assert_eq!(split_host_port("127.0.0.1:1883", "x"), Ok(("127.0.0.1".into(), Some(1883))));
        assert_eq!(split_host_port("broker.local", "x"), Ok(("broker.local".into(), None)));
        assert_eq!(split_host_port("[::1]:5683", "x"), Ok(("::1".into(), Some(5683))));
        assert_eq!(split_host_port("[::1]", "x"), Ok(("::1".into(), None)));
        assert!(split_host_port("[::1:5683", "x").unwrap_err().contains("closing ]"));
        assert!(split_host_port(":80", "coap://h/t").unwrap_err().contains("e.g. coap://h/t"));
        assert!(split_host_port("h:0", "x").unwrap_err().contains("from 1 to 65535"));
        assert!(split_host_port("h:http", "x").unwrap_err().contains("not `http`"));
    }

    #[test]
    fn escapes_round_trip() {
        let text = "a b/c?d=e&f:g@h#i%j é";
        assert_eq!(percent_decode(&percent_encode(text)).unwrap(), text);
        assert!(percent_decode("%zz").unwrap_err().contains("two hex digits"));
        assert!(percent_decode("%ff").unwrap_err().contains("UTF-8"));
    }
}
