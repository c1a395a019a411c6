//! Source strings: one string names where data comes from, the same in the GUI, the CLI and settings.
//!
//! `sim`, `sim:seed=7,faults=corrupt=0.01`, `serial:/dev/ttyACM0?baud=115200`, `serial:auto`,
//! `tcp:127.0.0.1:7000`, `mqtt://127.0.0.1:1883/sensors/#` (and `mqtts://`), `coap://127.0.0.1/temperature`,
//! `ble:env-sensor`; and the kinds other parts of Benchtop open (`ppk2:`, `file:`), which parse here so that
//! the error can say where they work rather than "unknown". MQTT and CoAP sources are read with
//! [`crate::mqtt::url`] and [`crate::coap::url`], pure parsing like the rest of this module; an MQTT source
//! prints with its password hidden.

use std::fmt;

use thiserror::Error;

use super::textline::TextFormat;
use crate::coap::url::CoapUrl;
use crate::mqtt::url::MqttUrl;

/// Default serial baud rate.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Where a device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The simulated board, in process.
    Sim {
        /// Seed (device id and noise).
        seed: u64,
        /// Fault list, as `benchtop sim --faults` takes it.
        faults: String,
    },
    /// A serial port.
    Serial {
        /// Port path, or `None` for the first USB serial port found.
        path: Option<String>,
        /// Baud rate.
        baud: u32,
        /// What the board speaks.
        format: BoardFormat,
        /// DTR and RTS on open: `Some(false)` holds a line low so that boards wired to reset on it do not.
        lines: ControlLines,
    },
    /// A TCP board.
    Tcp {
        /// `host:port`.
        address: String,
        /// What the board speaks.
        format: BoardFormat,
    },
    /// An MQTT subscription: a broker URL with a topic filter.
    Mqtt(Box<MqttUrl>),
    /// A CoAP resource, observed or polled.
    Coap(Box<CoapUrl>),
    /// A Bluetooth LE board that offers the Benchtop protocol service.
    Ble {
        /// Its advertised name, its address (`AA:BB:CC:DD:EE:FF`) or its platform id.
        device: String,
    },
    /// A kind of source Benchtop names but this build does not open yet.
    Other {
        /// The kind (`ppk2`, `file`).
        kind: &'static str,
        /// The rest of the string.
        target: String,
    },
}

/// A source string that could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SourceError {
    /// No known prefix.
    #[error(
        "`{0}` is not a source; use sim, serial:PATH, serial:auto, tcp:HOST:PORT, ble:NAME, ppk2:auto, mqtt://…, coap://… or file:PATH"
    )]
    Unknown(String),
    /// A known prefix with a bad value.
    #[error("bad source `{text}`: {reason}")]
    Bad {
        /// The whole string.
        text: String,
        /// What is wrong.
        reason: String,
    },
}

impl Source {
    /// Parses a source string.
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let text = text.trim();
        let bad = |reason: &str| SourceError::Bad { text: text.to_string(), reason: reason.to_string() };
        if text == "sim" {
            return Ok(Source::Sim { seed: 0, faults: String::new() });
        }
        if let Some(rest) = text.strip_prefix("sim:") {
            return parse_sim(rest).map_err(|reason| bad(&reason));
        }
        if let Some(rest) = text.strip_prefix("serial:") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let options = parse_query(query, &["baud", "format", "dtr", "rts"]).map_err(|reason| bad(&reason))?;
            let baud = match options.get("baud") {
                Some(value) => value.parse().map_err(|_| bad("baud must be a number, e.g. baud=115200"))?,
                None => DEFAULT_BAUD,
            };
            let format = BoardFormat::from_option(options.get("format")).map_err(|reason| bad(&reason))?;
            if path.is_empty() {
                return Err(bad("give a port path (serial:/dev/ttyACM0) or serial:auto"));
            }
            let line = |name: &str| match options.get(name).map(String::as_str) {
                None => Ok(None),
                Some("on") => Ok(Some(true)),
                Some("off") => Ok(Some(false)),
                Some(other) => Err(bad(&format!("{name} must be on or off, not `{other}`"))),
            };
            let lines = ControlLines { dtr: line("dtr")?, rts: line("rts")? };
            let path = (path != "auto").then(|| path.to_string());
            return Ok(Source::Serial { path, baud, format, lines });
        }
        if let Some(rest) = text.strip_prefix("tcp:") {
            let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
            if address.rsplit_once(':').is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err()) {
                return Err(bad("give host:port, e.g. tcp:127.0.0.1:7000"));
            }
            let options = parse_query(query, &["format"]).map_err(|reason| bad(&reason))?;
            let format = BoardFormat::from_option(options.get("format")).map_err(|reason| bad(&reason))?;
            return Ok(Source::Tcp { address: address.to_string(), format });
        }
        if text.starts_with("mqtt://") || text.starts_with("mqtts://") {
            let url = MqttUrl::parse(text).map_err(|e| SourceError::Bad { text: e.url, reason: e.reason })?;
            if url.topic_filter.is_none() {
                return Err(SourceError::Bad {
                    text: url.to_string(),
                    reason: format!("give a topic filter after the broker, e.g. mqtt://{}/sensors/#", url.address()),
                });
            }
            return Ok(Source::Mqtt(Box::new(url)));
        }
        if let Some(device) = text.strip_prefix("ble:") {
            if device.is_empty() {
                return Err(bad("give the device's name, address or id, e.g. ble:env-sensor"));
            }
            return Ok(Source::Ble { device: device.to_string() });
        }
        if text.starts_with("coap://") || text.starts_with("coaps://") {
            let url = CoapUrl::parse(text).map_err(|e| SourceError::Bad { text: e.url, reason: e.reason })?;
            return Ok(Source::Coap(Box::new(url)));
        }
        for (prefix, kind) in [("ppk2:", "ppk2"), ("file:", "file")] {
            if let Some(target) = text.strip_prefix(prefix) {
                return Ok(Source::Other { kind, target: target.to_string() });
            }
        }
        Err(SourceError::Unknown(text.to_string()))
    }
}

/// The modem control lines set when a serial port opens; `None` leaves the system's default (usually both
/// raised, which resets many Arduino-style boards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControlLines {
    /// Data Terminal Ready.
    pub dtr: Option<bool>,
    /// Request To Send.
    pub rts: Option<bool>,
}

/// What a board on a byte stream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoardFormat {
    /// Try the Benchtop protocol; if the board does not answer, read it as text (format detected).
    #[default]
    Detect,
    /// The Benchtop protocol only.
    Protocol,
    /// Text lines in this format.
    Text(TextFormat),
}

impl BoardFormat {
    /// Parses the `format=` option: `protocol`, `text` (format detected), `plotter`, `csv`, `raw`.
    fn from_option(value: Option<&String>) -> Result<Self, String> {
        match value.map(String::as_str) {
            None => Ok(BoardFormat::Detect),
            Some("protocol") => Ok(BoardFormat::Protocol),
            Some("text") => Ok(BoardFormat::Text(TextFormat::Auto)),
            Some(other) => match other.parse::<TextFormat>() {
                Ok(TextFormat::Auto) | Err(_) => {
                    Err(format!("format `{other}` is not one of protocol, text, plotter, csv, raw"))
                }
                Ok(format) => Ok(BoardFormat::Text(format)),
            },
        }
    }

    /// The `format=` option that names this, if not the default.
    fn option(self) -> Option<&'static str> {
        match self {
            BoardFormat::Detect => None,
            BoardFormat::Protocol => Some("protocol"),
            BoardFormat::Text(TextFormat::Auto) => Some("text"),
            BoardFormat::Text(format) => Some(format.as_str()),
        }
    }
}

/// `a=1&b=2` into a map, refusing keys not in `known`.
fn parse_query(query: &str, known: &[&str]) -> Result<std::collections::HashMap<String, String>, String> {
    let mut options = std::collections::HashMap::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| format!("option `{part}` needs a value"))?;
        if !known.contains(&key) {
            return Err(format!("unknown option `{key}`; this source takes {}", known.join(", ")));
        }
        options.insert(key.to_string(), value.to_string());
    }
    Ok(options)
}

fn parse_sim(options: &str) -> Result<Source, String> {
    let mut seed = 0;
    let mut faults = String::new();
    // `faults=` takes the rest of the string, since a fault list itself contains commas and `=`.
    let (head, fault_list) = match options.find("faults=") {
        Some(at) => (&options[..at], Some(&options[at + "faults=".len()..])),
        None => (options, None),
    };
    for part in head.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("seed", value)) => seed = value.parse().map_err(|_| "seed must be a number".to_string())?,
            _ => {
                return Err(format!("unknown option `{part}`; sim takes seed=N and faults=LIST"));
            }
        }
    }
    // The list itself is checked where the board is built.
    if let Some(list) = fault_list {
        faults = list.to_string();
    }
    Ok(Source::Sim { seed, faults })
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Sim { seed: 0, faults } if faults.is_empty() => f.write_str("sim"),
            Source::Sim { seed, faults } if faults.is_empty() => write!(f, "sim:seed={seed}"),
            Source::Sim { seed, faults } => write!(f, "sim:seed={seed},faults={faults}"),
            Source::Serial { path, baud, format, lines } => {
                write!(f, "serial:{}", path.as_deref().unwrap_or("auto"))?;
                let mut options = Vec::new();
                if *baud != DEFAULT_BAUD {
                    options.push(format!("baud={baud}"));
                }
                if let Some(format) = format.option() {
                    options.push(format!("format={format}"));
                }
                for (name, state) in [("dtr", lines.dtr), ("rts", lines.rts)] {
                    if let Some(on) = state {
                        options.push(format!("{name}={}", if on { "on" } else { "off" }));
                    }
                }
                if !options.is_empty() {
                    write!(f, "?{}", options.join("&"))?;
                }
                Ok(())
            }
            Source::Tcp { address, format } => {
                write!(f, "tcp:{address}")?;
                if let Some(format) = format.option() {
                    write!(f, "?format={format}")?;
                }
                Ok(())
            }
            Source::Mqtt(url) => write!(f, "{url}"),
            Source::Coap(url) => write!(f, "{url}"),
            Source::Ble { device } => write!(f, "ble:{device}"),
            Source::Other { kind, target } => write!(f, "{kind}:{target}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms_and_prints_them_back() {
        for text in [
            "sim",
            "sim:seed=7",
            "sim:seed=7,faults=corrupt=0.01,late=20ms",
            "serial:/dev/ttyACM0",
            "serial:/dev/ttyACM0?baud=9600",
            "serial:/dev/ttyUSB0?baud=9600&format=plotter",
            "serial:/dev/ttyUSB0?format=csv",
            "serial:/dev/ttyUSB0?dtr=off&rts=off",
            "tcp:127.0.0.1:7000?format=text",
            "serial:auto",
            "tcp:127.0.0.1:7000",
            "ble:env-sensor",
            "ppk2:auto",
            "mqtt://127.0.0.1:1883/sensors/data/+/temperature",
            "mqtts://broker.example/sensors/#?qos=1&json=data.temp",
            "coap://127.0.0.1/temperature",
            "file:trace.btr",
        ] {
            let source = Source::parse(text).unwrap();
            assert_eq!(source.to_string(), text);
        }
        assert_eq!(
            Source::parse("serial:/dev/pts/5?baud=9600").unwrap(),
            Source::Serial {
                path: Some("/dev/pts/5".into()),
                baud: 9600,
                format: BoardFormat::Detect,
                lines: ControlLines::default()
            }
        );
    }

    #[test]
    fn bad_sources_say_what_is_wrong() {
        assert!(matches!(Source::parse("usb:3"), Err(SourceError::Unknown(_))));
        assert!(matches!(Source::parse("ble:"), Err(SourceError::Bad { .. })));
        assert_eq!(Source::parse("ble:AA:BB:CC:DD:EE:FF").unwrap(), Source::Ble { device: "AA:BB:CC:DD:EE:FF".into() });
        assert!(matches!(Source::parse("tcp:localhost"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("serial:/dev/x?baud=fast"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("sim:colour=red"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("serial:/dev/x?format=json"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("serial:/dev/x?parity=odd"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("serial:/dev/x?dtr=low"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("mqtt://127.0.0.1:1883"), Err(SourceError::Bad { .. })));
        assert!(matches!(Source::parse("coap://127.0.0.1/t?block=3"), Err(SourceError::Bad { .. })));
        let error = Source::parse("mqtt://u:hunter2@h:1883/t?qos=7").unwrap_err().to_string();
        assert!(error.contains("qos") && !error.contains("hunter2"), "{error}");
    }
}
