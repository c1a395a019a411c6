//! Broker addresses as one URL: `mqtt://[user[:password]@]host[:port][/topic-filter][?options]`, and
//! `mqtts://…` for TLS.
//!
//! The same string names a broker for the bridge (`--broker`) and an MQTT source (`mqtt://…/sensors/#`).
//! Parsing is pure (no network, no files read); paths in the options are checked when the connection is made.
//! The password is kept in a [`Password`] whose `Debug` prints `***`, and the URL's `Display` prints the
//! password as `***` too, so a URL can go into a log line, an error or a settings file without the secret.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::model::url_text::{percent_decode, percent_encode, split_host_port};

/// Default port of plain MQTT.
pub const DEFAULT_PORT: u16 = 1883;
/// Default port of MQTT over TLS.
pub const DEFAULT_TLS_PORT: u16 = 8883;
/// Default largest packet sent or received, bytes (rumqttc's own default, 10 kB, is small for JSON batches).
pub const DEFAULT_MAX_PACKET_BYTES: usize = 256 * 1024;

/// A broker URL that could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("bad MQTT URL `{url}`: {reason}")]
pub struct UrlError {
    /// The URL, password shown as `***`.
    pub url: String,
    /// What is wrong, and how to write it.
    pub reason: String,
}

/// A password: never printed by `Debug`, never part of a URL's `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The password itself, for the CONNECT packet only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Password {
    type Err = std::convert::Infallible;

    /// Any text is a password (for `--password`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Password::new(text))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Quality of service of a publish or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Qos {
    /// QoS 0: sent once, may be lost.
    #[default]
    AtMostOnce,
    /// QoS 1: acknowledged, may arrive twice.
    AtLeastOnce,
    /// QoS 2: exactly once (a four-packet handshake).
    ExactlyOnce,
}

impl Qos {
    /// From 0, 1 or 2.
    pub fn from_level(level: u8) -> Option<Self> {
        match level {
            0 => Some(Qos::AtMostOnce),
            1 => Some(Qos::AtLeastOnce),
            2 => Some(Qos::ExactlyOnce),
            _ => None,
        }
    }

    /// 0, 1 or 2.
    pub fn level(self) -> u8 {
        self as u8
    }
}

/// Protocol version spoken to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MqttVersion {
    /// MQTT 3.1.1 (protocol level 4), what every broker speaks.
    #[default]
    V3_1_1,
    /// MQTT 5.
    V5,
}

impl MqttVersion {
    /// Parses `3.1.1`, `3`, `4`, `5` or `5.0`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "3.1.1" | "3" | "4" | "311" => Some(MqttVersion::V3_1_1),
            "5" | "5.0" => Some(MqttVersion::V5),
            _ => None,
        }
    }

    /// `3.1.1` or `5`.
    pub fn as_str(self) -> &'static str {
        match self {
            MqttVersion::V3_1_1 => "3.1.1",
            MqttVersion::V5 => "5",
        }
    }
}

/// A threshold rule on a decoded value: `temperature>30`, `battery<=3.3`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// The channel it watches: a whole channel name (`sensors/a/temperature`) or its last segment
    /// (`temperature`).
    pub channel: String,
    /// How the value is compared.
    pub comparison: Comparison,
    /// The threshold, in the channel's unit.
    pub threshold: f64,
}

/// How an [`AlertRule`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>`
    Above,
    /// `>=`
    AtLeast,
    /// `<`
    Below,
    /// `<=`
    AtMost,
}

impl Comparison {
    fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
        }
    }
}

// Thresholds are always finite (parsing refuses NaN and infinities), so equality is an equivalence.
impl Eq for AlertRule {}

impl Eq for MqttUrl {}

impl AlertRule {
    /// Parses `NAME>VALUE` (also `>=`, `<`, `<=`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("alert `{text}` should look like temperature>30 (>, >=, < or <=)");
        let at = text.find(['<', '>']).ok_or_else(bad)?;
        let (channel, rest) = text.split_at(at);
        let (comparison, number) = match rest {
            r if r.starts_with(">=") => (Comparison::AtLeast, &r[2..]),
            r if r.starts_with("<=") => (Comparison::AtMost, &r[2..]),
            r if r.starts_with('>') => (Comparison::Above, &r[1..]),
            r => (Comparison::Below, &r[1..]),
        };
        let threshold: f64 = number.trim().parse().map_err(|_| bad())?;
        if channel.trim().is_empty() || !threshold.is_finite() {
            return Err(bad());
        }
        Ok(Self { channel: channel.trim().to_string(), comparison, threshold })
    }

    /// Whether the rule watches `channel`.
    pub fn watches(&self, channel: &str) -> bool {
        channel == self.channel || channel.rsplit('/').next() == Some(self.channel.as_str())
    }

    /// Whether `value` is past the threshold.
    pub fn fires(&self, value: f64) -> bool {
        match self.comparison {
            Comparison::Above => value > self.threshold,
            Comparison::AtLeast => value >= self.threshold,
            Comparison::Below => value < self.threshold,
            Comparison::AtMost => value <= self.threshold,
        }
    }
}

impl fmt::Display for AlertRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.channel, self.comparison.symbol(), self.threshold)
    }
}

/// A broker and, for a source, what to subscribe to and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttUrl {
    /// `mqtts://`: TLS, with the server's certificate verified.
    pub tls: bool,
    /// Host name or address (without brackets for IPv6).
    pub host: String,
    /// Port as written; [`MqttUrl::port`] gives the default when absent.
    pub port_given: Option<u16>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<Password>,
    /// Topic filter (the path), for a source; `None` for a bare broker address.
    pub topic_filter: Option<String>,
    /// Subscription QoS for a source (`?qos=`), default 0.
    pub qos: Qos,
    /// Client id (`?client_id=`); one is made up when absent.
    pub client_id: Option<String>,
    /// Clean (`true`, default) or persistent session (`?clean=false`).
    pub clean_session: bool,
    /// Protocol version (`?version=3.1.1|5`).
    pub version: MqttVersion,
    /// CA certificate file (PEM) to verify the broker with, instead of the system's roots (`?ca=`).
    pub ca: Option<PathBuf>,
    /// Client certificate file (PEM), with `key` (`?cert=`).
    pub cert: Option<PathBuf>,
    /// Client private key file (PEM), with `cert` (`?key=`).
    pub key: Option<PathBuf>,
    /// Largest packet sent or received, bytes (`?max_packet=`).
    pub max_packet_bytes: usize,
    /// Source only: read payloads as JSON and take the value at this dotted path (`?json=data.temp`).
    pub json_path: Option<String>,
    /// Source only: read payloads with this inspector layout (`?layout=FILE.toml`).
    pub layout: Option<PathBuf>,
    /// Source only: threshold alerts (`?alert=temperature>30`, repeatable or comma-separated).
    pub alerts: Vec<AlertRule>,
}

/// Options a URL takes.
const OPTIONS: &[&str] =
    &["qos", "client_id", "clean", "version", "ca", "cert", "key", "max_packet", "json", "layout", "alert"];

impl MqttUrl {
    /// A plain broker address with every option at its default.
    pub fn broker(host: impl Into<String>, port: u16) -> Self {
        Self {
            tls: false,
            host: host.into(),
            port_given: Some(port),
            user: None,
            password: None,
            topic_filter: None,
            qos: Qos::AtMostOnce,
            client_id: None,
            clean_session: true,
            version: MqttVersion::V3_1_1,
            ca: None,
            cert: None,
            key: None,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            json_path: None,
            layout: None,
            alerts: Vec::new(),
        }
    }

    /// The port, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port_given.unwrap_or(if self.tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port())
        } else {
            format!("{}:{}", self.host, self.port())
        }
    }

    /// Parses a URL; the error shows the URL with its password hidden.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let text = text.trim();
        let bad = |reason: String| UrlError { url: redact(text), reason };
        let (tls, rest) = if let Some(rest) = text.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(bad("it should start with mqtt:// (or mqtts:// for TLS)".into()));
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let mut url = MqttUrl::broker(String::new(), 0);
        url.tls = tls;
        url.port_given = None;
        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            url.user = Some(percent_decode(user).map_err(&bad)?);
            url.password = password.map(percent_decode).transpose().map_err(&bad)?.map(Password::new);
        }
        let (host, port) = split_host_port(hostport, "mqtt://127.0.0.1:1883").map_err(&bad)?;
        url.host = host;
        url.port_given = port;
        url.topic_filter = path.filter(|p| !p.is_empty()).map(str::to_string);
        if let Some(filter) = &url.topic_filter {
            check_filter(filter).map_err(&bad)?;
        }
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| bad(format!("option `{part}` needs a value")))?;
            let value = percent_decode(value).map_err(&bad)?;
            match key {
                "qos" => {
                    url.qos = value
                        .parse()
                        .ok()
                        .and_then(Qos::from_level)
                        .ok_or_else(|| bad(format!("qos must be 0, 1 or 2, not `{value}`")))?;
                }
                "client_id" => url.client_id = Some(value),
                "clean" => {
                    url.clean_session = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad(format!("clean must be true or false, not `{value}`"))),
                    }
                }
                "version" => {
                    url.version = MqttVersion::parse(&value)
                        .ok_or_else(|| bad(format!("version must be 3.1.1 or 5, not `{value}`")))?;
                }
                "ca" => url.ca = Some(PathBuf::from(value)),
                "cert" => url.cert = Some(PathBuf::from(value)),
                "key" => url.key = Some(PathBuf::from(value)),
                "max_packet" => {
                    url.max_packet_bytes =
                        value.parse().ok().filter(|&n: &usize| (64..=268_435_455).contains(&n)).ok_or_else(|| {
                            bad(format!("max_packet must be a size in bytes from 64 to 268435455, not `{value}`"))
                        })?;
                }
                "json" => url.json_path = Some(value),
                "layout" => url.layout = Some(PathBuf::from(value)),
                "alert" => {
                    for rule in value.split(',').filter(|r| !r.trim().is_empty()) {
                        url.alerts.push(AlertRule::parse(rule).map_err(&bad)?);
                    }
                }
                other => {
                    return Err(bad(format!("unknown option `{other}`; an MQTT URL takes {}", OPTIONS.join(", "))));
                }
            }
        }
        if url.cert.is_some() != url.key.is_some() {
            return Err(bad("a client certificate needs both cert= and key=".into()));
        }
        if !tls && (url.ca.is_some() || url.cert.is_some()) {
            return Err(bad("ca=, cert= and key= are for TLS: write mqtts:// instead of mqtt://".into()));
        }
        if url.json_path.is_some() && url.layout.is_some() {
            return Err(bad("choose one payload decoding: json= or layout=, not both".into()));
        }
        Ok(url)
    }
}

impl fmt::Display for MqttUrl {
    /// The URL with its password as `***`; options at their defaults are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", if self.tls { "mqtts" } else { "mqtt" })?;
        if let Some(user) = &self.user {
            write!(f, "{}", percent_encode(user))?;
            if self.password.is_some() {
                f.write_str(":***")?;
            }
            f.write_str("@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port_given {
            write!(f, ":{port}")?;
        }
        if let Some(filter) = &self.topic_filter {
            write!(f, "/{filter}")?;
        }
        let mut options = Vec::new();
        if self.qos != Qos::AtMostOnce {
            options.push(format!("qos={}", self.qos.level()));
        }
        if let Some(id) = &self.client_id {
            options.push(format!("client_id={}", percent_encode(id)));
        }
        if !self.clean_session {
            options.push("clean=false".into());
        }
        if self.version != MqttVersion::V3_1_1 {
            options.push(format!("version={}", self.version.as_str()));
        }
        for (name, path) in [("ca", &self.ca), ("cert", &self.cert), ("key", &self.key)] {
            if let Some(path) = path {
                options.push(format!("{name}={}", percent_encode(&path.display().to_string())));
            }
        }
        if self.max_packet_bytes != DEFAULT_MAX_PACKET_BYTES {
            options.push(format!("max_packet={}", self.max_packet_bytes));
        }
        if let Some(path) = &self.json_path {
            options.push(format!("json={}", percent_encode(path)));
        }
        if let Some(path) = &self.layout {
            options.push(format!("layout={}", percent_encode(&path.display().to_string())));
        }
        for rule in &self.alerts {
            options.push(format!("alert={}", percent_encode(&rule.to_string())));
        }
        if !options.is_empty() {
            write!(f, "?{}", options.join("&"))?;
        }
        Ok(())
    }
}

/// A URL-like string with any password replaced by `***`, for messages about text that did not parse.
pub fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else { return text.to_string() };
    let after = &text[scheme_end + 3..];
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let authority = &after[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => {
                format!("{}{user}:***@{host}{}", &text[..scheme_end + 3], &after[authority_end..])
            }
            None => text.to_string(),
        },
        None => text.to_string(),
    }
}

/// Checks a topic filter: `+` and `#` stand alone in their level, `#` only last.
pub fn check_filter(filter: &str) -> Result<(), String> {
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(format!("in topic filter `{filter}`, # must be a whole level and the last one"));
        }
        if level.contains('+') && *level != "+" {
            return Err(format!("in topic filter `{filter}`, + must be a whole level (sensors/+/temperature)"));
        }
    }
    Ok(())
}

/// Whether `topic` matches `filter` (MQTT wildcard rules; `$`-topics only match filters that name them).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match level {
            "#" => return true,
            "+" => {
                if topic_levels.next().is_none() {
                    return false;
                }
            }
            exact => {
                if topic_levels.next() != Some(exact) {
                    return false;
                }
            }
        }
    }
    topic_levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_part_and_prints_it_back_without_the_password() {
        let url = MqttUrl::parse(
            "mqtts://ann:s%40cret@broker.example:8884/sensors/+/temp?qos=2&client_id=bench-1&clean=false&version=5&ca=/etc/ca.pem&max_packet=4096&json=data.temp&alert=temp%3E30",
        )
        .unwrap();
        assert!(url.tls);
        assert_eq!(url.host, "broker.example");
        assert_eq!(url.port(), 8884);
        assert_eq!(url.user.as_deref(), Some("ann"));
        assert_eq!(url.password.as_ref().unwrap().expose(), "s@cret");
        assert_eq!(url.topic_filter.as_deref(), Some("sensors/+/temp"));
        assert_eq!(url.qos, Qos::ExactlyOnce);
        assert!(!url.clean_session);
        assert_eq!(url.version, MqttVersion::V5);
        assert_eq!(url.max_packet_bytes, 4096);
        assert_eq!(url.json_path.as_deref(), Some("data.temp"));
        assert_eq!(url.alerts, vec![AlertRule::parse("temp>30").unwrap()]);
        let shown = url.to_string();
        assert!(!shown.contains("s@cret") && !shown.contains("s%40cret"), "{shown}");
        assert!(shown.starts_with("mqtts://ann:***@broker.example:8884/sensors/+/temp?qos=2"), "{shown}");
        assert!(!format!("{url:?}").contains("cret"));
        assert_eq!(format!("{:?}", "x".parse::<Password>().unwrap()), "***");
    }

    #[test]
    fn defaults_and_round_trip() {
        for text in ["mqtt://127.0.0.1:1883/sensors/data/+/temperature", "mqtt://localhost", "mqtt://[::1]:1883/#"] {
            assert_eq!(MqttUrl::parse(text).unwrap().to_string(), text);
        }
        let url = MqttUrl::parse("mqtts://h").unwrap();
        assert_eq!(url.port(), DEFAULT_TLS_PORT);
        assert_eq!(MqttUrl::parse("mqtt://h").unwrap().port(), DEFAULT_PORT);
        assert!(url.clean_session);
    }

    #[test]
    fn bad_urls_say_what_is_wrong_and_hide_the_password() {
        for (text, says) in [
            ("http://h", "mqtt://"),
            ("mqtt://:1883", "host"),
            ("mqtt://h:99999", "port"),
            ("mqtt://h?qos=3", "qos"),
            ("mqtt://h?ca=x.pem", "mqtts://"),
            ("mqtts://h?cert=c.pem", "both"),
            ("mqtt://h/a/#/b", "#"),
            ("mqtt://h/a+/b", "+"),
            ("mqtt://h?colour=red", "unknown option"),
            ("mqtt://u:hunter2@h?alert=x", "alert"),
        ] {
            let error = MqttUrl::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn redacts_passwords_in_any_url_like_text() {
        assert_eq!(redact("mqtt://u:pw@h:1/t?x=1"), "mqtt://u:***@h:1/t?x=1");
        assert_eq!(redact("mqtt://h:1/t"), "mqtt://h:1/t");
        assert_eq!(redact("mqtt://u@h"), "mqtt://u@h");
    }

    #[test]
    fn wildcards_match_as_mqtt_says() {
        assert!(filter_matches("sensors/#", "sensors/a/b"));
        assert!(filter_matches("sensors/#", "sensors"));
        assert!(filter_matches("sensors/+/t", "sensors/a/t"));
        assert!(!filter_matches("sensors/+/t", "sensors/a/b/t"));
        assert!(!filter_matches("sensors/+", "sensors"));
        assert!(!filter_matches("#", "$SYS/load"));
    }

    #[test]
    fn alert_rules() {
        let rule = AlertRule::parse("temperature>=30").unwrap();
        assert!(rule.watches("sensors/data/abc/temperature"));
        assert!(!rule.watches("sensors/data/abc/humidity"));
        assert!(rule.fires(30.0) && !rule.fires(29.9));
        assert!(AlertRule::parse("battery<3.3").unwrap().fires(3.2));
        assert!(AlertRule::parse(">3").is_err());
        assert!(AlertRule::parse("x>").is_err());
    }
}
