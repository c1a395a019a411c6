//! SenML (RFC 8428) on top of the CBOR tree: a pack is an array of records, each a map with integer labels.
//! This names the labels (`base name`, `name`, `unit`, `value`, `time` …) and resolves each record the way a
//! SenML reader does: base values carry over to later records, name = base name + name, unit = unit or base
//! unit, value = base value + value, time = base time + time. It only renames and annotates fields the CBOR
//! decoder made; it never changes byte ranges. The same resolution serves SenML JSON (string labels) as
//! decoded by the JSON decoder for a CoAP `application/senml+json` payload.

use serde_json::json;

use crate::inspect::field::Field;

/// The field name of a SenML CBOR label, from the reference's table.
pub fn label_name(label: i64) -> Option<&'static str> {
    Some(match label {
        -1 => "base version",
        -2 => "base name",
        -3 => "base time",
        -4 => "base unit",
        -5 => "base value",
        -6 => "base sum",
        0 => "name",
        1 => "unit",
        2 => "value",
        3 => "string value",
        4 => "boolean value",
        5 => "sum",
        6 => "time",
        7 => "update time",
        8 => "data value",
        _ => return None,
    })
}

/// A pack as SenML JSON would write it, from the CBOR fields before [`resolve`]: integer keys become the JSON
/// labels (`-2` → `bn`), values stay as stored. For the compact-JSON size.
pub(crate) fn compact_pack(pack: &Field) -> serde_json::Value {
    const SHORT: [&str; 15] = ["bver", "bn", "bt", "bu", "bv", "bs", "n", "u", "v", "vs", "vb", "s", "t", "ut", "vd"];
    let record = |record: &Field| {
        let entries = record.children.iter().map(|entry| {
            let label = entry.name.parse::<i64>().ok();
            let short = SHORT.into_iter().find(|short| label.is_some() && json_label(short) == label);
            (short.map_or_else(|| entry.name.clone(), str::to_owned), crate::inspect::json::compact_value(entry))
        });
        serde_json::Value::Object(entries.collect())
    };
    serde_json::Value::Array(pack.children.iter().map(record).collect())
}

/// The integer label of a SenML JSON label name (RFC 8428 §4.1 and §6), used for `application/senml+json`.
pub fn json_label(name: &str) -> Option<i64> {
    Some(match name {
        "bver" => -1,
        "bn" => -2,
        "bt" => -3,
        "bu" => -4,
        "bv" => -5,
        "bs" => -6,
        "n" => 0,
        "u" => 1,
        "v" => 2,
        "vs" => 3,
        "vb" => 4,
        "s" => 5,
        "t" => 6,
        "ut" => 7,
        "vd" => 8,
        _ => return None,
    })
}

/// Resolves a JSON-decoded SenML pack (an array of objects whose keys are SenML JSON labels) in place; false,
/// and nothing changed, when `root` does not have that shape.
pub(crate) fn resolve_json_pack(root: &mut Field) -> bool {
    let is_container = |field: &Field, kind: &str| field.value.as_str().is_some_and(|v| v.starts_with(kind));
    let senml_shaped = is_container(root, "array(")
        && !root.children.is_empty()
        && root.children.iter().all(|record| {
            is_container(record, "object(") && record.children.iter().all(|entry| json_label(&entry.name).is_some())
        });
    if senml_shaped {
        resolve(root);
    }
    senml_shaped
}

/// The base values in force, carried from record to record.
#[derive(Default)]
struct Base {
    name: String,
    time_secs: Option<f64>,
    unit: String,
    value: Option<f64>,
}

/// Renames and resolves the records of `pack`, an array whose items are maps with only integer keys.
pub(crate) fn resolve(pack: &mut Field) {
    let mut base = Base::default();
    let records = pack.children.len();
    for record in &mut pack.children {
        resolve_record(record, &mut base);
    }
    pack.value = json!(format!("SenML pack, {records} record{}", if records == 1 { "" } else { "s" }));
}

fn resolve_record(record: &mut Field, base: &mut Base) {
    // First pass: the labels of this record, so that base values apply whatever the key order.
    for entry in &mut record.children {
        let Some(label) = entry.name.parse::<i64>().ok().or_else(|| json_label(&entry.name)) else { continue };
        match label_name(label) {
            Some(name) => entry.name = name.to_owned(),
            None => entry.warnings.push(format!("label {label} is not in the SenML registry")),
        }
        match label {
            -2 => base.name = entry.value.as_str().unwrap_or_default().to_owned(),
            -3 => base.time_secs = entry.value.as_f64(),
            -4 => base.unit = entry.value.as_str().unwrap_or_default().to_owned(),
            -5 => base.value = entry.value.as_f64(),
            _ => {}
        }
    }
    let text_of = |record: &Field, name: &str| {
        record.children.iter().find(|c| c.name == name).and_then(|c| c.value.as_str().map(str::to_owned))
    };
    let name = format!("{}{}", base.name, text_of(record, "name").unwrap_or_default());
    let unit = text_of(record, "unit").unwrap_or_else(|| base.unit.clone());
    for entry in &mut record.children {
        match entry.name.as_str() {
            "value" => {
                if let (Some(base_value), Some(value)) = (base.value, entry.value.as_f64()) {
                    entry.value = json!(base_value + value);
                }
                entry.unit = unit.clone();
            }
            "time" => {
                if let (Some(base_time), Some(time)) = (base.time_secs, entry.value.as_f64()) {
                    entry.value = json!(base_time + time);
                }
                entry.unit = "s".to_owned();
            }
            "base time" => entry.unit = "s".to_owned(),
            _ => {}
        }
    }
    if !name.is_empty() {
        record.name = name;
    }
    record.unit = unit;
}
