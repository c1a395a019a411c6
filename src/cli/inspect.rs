//! `benchtop inspect`: every byte of a payload explained — decoded with a layout file or a built-in format,
//! printed as an indented field tree and a LoRaWAN cost table (or `--json`) — and `--encode` to turn values
//! into bytes with a layout. Protocol frames decode against `firmware-protocol`'s messages and, with
//! `--device SOURCE` or `--schema FILE`, against the schema report of any postcard-rpc device. The decoding
//! itself is in [`crate::inspect`]; this file only reads the input (and the report) and formats the result.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use postcard_rpc::host_client::SchemaReport;
use serde::Serialize;

use crate::inspect::cost::Cost;
use crate::inspect::input::{parse_base64, parse_hex, to_hex};
use crate::inspect::layout::Layout;
use crate::inspect::mqtt::{self, MqttVersion};
use crate::inspect::{Decoded, FORMAT_NAMES, Field, InspectError, decode_format};
use crate::io::{Session, SessionOptions};
use crate::model::source::Source;

/// Bytes of a field shown in hex before the rest is elided.
const MAX_HEX_BYTES_SHOWN: usize = 12;

/// Options of `benchtop inspect`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("payload").args(["hex", "base64", "file"])))]
#[command(group(ArgGroup::new("decoder").required(true).args(["layout", "format"])))]
pub struct InspectArgs {
    /// The payload as hex (spaces, colons and 0x prefixes allowed).
    #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
    pub hex: Option<String>,
    /// The payload as base64 (standard or URL-safe).
    #[arg(long = "base64", value_name = "B64")]
    pub base64: Option<String>,
    /// A file holding the payload's raw bytes.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A layout file (TOML, see docs/layouts.md) that describes the payload.
    #[arg(long, value_name = "LAYOUT.toml")]
    pub layout: Option<PathBuf>,
    /// A built-in format.
    #[arg(long, value_name = "FORMAT", value_parser = FORMAT_NAMES)]
    pub format: Option<String>,
    /// Encode these values with the layout instead of decoding: 'name=value,group[0].field=value,…'.
    #[arg(long, value_name = "NAME=VALUE,…", requires = "layout", conflicts_with_all = ["payload", "format"])]
    pub encode: Option<String>,
    /// With `--format frame`: connect to this device (sim, serial:/dev/ttyACM0, tcp:HOST:PORT), read its
    /// schema report and decode messages that only it defines.
    #[arg(long, value_name = "SOURCE", requires = "format", conflicts_with = "schema")]
    pub device: Option<String>,
    /// With `--format frame`: a schema report saved with `--save-schema`, instead of asking the device.
    #[arg(long, value_name = "FILE.json", requires = "format")]
    pub schema: Option<PathBuf>,
    /// Save the device's schema report (JSON) for later use with `--schema`; without a payload, only save it.
    #[arg(long, value_name = "FILE.json", requires = "device")]
    pub save_schema: Option<PathBuf>,
    /// With `--format mqtt`: read the packet as this MQTT version; `auto` reads 3.1.1 unless the packet
    /// shows it is MQTT 5 (a PUBLISH does not say).
    #[arg(long, value_name = "VERSION", value_parser = ["auto", "3.1.1", "5"], default_value = "auto", requires = "format")]
    pub mqtt_version: String,
    /// Print JSON instead of the tree and table.
    #[arg(long)]
    pub json: bool,
}

/// The JSON form of `benchtop inspect`: the decoded payload's fields in their documented order, then `cost`.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Format, sizes, fields and warnings.
    #[serde(flatten)]
    pub decoded: &'a Decoded,
    /// What it costs on LoRaWAN.
    pub cost: &'a Cost,
}

/// Runs `benchtop inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let layout = args.layout.as_deref().map(load_layout).transpose()?;
    if let Some(values) = &args.encode {
        let layout = layout.context("--encode needs a --layout")?;
        let bytes = layout.encode(values).context("could not encode the values")?;
        for note in rounding_notes(&layout, values, &bytes) {
            eprintln!("note: {note}");
        }
        if args.json {
            println!("{}", serde_json::json!({ "hex": to_hex(&bytes), "size_bytes": bytes.len() }));
        } else {
            println!("{}", to_hex(&bytes));
        }
        return Ok(());
    }
    let report = schema_report(&args)?;
    if report.is_some() && args.format.as_deref() != Some("frame") {
        anyhow::bail!("--device and --schema describe protocol frames; use them with --format frame");
    }
    if let (Some(path), Some(report)) = (&args.save_schema, &report) {
        let text = serde_json::to_string_pretty(report).context("could not write the schema report as JSON")?;
        std::fs::write(path, text)
            .with_context(|| format!("could not save the schema report to {}", path.display()))?;
        if args.hex.is_none() && args.base64.is_none() && args.file.is_none() {
            eprintln!("saved the schema report to {}", path.display());
            return Ok(());
        }
    }
    let mqtt_version = match args.mqtt_version.as_str() {
        "3.1.1" => Some(MqttVersion::V3_1_1),
        "5" => Some(MqttVersion::V5),
        _ => None,
    };
    if mqtt_version.is_some() && args.format.as_deref() != Some("mqtt") {
        anyhow::bail!("--mqtt-version chooses how MQTT packets are read; use it with --format mqtt");
    }
    let bytes = read_payload(&args)?;
    let decoded = match (&layout, &args.format) {
        (Some(layout), _) => layout.decode(&bytes),
        (None, Some(_)) if let Some(version) = mqtt_version => mqtt::decode_version(&bytes, version),
        (None, Some(format)) if report.is_some() && format == "frame" => {
            crate::inspect::frame::decode_with_schema(&bytes, report.as_ref())
        }
        (None, Some(format)) => decode_format(format, &bytes).map_err(|error| match error {
            InspectError::UnknownFormat(name) if FORMAT_NAMES.contains(&name.as_str()) => anyhow::anyhow!(
                "the {name} decoder is not available in this build yet; use --layout or another --format"
            ),
            other => other.into(),
        })?,
        (None, None) => anyhow::bail!("give --layout LAYOUT.toml or --format FORMAT to say how to decode"),
    };
    let cost = Cost::of(&decoded);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&Report { decoded: &decoded, cost: &cost })?);
    } else {
        print!("{}", tree_text(&decoded, &bytes));
        println!();
        print!("{}", cost_table(&cost));
    }
    Ok(())
}

/// Values the layout cannot store exactly (21.55 at a scale of 0.1), as they will read back.
fn rounding_notes(layout: &Layout, values: &str, bytes: &[u8]) -> Vec<String> {
    fn flatten(fields: &[Field], prefix: &str, out: &mut Vec<(String, serde_json::Value)>) {
        for field in fields {
            // Records are named `[i]` and join their group's name without a dot.
            let path = if field.name.starts_with('[') {
                format!("{}{}", prefix.trim_end_matches('.'), field.name)
            } else {
                format!("{prefix}{}", field.name)
            };
            if field.children.is_empty() {
                out.push((path, field.value.clone()));
            } else {
                flatten(&field.children, &format!("{path}."), out);
            }
        }
    }
    let mut stored = Vec::new();
    flatten(&layout.decode(bytes).fields, "", &mut stored);
    values
        .split(',')
        .filter_map(|assignment| {
            let (path, given) = assignment.split_once('=')?;
            let (path, given) = (path.trim(), given.trim());
            let wanted: f64 = given.parse().ok()?;
            let (_, value) = stored.iter().find(|(stored_path, _)| stored_path == path)?;
            let read_back = value.as_f64()?;
            let close = (read_back - wanted).abs() <= 1e-9 * wanted.abs().max(1.0);
            (!close).then(|| format!("{path}={given} is stored as {value}, the nearest value the layout can hold"))
        })
        .collect()
}

/// The schema report from `--schema FILE` or, with `--device SOURCE`, from the device itself.
fn schema_report(args: &InspectArgs) -> anyhow::Result<Option<SchemaReport>> {
    if let Some(path) = &args.schema {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the schema report {}", path.display()))?;
        let report = serde_json::from_str(&text).with_context(|| {
            format!("the schema report cannot be used; save it again with --save-schema: {}", path.display())
        })?;
        return Ok(Some(report));
    }
    let Some(device) = &args.device else { return Ok(None) };
    let source = Source::parse(device).with_context(|| format!("cannot read the device source `{device}`"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("benchtop-inspect-io")
        .enable_all()
        .build()
        .context("could not start the I/O runtime")?;
    let report = runtime.block_on(async {
        let session = Session::open(&source, SessionOptions::default()).await?;
        session.schema_report().await
    });
    let report = report.with_context(|| format!("could not read the schema report of {device}"))?;
    Ok(Some(report))
}

fn load_layout(path: &std::path::Path) -> anyhow::Result<Layout> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("could not read the layout {}", path.display()))?;
    Layout::from_toml(&text).with_context(|| format!("the layout cannot be used; fix it in {}", path.display()))
}

fn read_payload(args: &InspectArgs) -> anyhow::Result<Vec<u8>> {
    if let Some(hex) = &args.hex {
        return Ok(parse_hex(hex)?);
    }
    if let Some(base64) = &args.base64 {
        return Ok(parse_base64(base64)?);
    }
    if let Some(path) = &args.file {
        return std::fs::read(path).with_context(|| format!("could not read the payload {}", path.display()));
    }
    anyhow::bail!("no payload given; pass --hex HEX, --base64 B64 or --file FILE (or --encode with a layout)")
}

/// The field tree: one line per field with its byte range, bytes, value and raw value, then its warnings.
/// Notes come first; when the fields refer to decoded bytes (a COBS wire frame), those bytes are printed too.
pub fn tree_text(decoded: &Decoded, bytes: &[u8]) -> String {
    let mut out = format!(
        "{} · {} bytes (as compact JSON: {} bytes)\n\n",
        decoded.format, decoded.size_bytes, decoded.json_size_bytes
    );
    for note in &decoded.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    if let Some(shown) = &decoded.shown_bytes {
        out.push_str(&format!("decoded: {}\n", to_hex(shown)));
    }
    if !decoded.notes.is_empty() || decoded.shown_bytes.is_some() {
        out.push('\n');
    }
    let width = name_width(&decoded.fields, 0).max(4);
    for field in &decoded.fields {
        field_lines(&mut out, field, decoded.bytes(bytes), 0, width);
    }
    for warning in &decoded.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

fn name_width(fields: &[Field], depth: usize) -> usize {
    fields
        .iter()
        .map(|f| (depth * 2 + f.name.chars().count()).max(name_width(&f.children, depth + 1)))
        .max()
        .unwrap_or(0)
}

fn field_lines(out: &mut String, field: &Field, bytes: &[u8], depth: usize, width: usize) {
    let indent = "  ".repeat(depth);
    let name = format!("{indent}{}", field.name);
    let range = format!("{}+{}", field.offset, field.length);
    let hex = bytes
        .get(field.bytes())
        .map(|slice| {
            let shown: Vec<String> = slice.iter().take(MAX_HEX_BYTES_SHOWN).map(|b| format!("{b:02x}")).collect();
            let more = if slice.len() > MAX_HEX_BYTES_SHOWN { " …" } else { "" };
            format!("{}{more}", shown.join(" "))
        })
        .unwrap_or_default();
    let mut value = show(&field.value);
    if !field.unit.is_empty() && !value.is_empty() {
        value = format!("{value} {}", field.unit);
    }
    let mut extra = Vec::new();
    if field.raw != field.value && !field.raw.is_null() {
        extra.push(format!("raw {}", show(&field.raw)));
    }
    if let (Some(bit), Some(bits)) = (field.bit_offset, field.bit_length) {
        extra.push(format!("bits {bit}+{bits}"));
    }
    let extra = if extra.is_empty() { String::new() } else { format!("  ({})", extra.join(", ")) };
    let name_pad = width.saturating_sub(name.chars().count());
    let line = format!("{name}{} {range:>7}  {hex:<37} {value}{extra}", " ".repeat(name_pad));
    out.push_str(line.trim_end());
    out.push('\n');
    for warning in &field.warnings {
        out.push_str(&format!("{indent}  ! {warning}\n"));
    }
    for child in &field.children {
        field_lines(out, child, bytes, depth + 1, width);
    }
}

fn show(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The cost table: each EU868 data rate, whether the payload and its JSON fit, and their times on air.
pub fn cost_table(cost: &Cost) -> String {
    let payload_header = format!("payload {} B", cost.size_bytes);
    let json_header = format!("as JSON {} B", cost.json_size_bytes);
    let mut out = format!(
        "EU868 uplink, 125 kHz, CR 4/5 (LoRaWAN adds {} bytes)\n{:<4} {:<5} {:>6}   {payload_header:<22} {json_header}\n",
        cost.lorawan_overhead_bytes, "rate", "SF", "limit",
    );
    for rate in &cost.data_rates {
        let cell = |fit: &crate::inspect::cost::Fit| {
            let airtime = fit.time_on_air_ms.map_or("—".to_string(), |ms| format!("{ms:.1} ms"));
            format!("{:<8} {airtime:>11}", if fit.fits { "fits" } else { "too big" })
        };
        out.push_str(&format!(
            "{:<4} SF{:<3} {:>4} B   {:<22} {}\n",
            rate.data_rate.name,
            rate.data_rate.spreading_factor,
            rate.data_rate.max_app_payload_bytes,
            cell(&rate.payload),
            cell(&rate.json),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::input::parse_hex;

    #[test]
    fn long_fields_are_elided_and_warnings_indented() {
        let layout = Layout::from_toml(
            "name = \"blob\"\n[[fields]]\nname = \"key\"\ntype = \"bytes:16\"\n[[fields]]\ntype = \"pad:1\"\n",
        )
        .unwrap();
        let bytes = parse_hex("000102030405060708090a0b0c0d0e0f 01 ff").unwrap();
        let text = tree_text(&layout.decode(&bytes), &bytes);
        let key = text.lines().find(|l| l.starts_with("key")).unwrap();
        assert!(key.contains("00 01 02 03 04 05 06 07 08 09 0a 0b …") && !key.contains(" 0c "), "{text}");
        assert!(text.contains("\n  ! padding is not zero"), "{text}");
        assert!(
            text.ends_with(
                "warning: 1 trailing byte after the layout's fields (offset 17..18); is this the right layout?\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn values_the_layout_rounds_are_noted() {
        let layout = Layout::from_toml(
            "name = \"r\"\n[[fields]]\nname = \"t\"\ntype = \"i16\"\nscale = 0.1\n[[fields]]\nname = \"g\"\ntype = \"group\"\ncount = 1\nfields = [{ name = \"v\", type = \"u8\", scale = 0.5 }]\n",
        )
        .unwrap();
        let values = "t=21.55, g[0].v=3.3";
        let bytes = layout.encode(values).unwrap();
        let notes = rounding_notes(&layout, values, &bytes);
        assert_eq!(
            notes,
            [
                "t=21.55 is stored as 21.6, the nearest value the layout can hold",
                "g[0].v=3.3 is stored as 3.5, the nearest value the layout can hold"
            ]
        );
        assert!(rounding_notes(&layout, "t=21.5, g[0].v=3.5", &layout.encode("t=21.5,g[0].v=3.5").unwrap()).is_empty());
    }

    #[test]
    fn json_report_keeps_the_documented_key_order() {
        let layout = Layout::from_toml("name = \"one\"\n[[fields]]\nname = \"v\"\ntype = \"u8\"\n").unwrap();
        let decoded = layout.decode(&[7]);
        let cost = Cost::of(&decoded);
        let text = serde_json::to_string(&Report { decoded: &decoded, cost: &cost }).unwrap();
        assert!(text.starts_with(r#"{"format":"one","size_bytes":1,"json_size_bytes":7,"fields":[{"name":"v","offset":0,"length":1,"bit_offset":null,"bit_length":null,"raw":7,"value":7,"unit":""}],"cost":{"#), "{text}");
    }
}
