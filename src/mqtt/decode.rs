//! What a received message means: values to plot, a device's `online`/`offline` status, or nothing usable;
//! and threshold alerts on the values.
//!
//! Pure logic (no network). A payload is read as number text (`23.4`) by default, as JSON with a value picked
//! by a dotted path (`data.temp`, `readings.0`), or with an inspector layout, whose numeric fields each become
//! a channel `topic/field`. A topic with a `status` level followed by one last level
//! (`sensors/status/{device}`) carrying `online` or `offline` is a status, never a plotted value.

use std::collections::HashMap;
use std::path::Path;

use crate::inspect::field::Field;
use crate::inspect::layout::Layout;

use super::url::{AlertRule, MqttUrl};

/// How payloads are read.
#[derive(Debug, Clone)]
pub enum PayloadDecoding {
    /// Number text; a JSON number, or a JSON object's `value`, is taken too.
    Number,
    /// JSON, the value at this dotted path.
    JsonPath(String),
    /// Packed bytes described by an inspector layout.
    Layout(Box<Layout>),
}

impl PayloadDecoding {
    /// The decoding a source URL asks for; reads the layout file if it names one.
    pub fn from_url(url: &MqttUrl) -> Result<Self, String> {
        if let Some(path) = &url.json_path {
            return Ok(PayloadDecoding::JsonPath(path.clone()));
        }
        if let Some(path) = &url.layout {
            return load_layout(path).map(|layout| PayloadDecoding::Layout(Box::new(layout)));
        }
        Ok(PayloadDecoding::Number)
    }
}

fn load_layout(path: &Path) -> Result<Layout, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("could not read the layout ({e}); check the path in ?layout= — {}", path.display()))?;
    Layout::from_toml(&text).map_err(|e| format!("the layout {} is not valid: {e}", path.display()))
}

/// What one message means.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Channel names and values.
    Values(Vec<(String, f64)>),
    /// A device's status topic.
    Status {
        /// The topic's last level (the device id).
        device: String,
        /// `online` (true) or `offline`.
        online: bool,
    },
    /// Nothing could be read, and why.
    Unreadable(String),
}

/// Reads one message.
pub fn read(decoding: &PayloadDecoding, topic: &str, payload: &[u8]) -> Reading {
    if let Some(device) = status_device(topic) {
        match std::str::from_utf8(payload).map(str::trim) {
            Ok("online") => return Reading::Status { device: device.to_string(), online: true },
            Ok("offline") => return Reading::Status { device: device.to_string(), online: false },
            _ => {}
        }
    }
    match decoding {
        PayloadDecoding::Number => match number(payload) {
            Some(value) => Reading::Values(vec![(topic.to_string(), value)]),
            None => Reading::Unreadable(format!("{topic}: the payload is not a number ({})", preview(payload))),
        },
        PayloadDecoding::JsonPath(path) => match json_path(payload, path) {
            Ok(value) => Reading::Values(vec![(topic.to_string(), value)]),
            Err(reason) => Reading::Unreadable(format!("{topic}: {reason}")),
        },
        PayloadDecoding::Layout(layout) => {
            let decoded = layout.decode(payload);
            let mut values = Vec::new();
            for field in &decoded.fields {
                numeric_leaves(field, "", &mut |name, value| values.push((format!("{topic}/{name}"), value)));
            }
            if values.is_empty() {
                let why = decoded.warnings.first().cloned().unwrap_or_else(|| "no numeric field".into());
                Reading::Unreadable(format!("{topic}: the layout {} read nothing ({why})", layout.name))
            } else {
                Reading::Values(values)
            }
        }
    }
}

/// The device named by a status topic (`…/status/{device}`), if `topic` is one.
pub fn status_device(topic: &str) -> Option<&str> {
    let (rest, device) = topic.rsplit_once('/')?;
    let parent = rest.rsplit('/').next()?;
    (parent == "status" && !device.is_empty()).then_some(device)
}

pub(crate) fn number(payload: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if let Ok(value) = text.parse::<f64>() {
        return value.is_finite().then_some(value);
    }
    match serde_json::from_str::<serde_json::Value>(text).ok()? {
        serde_json::Value::Object(map) => map.get("value")?.as_f64(),
        other => other.as_f64(),
    }
}

fn json_path(payload: &[u8], path: &str) -> Result<f64, String> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("the payload is not JSON ({e}): {}", preview(payload)))?;
    let mut at = &value;
    for key in path.split('.').filter(|k| !k.is_empty()) {
        let next = match at {
            serde_json::Value::Object(map) => map.get(key),
            serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        at = next.ok_or_else(|| format!("the JSON has no `{path}` (stopped at `{key}`)"))?;
    }
    match at {
        serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| format!("`{path}` is not a finite number")),
        serde_json::Value::String(s) => {
            s.trim().parse().map_err(|_| format!("`{path}` is the text {s:?}, not a number"))
        }
        serde_json::Value::Bool(b) => Ok(f64::from(u8::from(*b))),
        other => Err(format!("`{path}` is {other}, not a number")),
    }
}

pub(crate) fn numeric_leaves(field: &Field, prefix: &str, out: &mut dyn FnMut(String, f64)) {
    let name = if prefix.is_empty() { field.name.clone() } else { format!("{prefix}.{}", field.name) };
    if field.children.is_empty() {
        if let Some(value) = field.value.as_f64() {
            out(name, value);
        }
    } else {
        for child in &field.children {
            numeric_leaves(child, &name, out);
        }
    }
}

fn preview(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(&payload[..payload.len().min(40)]).into_owned();
    if payload.len() > 40 { format!("{text:?}…") } else { format!("{text:?}") }
}

/// Threshold alerts that fire once when a value crosses into the alert range, and again only after it has
/// left it.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    rules: Vec<AlertRule>,
    /// (rule index, channel) → whether it is firing now.
    firing: HashMap<(usize, String), bool>,
}

/// An alert that has just fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The channel.
    pub channel: String,
    /// Its value.
    pub value: f64,
    /// The rule, as written (`temperature>30`).
    pub rule: String,
}

impl std::fmt::Display for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "alert: {} = {} ({})", self.channel, self.value, self.rule)
    }
}

impl Alerts {
    /// Alerts for these rules.
    pub fn new(rules: Vec<AlertRule>) -> Self {
        Self { rules, firing: HashMap::new() }
    }

    /// The rules.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// Checks a value; returns the alerts that start firing with it.
    pub fn check(&mut self, channel: &str, value: f64) -> Vec<Alert> {
        let mut fired = Vec::new();
        for (i, rule) in self.rules.iter().enumerate().filter(|(_, rule)| rule.watches(channel)) {
            let now = rule.fires(value);
            let before = self.firing.insert((i, channel.to_string()), now).unwrap_or(false);
            if now && !before {
                fired.push(Alert { channel: channel.to_string(), value, rule: rule.to_string() });
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_json_paths_and_statuses() {
        let number = PayloadDecoding::Number;
        assert_eq!(read(&number, "s/a/t", b" 23.4\n"), Reading::Values(vec![("s/a/t".into(), 23.4)]));
        assert_eq!(
            read(&number, "s/a/t", br#"{"value":1.5,"unit":"V"}"#),
            Reading::Values(vec![("s/a/t".into(), 1.5)])
        );
        assert!(matches!(read(&number, "s/a/t", b"warm"), Reading::Unreadable(_)));
        assert_eq!(
            read(&number, "sensors/status/00ab", b"offline"),
            Reading::Status { device: "00ab".into(), online: false }
        );
        let json = PayloadDecoding::JsonPath("data.temp".into());
        assert_eq!(read(&json, "x", br#"{"data":{"temp":"21.5"}}"#), Reading::Values(vec![("x".into(), 21.5)]));
        let Reading::Unreadable(why) = read(&json, "x", br#"{"data":{}}"#) else { panic!() };
        assert!(why.contains("data.temp"), "{why}");
        let indexed = PayloadDecoding::JsonPath("r.1".into());
        assert_eq!(read(&indexed, "x", br#"{"r":[1,2]}"#), Reading::Values(vec![("x".into(), 2.0)]));
    }

    #[test]
    fn a_layout_gives_a_channel_per_numeric_field() {
        let layout = Layout::from_toml(
            "name = \"t\"\nbyte_order = \"big\"\n[[fields]]\nname = \"temperature\"\ntype = \"i16\"\nscale = 0.01\n[[fields]]\nname = \"battery\"\ntype = \"u8\"\nscale = 0.1\n",
        )
        .unwrap();
        let decoding = PayloadDecoding::Layout(Box::new(layout));
        let Reading::Values(values) = read(&decoding, "dev/1", &[0x08, 0x66, 33]) else { panic!() };
        assert_eq!(values[0].0, "dev/1/temperature");
        assert!((values[0].1 - 21.5).abs() < 1e-9);
        assert_eq!(values[1].0, "dev/1/battery");
        assert!((values[1].1 - 3.3).abs() < 1e-9);
    }

    #[test]
    fn alerts_fire_once_per_crossing() {
        let mut alerts = Alerts::new(vec![AlertRule::parse("temperature>30").unwrap()]);
        assert!(alerts.check("s/a/temperature", 29.0).is_empty());
        assert_eq!(alerts.check("s/a/temperature", 31.0).len(), 1);
        assert!(alerts.check("s/a/temperature", 32.0).is_empty());
        assert!(alerts.check("s/a/temperature", 20.0).is_empty());
        assert_eq!(
            alerts.check("s/a/temperature", 35.0)[0].to_string(),
            "alert: s/a/temperature = 35 (temperature>30)"
        );
        assert!(alerts.check("s/a/humidity", 99.0).is_empty());
    }
}
