//! `HOST[:PORT]` as URLs write it (`127.0.0.1:1883`, `broker.local`, `[::1]:5683`), shared by the MQTT and
//! CoAP URL readers. Pure parsing: no name is resolved here.

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
}
