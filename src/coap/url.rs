//! A CoAP resource and how Benchtop reads it, in one string: `coap://HOST[:PORT]/PATH[?QUERY]`.
//!
//! The query carries the resource's own Uri-Query options (sent to the server as they are) and Benchtop's
//! reading options, which are taken out before the request is made:
//!
//! | option | meaning |
//! | --- | --- |
//! | `observe=off` | GET once (or every `poll`) instead of Observe |
//! | `poll=2s` | GET every 2 s (a resource that is not observable) |
//! | `type=non` | non-confirmable requests (default: confirmable) |
//! | `json=data.temp` | read the value at this JSON path |
//! | `layout=FILE` | read the payload with an inspector layout |
//! | `block=256` | ask for blocks of this size (16 … 1024 bytes) |
//! | `ack_timeout=2s` | the RFC's ACK_TIMEOUT (first retransmission after 1–1.5 × this) |
//!
//! Pure parsing: nothing here touches the network.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::model::url_text::{percent_decode, percent_encode, split_host_port};

/// CoAP's registered UDP port.
pub const DEFAULT_PORT: u16 = 5683;

/// Benchtop's own query options, never sent to the server.
const OPTIONS: [&str; 7] = ["observe", "poll", "type", "json", "layout", "block", "ack_timeout"];

/// A parsed `coap://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoapUrl {
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// UDP port.
    pub port: u16,
    /// Uri-Path segments, percent-decoded.
    pub path: Vec<String>,
    /// Uri-Query options sent with every request (`key=value` or `key`), in order.
    pub query: Vec<String>,
    /// Observe the resource (default), or GET it once.
    pub observe: bool,
    /// GET again at this interval (only without Observe, or when the resource turns out not observable).
    pub poll: Option<Duration>,
    /// Confirmable requests (default) or non-confirmable.
    pub confirmable: bool,
    /// Read a JSON payload's value at this dotted path.
    pub json_path: Option<String>,
    /// Read the payload with this inspector layout file.
    pub layout: Option<PathBuf>,
    /// Preferred block size in bytes (a power of two, 16 … 1024).
    pub block_size: Option<usize>,
    /// ACK_TIMEOUT (RFC 7252 §4.8; 2 s unless set).
    pub ack_timeout: Duration,
}

/// A `coap://` URL that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad CoAP URL `{url}`: {reason}")]
pub struct CoapUrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong and what to write instead.
    pub reason: String,
}

impl CoapUrl {
    /// Parses `coap://HOST[:PORT]/PATH[?QUERY]`.
    pub fn parse(text: &str) -> Result<CoapUrl, CoapUrlError> {
        let text = text.trim();
        let bad = |reason: String| CoapUrlError { url: text.to_string(), reason };
        let rest = match text.strip_prefix("coap://") {
            Some(rest) => rest,
            None if text.starts_with("coaps://") => {
                return Err(bad("coaps:// (DTLS) is not supported; use coap:// on a bench network".into()));
            }
            None => return Err(bad("a CoAP URL starts with coap://, e.g. coap://127.0.0.1/temperature".into())),
        };
        let (authority, path_and_query) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest.split('?').next().unwrap_or(rest), rest.find('?').map_or("", |at| &rest[at..])),
        };
        let (host, port) = split_authority(authority).map_err(bad)?;
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let path = path
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| percent_decode(segment).map_err(&bad))
            .collect::<Result<Vec<_>, _>>()?;
        let mut url = CoapUrl {
            host,
            port,
            path,
            query: Vec::new(),
            observe: true,
            poll: None,
            confirmable: true,
            json_path: None,
            layout: None,
            block_size: None,
            ack_timeout: crate::coap::transmission::ACK_TIMEOUT,
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !OPTIONS.contains(&key) {
                url.query.push(percent_decode(pair).map_err(&bad)?);
                continue;
            }
            let value = percent_decode(value).map_err(&bad)?;
            match key {
                "observe" => {
                    url.observe = match value.as_str() {
                        "on" | "" => true,
                        "off" => false,
                        other => return Err(bad(format!("observe must be on or off, not `{other}`"))),
                    }
                }
                "poll" => url.poll = Some(duration(key, &value).map_err(&bad)?),
                "type" => {
                    url.confirmable = match value.as_str() {
                        "con" => true,
                        "non" => false,
                        other => return Err(bad(format!("type must be con or non, not `{other}`"))),
                    }
                }
                "json" => url.json_path = Some(value),
                "layout" => url.layout = Some(PathBuf::from(value)),
                "block" => {
                    let size: usize = value.parse().unwrap_or(0);
                    if !(16..=1024).contains(&size) || !size.is_power_of_two() {
                        return Err(bad(format!("block must be 16, 32, 64, 128, 256, 512 or 1024, not `{value}`")));
                    }
                    url.block_size = Some(size);
                }
                "ack_timeout" => {
                    let timeout = duration(key, &value).map_err(&bad)?;
                    if timeout < Duration::from_millis(10) {
                        return Err(bad("ack_timeout must be at least 10ms".into()));
                    }
                    url.ack_timeout = timeout;
                }
                _ => unreachable!("every option in OPTIONS has an arm"),
            }
        }
        Ok(url)
    }

    /// `host:port`, with an IPv6 host in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The resource path as it reads in a URL (`/sensors/temperature`; `/` for the root).
    pub fn resource(&self) -> String {
        format!("/{}", self.path.join("/"))
    }

    /// The same server with another path (and no query), e.g. `/.well-known/core`.
    pub fn with_path(&self, path: &str) -> CoapUrl {
        let mut url = self.clone();
        url.path = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        url.query.clear();
        url
    }
}

impl fmt::Display for CoapUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let port = if self.port == DEFAULT_PORT { String::new() } else { format!(":{}", self.port) };
        let path: Vec<String> = self.path.iter().map(|segment| percent_encode(segment)).collect();
        write!(f, "coap://{host}{port}/{}", path.join("/"))?;
        let mut options: Vec<String> = self
            .query
            .iter()
            .map(|item| match item.split_once('=') {
                Some((key, value)) => format!("{}={}", percent_encode(key), percent_encode(value)),
                None => percent_encode(item),
            })
            .collect();
        if !self.observe {
            options.push("observe=off".into());
        }
        if let Some(poll) = self.poll {
            options.push(format!("poll={}", humantime::format_duration(poll)));
        }
        if !self.confirmable {
            options.push("type=non".into());
        }
        if let Some(path) = &self.json_path {
            options.push(format!("json={path}"));
        }
        if let Some(layout) = &self.layout {
            options.push(format!("layout={}", layout.display()));
        }
        if let Some(size) = self.block_size {
            options.push(format!("block={size}"));
        }
        if self.ack_timeout != crate::coap::transmission::ACK_TIMEOUT {
            options.push(format!("ack_timeout={}", humantime::format_duration(self.ack_timeout)));
        }
        if !options.is_empty() {
            write!(f, "?{}", options.join("&"))?;
        }
        Ok(())
    }
}

fn split_authority(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = split_host_port(authority, "coap://127.0.0.1/temperature")?;
    Ok((host, port.unwrap_or(DEFAULT_PORT)))
}

fn duration(key: &str, value: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(value)
        .or_else(|_| value.parse::<f64>().map_err(|_| ()).and_then(|s| Duration::try_from_secs_f64(s).map_err(|_| ())));
    parsed.map_err(|_| format!("{key} must be a duration such as 2s or 500ms, not `{value}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_url_observes_confirmably_on_the_default_port() {
        let url = CoapUrl::parse("coap://127.0.0.1/sensors/temperature").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 5683));
        assert_eq!(url.path, ["sensors", "temperature"]);
        assert!(url.observe && url.confirmable && url.query.is_empty());
        assert_eq!(url.resource(), "/sensors/temperature");
        assert_eq!(url.to_string(), "coap://127.0.0.1/sensors/temperature");
    }

    #[test]
    fn benchtop_options_are_taken_out_and_the_rest_is_sent() {
        let url = CoapUrl::parse(
            "coap://[::1]:5699/t%2Fx?observe=off&poll=2s&type=non&unit=c&json=a.b&block=64&ack_timeout=200ms&x%20y&k=a%26b",
        )
        .unwrap();
        assert_eq!((url.host.as_str(), url.port, url.address()), ("::1", 5699, "[::1]:5699".to_string()));
        assert_eq!(url.path, ["t/x"]);
        assert_eq!(url.query, ["unit=c", "x y", "k=a&b"]);
        assert!(!url.observe && !url.confirmable);
        assert_eq!(url.poll, Some(Duration::from_secs(2)));
        assert_eq!(url.json_path.as_deref(), Some("a.b"));
        assert_eq!(url.block_size, Some(64));
        assert_eq!(url.ack_timeout, Duration::from_millis(200));
        // Printing and reading again gives the same URL.
        assert_eq!(CoapUrl::parse(&url.to_string()).unwrap(), url);
    }

    #[test]
    fn bad_urls_say_what_to_write() {
        for (text, expected) in [
            ("coaps://h/x", "DTLS"),
            ("http://h/x", "starts with coap://"),
            ("coap:///x", "give the host"),
            ("coap://h:99999/x", "from 1 to 65535"),
            ("coap://h/x?block=100", "block must be"),
            ("coap://h/x?observe=maybe", "observe must be"),
            ("coap://h/x?poll=soon", "poll must be a duration"),
            ("coap://h/x?type=ack", "type must be"),
            ("coap://h/%zz", "two hex digits"),
        ] {
            let error = CoapUrl::parse(text).unwrap_err();
            assert!(error.reason.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn a_host_alone_is_the_root() {
        let url = CoapUrl::parse("coap://localhost:5700").unwrap();
        assert_eq!((url.port, url.resource()), (5700, "/".to_string()));
        assert_eq!(url.with_path("/.well-known/core").resource(), "/.well-known/core");
    }
}
