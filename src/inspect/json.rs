//! JSON decoder: a small recursive-descent parser over the bytes (RFC 8259), so that every value knows the
//! bytes it came from, which `serde_json` cannot tell. Objects become fields whose entries are named by key and
//! cover `"key": value`; array items are named `[i]`; the document is `root`. Numbers become JSON numbers,
//! strings are unescaped, and no unit is ever known.
//!
//! Invalid JSON stops decoding with a warning naming the byte position; the rest is one `bytes` field. Nesting is
//! limited to [`MAX_DEPTH`]. Never panics, and every loop consumes a byte.

use serde_json::json;

use super::field::{Decoded, Field};
use super::lpp::rest_field;

/// Deepest nesting of arrays and objects decoded before giving up.
pub const MAX_DEPTH: usize = 64;

/// Decodes a JSON document. Never panics.
pub fn decode(bytes: &[u8]) -> Decoded {
    let (mut fields, warnings) = decode_fields(bytes);
    // The document's own compact form (not `{"root": …}` with arrays as objects), before SenML resolution
    // renames labels and adds base values.
    let json_size_bytes = fields.first().map_or(0, |root| compact_size_bytes(&compact_value(root)));
    if warnings.is_empty()
        && let Some(root) = fields.first_mut()
        && looks_like_senml(root)
    {
        super::cbor::senml::resolve_json_pack(root);
    }
    let mut decoded = Decoded::new("json", bytes.len(), fields, warnings);
    decoded.json_size_bytes = json_size_bytes;
    decoded
}

/// A document that is surely SenML JSON (RFC 8428): an array of objects with only SenML labels, text where
/// the labels want text, and a name or base name somewhere. Plain JSON rarely looks like that by chance.
fn looks_like_senml(root: &Field) -> bool {
    let text_labels = ["bn", "bu", "n", "u", "vs"];
    let records_fit = root.value.as_str().is_some_and(|v| v.starts_with("array("))
        && root.children.iter().all(|record| {
            record.value.as_str().is_some_and(|v| v.starts_with("object("))
                && record.children.iter().all(|entry| {
                    super::cbor::senml::json_label(&entry.name).is_some()
                        && (!text_labels.contains(&entry.name.as_str()) || entry.value.is_string())
                })
        });
    let named =
        root.children.iter().flat_map(|record| &record.children).any(|entry| entry.name == "n" || entry.name == "bn");
    records_fit && named
}

/// The value a decoded CBOR or JSON field stands for, as JSON: containers (raw `array(n)`, `map(n)`,
/// `object(n)`) become arrays and objects, a CBOR tag its content, anything else its value.
pub(crate) fn compact_value(field: &Field) -> serde_json::Value {
    let raw = field.raw.as_str().unwrap_or_default();
    if raw.starts_with("array(") {
        return serde_json::Value::Array(field.children.iter().map(compact_value).collect());
    }
    if raw.starts_with("map(") || raw.starts_with("object(") {
        let entries = field.children.iter().map(|entry| (entry.name.clone(), compact_value(entry)));
        return serde_json::Value::Object(entries.collect());
    }
    match field.children.as_slice() {
        [content] if content.name == "content" => compact_value(content),
        _ => field.value.clone(),
    }
}

/// Bytes of `value` written as compact JSON.
pub(crate) fn compact_size_bytes(value: &serde_json::Value) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// The fields and payload warnings of `bytes` read as JSON (CoAP and MQTT payloads use it too); no warnings
/// means the bytes are one valid JSON document.
pub(crate) fn decode_fields(bytes: &[u8]) -> (Vec<Field>, Vec<String>) {
    let mut parser = Parser { bytes, pos: 0 };
    parser.skip_whitespace();
    if parser.pos >= bytes.len() {
        return (Vec::new(), vec!["the payload holds no JSON value".to_owned()]);
    }
    let (root, outcome) = parser.value("root".to_owned(), 0);
    let mut fields = vec![root];
    let mut warnings = Vec::new();
    match outcome {
        Err(problem) => {
            warnings.push(problem);
            if parser.pos < bytes.len() {
                fields.push(rest_field(bytes, parser.pos, "not decoded after the error above".to_owned()));
            }
        }
        Ok(()) => {
            parser.skip_whitespace();
            if parser.pos < bytes.len() {
                let problem = format!("byte {}: data after the JSON value", parser.pos);
                warnings.push(problem.clone());
                fields.push(rest_field(bytes, parser.pos, problem));
            }
        }
    }
    (fields, warnings)
}

/// A field and whether decoding may go on after it (`Err` holds the warning that stopped it).
type Parsed = (Field, Result<(), String>);

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Ends `field` at the current position with a warning.
    fn fail(&self, mut field: Field, problem: String) -> Parsed {
        field.length = self.pos - field.offset;
        field.warnings.push(problem.clone());
        (field, Err(problem))
    }

    fn finish(&self, mut field: Field, value: serde_json::Value) -> Parsed {
        field.length = self.pos - field.offset;
        field.raw = value.clone();
        field.value = value;
        (field, Ok(()))
    }

    /// After an array item or object entry: `,` (false: another follows) or `close` (true: done), both
    /// consumed; anything else is the problem to report.
    fn separator(&mut self, close: u8) -> Result<bool, String> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_whitespace();
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.expected(&format!("`,` or `{}`", char::from(close)))),
        }
    }

    fn expected(&self, what: &str) -> String {
        match self.peek() {
            Some(byte) => format!("byte {}: expected {what}, found {:?}", self.pos, char::from(byte)),
            None => format!("byte {}: expected {what}, the payload ends", self.pos),
        }
    }

    /// The value at the current position (whitespace already skipped).
    fn value(&mut self, name: String, depth: usize) -> Parsed {
        let field = Field::new(name, self.pos, 0);
        if depth > MAX_DEPTH {
            return self.fail(field, format!("byte {}: nested deeper than {MAX_DEPTH} levels", self.pos));
        }
        match self.peek() {
            Some(b'{') => self.object(field, depth),
            Some(b'[') => self.array(field, depth),
            Some(b'"') => match self.string() {
                Ok(text) => self.finish(field, json!(text)),
                Err(problem) => self.fail(field, problem),
            },
            Some(b'-' | b'0'..=b'9') => self.number(field),
            Some(b't') => self.literal(field, "true", json!(true)),
            Some(b'f') => self.literal(field, "false", json!(false)),
            Some(b'n') => self.literal(field, "null", serde_json::Value::Null),
            _ => {
                let problem = self.expected("a value");
                self.fail(field, problem)
            }
        }
    }

    fn literal(&mut self, field: Field, word: &str, value: serde_json::Value) -> Parsed {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            return self.finish(field, value);
        }
        let problem = self.expected(word);
        self.fail(field, problem)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self, field: Field) -> Parsed {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        let leading_zero = self.peek() == Some(b'0');
        let integer_digits = self.digits();
        if integer_digits == 0 {
            let problem = self.expected("a digit");
            return self.fail(field, problem);
        }
        if leading_zero && integer_digits > 1 {
            self.pos = digits_start + 1;
            return self.fail(field, format!("byte {}: a number must not have leading zeros", self.pos));
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                let problem = self.expected("a digit after the decimal point");
                return self.fail(field, problem);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                let problem = self.expected("a digit in the exponent");
                return self.fail(field, problem);
            }
        }
        // Only ASCII digits and signs were consumed, so this is always text.
        let text = std::str::from_utf8(self.bytes.get(start..self.pos).unwrap_or_default()).unwrap_or_default();
        let value = match (integer, text.parse::<i64>(), text.parse::<u64>()) {
            (true, Ok(number), _) => json!(number),
            (true, _, Ok(number)) => json!(number),
            _ => json!(text.parse::<f64>().unwrap_or(f64::NAN)),
        };
        self.finish(field, value)
    }

    /// A string at the current `"`, unescaped.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut text = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(format!("byte {}: the string is not closed before the end", self.pos));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(text).map_err(|e| {
                        format!("byte {}: the string is not valid UTF-8", self.pos - 1 - e.utf8_error().valid_up_to())
                    });
                }
                b'\\' => {
                    self.pos += 1;
                    let unescaped = self.escape()?;
                    let mut buffer = [0u8; 4];
                    text.extend_from_slice(unescaped.encode_utf8(&mut buffer).as_bytes());
                }
                0x00..=0x1F => return Err(format!("byte {}: control character in a string; escape it", self.pos)),
                _ => {
                    text.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    /// The character of an escape whose backslash has been consumed.
    fn escape(&mut self) -> Result<char, String> {
        let at = self.pos;
        let byte = self.peek().ok_or_else(|| format!("byte {at}: the escape is cut off"))?;
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                if (0xD800..0xDC00).contains(&first) {
                    if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(format!("byte {at}: a high surrogate without its low surrogate"));
                    }
                    self.pos += 2;
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(format!("byte {}: expected a low surrogate", self.pos - 4));
                    }
                    let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    char::from_u32(code).ok_or_else(|| format!("byte {at}: invalid surrogate pair"))?
                } else {
                    char::from_u32(first).ok_or_else(|| format!("byte {at}: a low surrogate without a high one"))?
                }
            }
            _ => return Err(format!("byte {at}: unknown escape \\{}", char::from(byte))),
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.bytes.get(self.pos..self.pos + 4).and_then(|d| std::str::from_utf8(d).ok());
        let code =
            digits.filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit())).and_then(|d| u32::from_str_radix(d, 16).ok());
        let code = code.ok_or_else(|| format!("byte {}: expected four hex digits after \\u", self.pos))?;
        self.pos += 4;
        Ok(code)
    }

    fn array(&mut self, mut field: Field, depth: usize) -> Parsed {
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return self.finish(field, json!("array(0)"));
        }
        loop {
            let (item, outcome) = self.value(format!("[{}]", field.children.len()), depth + 1);
            field.children.push(item);
            if let Err(problem) = outcome {
                field.length = self.pos - field.offset;
                return (field, Err(problem));
            }
            match self.separator(b']') {
                Ok(false) => {}
                Ok(true) => {
                    let count = field.children.len();
                    return self.finish(field, json!(format!("array({count})")));
                }
                Err(problem) => return self.fail(field, problem),
            }
        }
    }

    fn object(&mut self, mut field: Field, depth: usize) -> Parsed {
        self.pos += 1;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return self.finish(field, json!("object(0)"));
        }
        let mut seen_keys = std::collections::HashSet::new();
        loop {
            let key_offset = self.pos;
            if self.peek() != Some(b'"') {
                let problem = self.expected("a key in double quotes");
                return self.fail(field, problem);
            }
            let key = match self.string() {
                Ok(key) => key,
                Err(problem) => return self.fail(field, problem),
            };
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                let problem = self.expected("`:`");
                return self.fail(field, problem);
            }
            self.pos += 1;
            self.skip_whitespace();
            let duplicate = !seen_keys.insert(key.clone());
            let (mut entry, outcome) = self.value(key, depth + 1);
            // The entry covers `"key": value` so that every byte of the object belongs to a child.
            entry.length = self.pos - key_offset;
            entry.offset = key_offset;
            if duplicate {
                entry.warnings.push("duplicate key: readers disagree on which value wins".to_owned());
            }
            field.children.push(entry);
            if let Err(problem) = outcome {
                field.length = self.pos - field.offset;
                return (field, Err(problem));
            }
            match self.separator(b'}') {
                Ok(false) => {}
                Ok(true) => {
                    let count = field.children.len();
                    return self.finish(field, json!(format!("object({count})")));
                }
                Err(problem) => return self.fail(field, problem),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::field::assert_within;
    use proptest::prelude::*;

    fn root(text: &str) -> Field {
        let decoded = decode(text.as_bytes());
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        assert_eq!(decoded.fields.len(), 1);
        decoded.fields[0].clone()
    }

    #[test]
    fn object_entries_know_their_bytes() {
        //          0         1         2         3
        //          0123456789012345678901234567890123456
        let text = r#"{"temp": 21.5, "hum":[40, -3e2], "ok":true}"#;
        let root = root(text);
        assert_eq!((root.offset, root.length), (0, 43));
        let temp = root.child("temp").unwrap();
        assert_eq!((temp.offset, temp.length, temp.value.clone(), temp.unit.as_str()), (1, 12, json!(21.5), ""));
        let hum = root.child("hum").unwrap();
        assert_eq!((hum.offset, hum.length), (15, 16));
        let second = &hum.children[1];
        assert_eq!(
            (second.name.as_str(), second.offset, second.length, second.value.clone()),
            ("[1]", 26, 4, json!(-300.0))
        );
        assert_eq!(root.child("ok").unwrap().value, json!(true));
        assert_eq!(hum.children[0].value, json!(40));
        let duplicate = super::decode(br#"{"a":1,"a":2}"#).fields.remove(0);
        assert!(duplicate.children[0].warnings.is_empty());
        assert!(duplicate.children[1].warnings[0].contains("duplicate key"));
    }

    #[test]
    fn escapes_big_numbers_and_whitespace() {
        let root = root(" [\"a\\n\\u00e9\\ud83d\\ude00\", 18446744073709551615, null, 0.5e-1] \n");
        assert_eq!((root.offset, root.length), (1, 61));
        assert_eq!(root.children[0].value, json!("a\né😀"));
        assert_eq!(root.children[1].value, json!(u64::MAX));
        assert_eq!(root.children[2].value, serde_json::Value::Null);
        assert_eq!(root.children[3].value, json!(0.05));
    }

    #[test]
    fn senml_json_is_recognised_and_plain_arrays_are_not() {
        let text = r#"[{"bn":"dev:","bt":100,"n":"temp","u":"Cel","v":21.5},{"n":"hum","u":"%RH","v":40,"t":5}]"#;
        let pack = root(text);
        let hum = &pack.children[1];
        assert_eq!((hum.name.as_str(), hum.unit.as_str()), ("dev:hum", "%RH"));
        assert_eq!(hum.child("time").unwrap().value, json!(105.0));
        assert_eq!(decode(text.as_bytes()).json_size_bytes, text.len());
        let plain = root(r#"[{"n":1,"v":2}]"#);
        assert_eq!(plain.children[0].children[0].name, "n");
        assert_eq!(plain.children[0].name, "[0]");
    }

    #[test]
    fn invalid_json_names_the_byte() {
        let decoded = decode(br#"{"a": 1, "b" 2}"#);
        assert_eq!(decoded.warnings, vec!["byte 13: expected `:`, found '2'".to_owned()]);
        let rest = decoded.fields.last().unwrap();
        assert_eq!((rest.name.as_str(), rest.offset, rest.length), ("bytes", 13, 2));
        assert_eq!(decoded.fields[0].child("a").unwrap().value, json!(1));
        for (text, position) in [("[1,]", "byte 3"), ("01", "byte 1"), ("\"abc", "byte 4"), ("{\"a\":tru}", "byte 5")] {
            let decoded = decode(text.as_bytes());
            assert!(decoded.warnings[0].starts_with(position), "{text}: {:?}", decoded.warnings);
        }
        assert!(decode(b"1 2").warnings[0].contains("byte 2: data after"));
        assert!(decode(b"  ").warnings[0].contains("no JSON value"));
        assert!(decode(&[b'"', 0xFF, b'"']).warnings[0].contains("UTF-8"));
        assert!(decode("[".repeat(100).as_bytes()).warnings[0].contains("deeper than 64"));
    }

    fn leaves(field: &Field, out: &mut Vec<serde_json::Value>) {
        if field.children.is_empty()
            && !field.value.as_str().is_some_and(|v| v.starts_with("array(") || v.starts_with("object("))
        {
            out.push(field.value.clone());
        }
        for child in &field.children {
            leaves(child, out);
        }
    }

    fn serde_leaves(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        match value {
            serde_json::Value::Array(items) => items.iter().for_each(|item| serde_leaves(item, out)),
            serde_json::Value::Object(map) => map.values().for_each(|item| serde_leaves(item, out)),
            leaf => out.push(leaf.clone()),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_values() {
        // Keys in sorted order, because serde_json's map is sorted.
        let text = r#"{"a":[1,2.5,{"b":"x"},[]],"c":{"d":null,"e":false},"f":-7,"g":"\t"}"#;
        let decoded = decode(text.as_bytes());
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        leaves(&decoded.fields[0], &mut ours);
        serde_leaves(&serde_json::from_str(text).unwrap(), &mut theirs);
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 7);
    }

    /// Arbitrary JSON documents (objects keep serde_json's sorted key order, as they are printed).
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            "(?s).{0,8}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("(?s).{0,6}", inner, 0..6)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_decode_within_the_payload(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let decoded = decode(&bytes);
            for field in &decoded.fields {
                assert_within(field, bytes.len());
            }
        }

        #[test]
        fn serde_json_documents_decode_to_the_same_values(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
            let text = text.unwrap();
            let decoded = decode(text.as_bytes());
            prop_assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            leaves(&decoded.fields[0], &mut ours);
            serde_leaves(&value, &mut theirs);
            prop_assert_eq!(ours, theirs);
            prop_assert_eq!(decoded.json_size_bytes, serde_json::to_string(&value).unwrap().len());
        }

        #[test]
        fn json_text_like_input_never_panics(text in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,64}") {
            let decoded = decode(text.as_bytes());
            let valid = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            prop_assert_eq!(decoded.warnings.is_empty(), valid, "{:?}", decoded.warnings);
        }
    }
}
