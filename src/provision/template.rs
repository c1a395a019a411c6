//! Provisioning templates: a TOML file saying what every device on a line gets.
//!
//! A template names the JoinEUI, where DevEUIs come from (the device's own 64-bit id, or an allocated block
//! `start..end`), that AppKeys are generated per device, the reporting interval (and optionally adaptive
//! reporting and MQTT credentials), the station and operator, and which USB serial devices a watching station
//! takes. Every problem is reported with the line it is on and what to write instead; nothing is written to a
//! device or a ledger from a template that did not load. `assets/templates/line-eu868.toml` is a worked example.

use std::path::Path;

use firmware_protocol::config::{AdaptiveReporting, MAX_INTERVAL_SECS, MAX_MQTT_FIELD_LEN, ReportingConfig};
use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use super::keys::{Eui64, parse_hex_exact};
use super::ledger::DevEuiSource;
use super::record::NetworkProfile;

/// A template that could not be loaded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("could not read the template {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A problem at a line.
    #[error("template line {line}: {reason}")]
    Invalid {
        /// 1-based line.
        line: usize,
        /// What is wrong and what to write instead.
        reason: String,
    },
}

/// Where each device's DevEUI comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevEuiRule {
    /// The device's 64-bit factory id, most significant byte first.
    DeviceId,
    /// The next unused EUI of an allocated block (inclusive bounds).
    Block {
        /// First EUI.
        start: Eui64,
        /// Last EUI.
        end: Eui64,
    },
}

impl DevEuiRule {
    /// What to ask the ledger for, for a device with this id.
    pub fn source_for(&self, device_id: u64) -> DevEuiSource {
        match self {
            DevEuiRule::DeviceId => DevEuiSource::Fixed(Eui64::from_u64(device_id)),
            DevEuiRule::Block { start, end } => DevEuiSource::Block { start: *start, end: *end },
        }
    }
}

/// MQTT settings; `{dev_eui}` and `{device_id}` in the client id and user are replaced per device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttTemplate {
    /// Client id pattern.
    pub client_id: String,
    /// User name pattern.
    pub user: String,
    /// Length of the password generated per device; `None` writes an empty password.
    pub password_length: Option<usize>,
}

impl MqttTemplate {
    /// Fills the placeholders of `pattern` for one device.
    pub fn fill(pattern: &str, dev_eui: Eui64, device_id: u64) -> String {
        pattern
            .replace("{dev_eui}", &dev_eui.to_string().to_lowercase())
            .replace("{device_id}", &format!("{device_id:016x}"))
    }
}

/// A loaded template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The template's name.
    pub name: String,
    /// The station, unless the command line names another.
    pub station: String,
    /// The operator, unless the command line names another.
    pub operator: String,
    /// JoinEUI.
    pub join_eui: Eui64,
    /// DevEUI rule.
    pub dev_eui: DevEuiRule,
    /// Network settings kept with each ledger row.
    pub network: NetworkProfile,
    /// Fixed reporting interval.
    pub reporting: ReportingConfig,
    /// Adaptive reporting, when the template sets it.
    pub adaptive: Option<AdaptiveReporting>,
    /// MQTT credentials, when the template sets them.
    pub mqtt: Option<MqttTemplate>,
    /// USB ids (`vid:pid`, lowercase hex) a watching station takes; empty takes every USB serial device.
    pub watch_usb: Vec<String>,
    /// Baud rate of the devices' serial ports.
    pub baud: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: Option<Spanned<String>>,
    station: Option<Spanned<String>>,
    operator: Option<Spanned<String>>,
    lorawan: Option<Spanned<RawLoraWan>>,
    reporting: Option<Spanned<RawReporting>>,
    adaptive: Option<Spanned<RawAdaptive>>,
    mqtt: Option<Spanned<RawMqtt>>,
    watch: Option<Spanned<RawWatch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoraWan {
    join_eui: Option<Spanned<String>>,
    dev_eui: Option<Spanned<RawDevEui>>,
    app_key: Option<Spanned<String>>,
    mac_version: Option<Spanned<String>>,
    phy_version: Option<Spanned<String>>,
    frequency_plan_id: Option<Spanned<String>>,
    tr005_profile_id: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDevEui {
    Rule(String),
    Block { block: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReporting {
    interval_s: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdaptive {
    enabled: Option<bool>,
    base_interval_s: Option<Spanned<i64>>,
    min_interval_s: Option<Spanned<i64>>,
    max_interval_s: Option<Spanned<i64>>,
    change_threshold: Option<Spanned<f64>>,
    low_battery_stretch_percent: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMqtt {
    client_id: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    password_length: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    usb: Option<Vec<Spanned<String>>>,
    baud: Option<Spanned<i64>>,
}

struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn line(&self, byte_offset: usize) -> usize {
        crate::model::text_position::line_at(self.0, byte_offset)
    }

    fn at<T>(&self, spanned: &Spanned<T>, reason: impl Into<String>) -> TemplateError {
        TemplateError::Invalid { line: self.line(spanned.span().start), reason: reason.into() }
    }

    fn missing(&self, within: Option<std::ops::Range<usize>>, reason: impl Into<String>) -> TemplateError {
        let line = within.map_or(1, |span| self.line(span.start));
        TemplateError::Invalid { line, reason: reason.into() }
    }
}

impl Template {
    /// Reads and checks a template file.
    pub fn load(path: &Path) -> Result<Template, TemplateError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TemplateError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        Template::parse(&text)
    }

    /// Checks a template's text.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let lines = Lines(text);
        let raw: RawTemplate = toml::from_str(text).map_err(|error| TemplateError::Invalid {
            line: error.span().map_or(1, |span| lines.line(span.start)),
            reason: error.message().to_string(),
        })?;
        let text_field = |field: Option<Spanned<String>>, default: &str| -> String {
            field.map_or_else(|| default.to_string(), Spanned::into_inner)
        };
        let name = text_field(raw.name, "template");
        let station = text_field(raw.station, "");
        let operator = text_field(raw.operator, "");

        let lorawan_span = raw.lorawan.as_ref().map(Spanned::span);
        let Some(lorawan) = raw.lorawan.map(Spanned::into_inner) else {
            return Err(lines.missing(None, "no [lorawan] table; give join_eui, dev_eui and app_key = \"generate\""));
        };
        let join_eui = match &lorawan.join_eui {
            Some(text) => Eui64::parse_join_eui(text.get_ref()).map_err(|e| lines.at(text, e.to_string()))?,
            None => return Err(lines.missing(lorawan_span, "[lorawan] needs join_eui = \"<16 hex digits>\"")),
        };
        let dev_eui = match &lorawan.dev_eui {
            Some(rule) => parse_dev_eui_rule(&lines, rule)?,
            None => {
                return Err(lines.missing(
                    lorawan_span,
                    "[lorawan] needs dev_eui = \"device-id\" or dev_eui = { block = \"START..END\" }",
                ));
            }
        };
        match &lorawan.app_key {
            Some(key) if key.get_ref() == "generate" => {}
            Some(key) => {
                return Err(lines.at(
                    key,
                    "app_key must be \"generate\": every device gets its own key from the OS random source; a key \
                     written in a template would be shared by every device",
                ));
            }
            None => return Err(lines.missing(lorawan_span, "[lorawan] needs app_key = \"generate\"")),
        }
        let profile_id = text_field(lorawan.tr005_profile_id.clone(), "00000000");
        if let Some(spanned) = &lorawan.tr005_profile_id {
            parse_hex_exact::<4>("tr005_profile_id", spanned.get_ref())
                .map_err(|e| lines.at(spanned, e.to_string()))?;
        }
        let network = NetworkProfile {
            mac_version: text_field(lorawan.mac_version, "MAC_V1_0_4"),
            phy_version: text_field(lorawan.phy_version, "RP002_V1_0_3"),
            frequency_plan_id: text_field(lorawan.frequency_plan_id, "EU_863_870_TTN"),
            tr005_profile_id: profile_id.to_uppercase(),
        };

        let reporting = match raw.reporting {
            Some(reporting) => {
                let span = reporting.span();
                match &reporting.get_ref().interval_s {
                    Some(secs) => ReportingConfig { interval_secs: interval(&lines, secs, "interval_s")? },
                    None => return Err(lines.missing(Some(span), "[reporting] needs interval_s = <seconds>")),
                }
            }
            None => return Err(lines.missing(None, "no [reporting] table; give interval_s = <seconds>")),
        };
        let adaptive = raw.adaptive.map(|a| parse_adaptive(&lines, a, reporting.interval_secs)).transpose()?;
        let mqtt = raw.mqtt.map(|m| parse_mqtt(&lines, m)).transpose()?;
        let (watch_usb, baud) = match raw.watch {
            Some(watch) => parse_watch(&lines, watch.into_inner())?,
            None => (Vec::new(), crate::model::source::DEFAULT_BAUD),
        };
        Ok(Template { name, station, operator, join_eui, dev_eui, network, reporting, adaptive, mqtt, watch_usb, baud })
    }
}

fn parse_dev_eui_rule(lines: &Lines<'_>, rule: &Spanned<RawDevEui>) -> Result<DevEuiRule, TemplateError> {
    match rule.get_ref() {
        RawDevEui::Rule(text) if text == "device-id" => Ok(DevEuiRule::DeviceId),
        RawDevEui::Rule(other) => Err(lines.at(
            rule,
            format!("dev_eui \"{other}\" is not a rule; write \"device-id\" or {{ block = \"START..END\" }}"),
        )),
        RawDevEui::Block { block } => {
            let Some((start, end)) = block.split_once("..") else {
                return Err(lines.at(rule, "a DevEUI block is written \"70B3D57ED0001000..70B3D57ED00013FF\""));
            };
            let start = Eui64::parse_dev_eui(start).map_err(|e| lines.at(rule, format!("block start: {e}")))?;
            let end = Eui64::parse_dev_eui(end).map_err(|e| lines.at(rule, format!("block end: {e}")))?;
            if end < start {
                return Err(lines.at(rule, format!("the block ends ({end}) before it starts ({start})")));
            }
            Ok(DevEuiRule::Block { start, end })
        }
    }
}

fn interval(lines: &Lines<'_>, secs: &Spanned<i64>, name: &str) -> Result<u32, TemplateError> {
    let value = *secs.get_ref();
    if (1..=i64::from(MAX_INTERVAL_SECS)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(lines.at(secs, format!("{name} = {value} is outside 1 ..= {MAX_INTERVAL_SECS} seconds (one week)")))
    }
}

fn parse_adaptive(
    lines: &Lines<'_>,
    raw: Spanned<RawAdaptive>,
    interval_secs: u32,
) -> Result<AdaptiveReporting, TemplateError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let pick = |field: &Option<Spanned<i64>>, name: &str, default: u32| -> Result<u32, TemplateError> {
        field.as_ref().map_or(Ok(default), |secs| interval(lines, secs, name))
    };
    let base = pick(&raw.base_interval_s, "base_interval_s", interval_secs)?;
    let min = pick(&raw.min_interval_s, "min_interval_s", (base / 6).max(1))?;
    let max = pick(&raw.max_interval_s, "max_interval_s", (base.saturating_mul(12)).min(MAX_INTERVAL_SECS))?;
    let threshold = match &raw.change_threshold {
        Some(t) if t.get_ref().is_finite() && *t.get_ref() >= 0.0 && *t.get_ref() < 4.0e6 => {
            (t.get_ref() * 1000.0).round() as u32
        }
        Some(t) => return Err(lines.at(t, "change_threshold must be a non-negative number below 4e6")),
        None => 500,
    };
    let stretch = match &raw.low_battery_stretch_percent {
        Some(p) if (100..=1000).contains(p.get_ref()) => *p.get_ref() as u16,
        Some(p) => return Err(lines.at(p, "low_battery_stretch_percent must be 100 ..= 1000")),
        None => 200,
    };
    let adaptive = AdaptiveReporting {
        enabled: raw.enabled.unwrap_or(true),
        base_interval_secs: base,
        min_interval_secs: min,
        max_interval_secs: max,
        change_threshold_milli: threshold,
        low_battery_stretch_percent: stretch,
    };
    adaptive.validate().map_err(|field| {
        lines.missing(Some(span), format!("[adaptive] {field:?}: intervals must satisfy min ≤ base ≤ max"))
    })?;
    Ok(adaptive)
}

fn parse_mqtt(lines: &Lines<'_>, raw: Spanned<RawMqtt>) -> Result<MqttTemplate, TemplateError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let client_id = raw.client_id.map_or_else(|| "{dev_eui}".to_string(), Spanned::into_inner);
    if client_id.is_empty() || !client_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(lines.missing(Some(span), "[mqtt] client_id must be printable ASCII without spaces"));
    }
    // The longest fill of a placeholder is 16 characters.
    if client_id.replace("{dev_eui}", "0123456789abcdef").replace("{device_id}", "0123456789abcdef").len()
        > MAX_MQTT_FIELD_LEN
    {
        return Err(lines.missing(Some(span), format!("[mqtt] client_id is longer than {MAX_MQTT_FIELD_LEN} bytes")));
    }
    let user = raw.user.map_or_else(String::new, Spanned::into_inner);
    if user.len() > MAX_MQTT_FIELD_LEN || user.chars().any(char::is_control) {
        return Err(lines.missing(Some(span), "[mqtt] user must be at most 64 bytes without control characters"));
    }
    let password_length = match (&raw.password, &raw.password_length) {
        (Some(p), _) if p.get_ref() == "none" => None,
        (Some(p), length) if p.get_ref() == "generate" => Some(match length {
            Some(l) if (12..=MAX_MQTT_FIELD_LEN as i64).contains(l.get_ref()) => *l.get_ref() as usize,
            Some(l) => return Err(lines.at(l, "password_length must be 12 ..= 64 characters")),
            None => 24,
        }),
        (Some(p), _) => {
            return Err(lines.at(
                p,
                "password must be \"generate\" (a password per device) or \"none\"; a password written in a \
                 template would be shared by every device",
            ));
        }
        (None, _) => return Err(lines.missing(Some(span), "[mqtt] needs password = \"generate\" or \"none\"")),
    };
    Ok(MqttTemplate { client_id, user, password_length })
}

fn parse_watch(lines: &Lines<'_>, raw: RawWatch) -> Result<(Vec<String>, u32), TemplateError> {
    let mut usb = Vec::new();
    for id in raw.usb.unwrap_or_default() {
        let text = id.get_ref().to_lowercase();
        let valid = text.split_once(':').is_some_and(|(vid, pid)| {
            vid.len() == 4
                && pid.len() == 4
                && u16::from_str_radix(vid, 16).is_ok()
                && u16::from_str_radix(pid, 16).is_ok()
        });
        if !valid {
            return Err(
                lines.at(&id, format!("\"{}\" is not a USB id; write \"1915:520f\" (vid:pid in hex)", id.get_ref()))
            );
        }
        usb.push(text);
    }
    let baud = match raw.baud {
        Some(b) if (300..=12_000_000).contains(b.get_ref()) => *b.get_ref() as u32,
        Some(b) => return Err(lines.at(&b, "baud must be 300 ..= 12000000")),
        None => crate::model::source::DEFAULT_BAUD,
    };
    Ok((usb, baud))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../assets/templates/line-eu868.toml");

    #[test]
    fn the_example_template_loads() {
        let t = Template::parse(EXAMPLE).unwrap();
        assert_eq!(t.join_eui.to_string(), "70B3D57ED0000010");
        assert_eq!(
            t.dev_eui,
            DevEuiRule::Block {
                start: Eui64::parse_dev_eui("70B3D57ED0001000").unwrap(),
                end: Eui64::parse_dev_eui("70B3D57ED00013FF").unwrap()
            }
        );
        assert_eq!(t.reporting.interval_secs, 300);
        assert_eq!(t.network.tr005_profile_id, "000AF8BE");
        assert_eq!(t.mqtt.as_ref().unwrap().password_length, Some(24));
        assert_eq!(t.watch_usb, vec!["1915:520f".to_string()]);
        assert_eq!(t.adaptive.unwrap().min_interval_secs, 60);
    }

    fn error_of(text: &str) -> (usize, String) {
        match Template::parse(text).unwrap_err() {
            TemplateError::Invalid { line, reason } => (line, reason),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn problems_name_their_line() {
        let base = "[lorawan]\njoin_eui = \"70B3D57ED0000010\"\ndev_eui = \"device-id\"\napp_key = \"generate\"\n\
                    [reporting]\ninterval_s = 60\n";
        assert!(Template::parse(base).is_ok());
        let (line, reason) = error_of(&base.replace("70B3D57ED0000010", "70B3D57ED00000"));
        assert_eq!(line, 2, "{reason}");
        assert!(reason.contains("16 hex digits"), "{reason}");
        let (line, reason) = error_of(&base.replace("\"generate\"", "\"2B7E151628AED2A6ABF7158809CF4F3C\""));
        assert_eq!(line, 4);
        assert!(reason.contains("generate") && !reason.contains("2B7E"), "{reason}");
        let (line, _) = error_of(&base.replace("interval_s = 60", "interval_s = 0"));
        assert_eq!(line, 6);
        let (line, reason) =
            error_of(&base.replace("\"device-id\"", "{ block = \"70B3D57ED0001000..70B3D57ED0000FFF\" }"));
        assert_eq!(line, 3);
        assert!(reason.contains("before it starts"), "{reason}");
        let (line, reason) = error_of(&format!("{base}colour = \"red\"\n"));
        assert_eq!(line, 7, "{reason}");
        let (_, reason) = error_of("[reporting]\ninterval_s = 60\n");
        assert!(reason.contains("[lorawan]"), "{reason}");
        let (line, reason) = error_of(&format!("{base}[mqtt]\npassword = \"hunter2\"\n"));
        assert_eq!(line, 8);
        assert!(!reason.contains("hunter2"), "{reason}");
    }

    #[test]
    fn placeholders_fill_per_device() {
        let eui = Eui64::parse_dev_eui("70B3D57ED0001000").unwrap();
        assert_eq!(MqttTemplate::fill("env-{dev_eui}", eui, 0xAB), "env-70b3d57ed0001000");
        assert_eq!(MqttTemplate::fill("{device_id}", eui, 0xAB), "00000000000000ab");
    }
}
