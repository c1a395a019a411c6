//! Tests of the text-line reader: splitting, each format, detection and overrides.

use super::*;
use proptest::prelude::*;

fn values(parsed: &ParsedLine) -> Vec<(&str, f64)> {
    parsed.values.iter().map(|(name, value)| (name.as_str(), *value)).collect()
}

fn texts(lines: &[ReceivedLine]) -> Vec<&str> {
    lines.iter().map(|line| line.text.as_str()).collect()
}

/// Feeds every line and returns each line's values, skipping lines without any.
fn decode_all(decoder: &mut TextDecoder, lines: &[&str]) -> Vec<Vec<(String, f64)>> {
    lines.iter().map(|line| decoder.decode(line).values).filter(|values| !values.is_empty()).collect()
}

/// Splits `bytes` at the given points, runs splitter and decoder, and returns all values and the format.
fn run_chunks(bytes: &[u8], cuts: &[usize]) -> (Vec<Vec<(String, f64)>>, DetectedFormat) {
    let mut splitter = LineSplitter::default();
    let mut decoder = TextDecoder::default();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&bytes.len())) {
        for line in splitter.push(&bytes[start..end]) {
            out.push(decoder.decode(&line.text).values);
        }
        start = end;
    }
    if let Some(line) = splitter.flush() {
        out.push(decoder.decode(&line.text).values);
    }
    out.retain(|values| !values.is_empty());
    (out, decoder.detected())
}

// ---- LineSplitter

#[test]
fn splits_on_lf_crlf_and_lone_cr() {
    let mut splitter = LineSplitter::default();
    let lines = splitter.push(b"a\nb\r\nc\rd\n\ne");
    assert_eq!(texts(&lines), ["a", "b", "c", "d", ""]);
    assert!(lines.iter().all(|line| !line.truncated));
    assert_eq!(splitter.flush(), Some(ReceivedLine { text: "e".into(), truncated: false }));
    assert_eq!(splitter.flush(), None);
}

#[test]
fn crlf_split_between_chunks_ends_one_line() {
    let mut splitter = LineSplitter::default();
    assert_eq!(texts(&splitter.push(b"temp:1\r")), ["temp:1"]);
    assert_eq!(texts(&splitter.push(b"\ntemp:2\r")), ["temp:2"]);
    assert_eq!(texts(&splitter.push(b"\n")), Vec::<&str>::new());
    assert_eq!(texts(&splitter.push(b"\n")), [""]);
}

#[test]
fn every_split_point_gives_the_same_lines() {
    let stream = "Booting v1.2\r\ntemp:22.50,hum:40.0 °C\r\n\r\nx:1\rlong line \u{2013} with ünïcode\n1 2 3\r\n";
    let bytes = stream.as_bytes();
    let whole = LineSplitter::default().push(bytes);
    assert_eq!(whole.len(), 6);
    for first in 0..=bytes.len() {
        for second in first..=bytes.len() {
            let mut splitter = LineSplitter::default();
            let mut lines = splitter.push(&bytes[..first]);
            lines.extend(splitter.push(&bytes[first..second]));
            lines.extend(splitter.push(&bytes[second..]));
            assert_eq!(lines, whole, "cut at {first} and {second}");
            assert_eq!(splitter.flush(), None);
        }
    }
}

#[test]
fn overlong_line_is_cut_flagged_and_counted() {
    let mut splitter = LineSplitter::new(8);
    let lines = splitter.push(b"12345678\n0123456789abc\nok\n");
    assert_eq!(texts(&lines), ["12345678", "01234567", "ok"]);
    assert_eq!(lines.iter().map(|line| line.truncated).collect::<Vec<_>>(), [false, true, false]);
    assert_eq!(splitter.overlong_lines(), 1);
    assert_eq!(splitter.discarded_bytes(), 5);
}

#[test]
fn overlong_line_fed_byte_by_byte_matches_one_chunk() {
    let stream = b"short\nthis line is far too long for the limit\r\nnext\n";
    let mut whole = LineSplitter::new(10);
    let expected = whole.push(stream);
    let mut bytewise = LineSplitter::new(10);
    let lines: Vec<_> = stream.iter().flat_map(|byte| bytewise.push(std::slice::from_ref(byte))).collect();
    assert_eq!(lines, expected);
    assert_eq!(texts(&lines), ["short", "this line ", "next"]);
    assert_eq!(bytewise.discarded_bytes(), whole.discarded_bytes());
    assert_eq!(bytewise.discarded_bytes(), 29);
}

#[test]
fn unterminated_overlong_tail_is_not_flushed_again() {
    let mut splitter = LineSplitter::new(4);
    assert_eq!(texts(&splitter.push(b"abcdefgh")), ["abcd"]);
    assert_eq!(splitter.flush(), None);
    assert_eq!(texts(&splitter.push(b"xy\n")), ["xy"]);
}

#[test]
fn garbage_bytes_are_replaced_and_do_not_spoil_labels() {
    let mut splitter = LineSplitter::default();
    let lines = splitter.push(b"\xff\xfe\x00\x80temp:22.5,hum:40\n\xc3\x28\x01\n");
    assert_eq!(lines.len(), 2);
    assert!(lines[0].text.contains(char::REPLACEMENT_CHARACTER));
    let mut decoder = TextDecoder::default();
    let first = decoder.decode(&lines[0].text);
    assert_eq!(values(&first), [("temp", 22.5), ("hum", 40.0)]);
    let second = decoder.decode(&lines[1].text);
    assert!(second.values.is_empty());
    assert_eq!(decoder.channels(), ["temp", "hum"]);
}

proptest! {
    #[test]
    fn arbitrary_bytes_stay_bounded_and_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        cut in 0usize..600,
    ) {
        let cut = cut.min(bytes.len());
        let mut splitter = LineSplitter::new(32);
        let mut decoder = TextDecoder::default();
        let mut lines = splitter.push(&bytes[..cut]);
        lines.extend(splitter.push(&bytes[cut..]));
        lines.extend(splitter.flush());
        for line in &lines {
            // Each kept byte becomes at most one U+FFFD (3 bytes).
            prop_assert!(line.text.len() <= 32 * 3);
            prop_assert!(!line.text.contains(['\n', '\r']));
            let parsed = decoder.decode(&line.text);
            prop_assert!(parsed.values.iter().all(|(_, value)| value.is_finite()));
        }
        prop_assert!(decoder.channels().len() <= MAX_CHANNELS);
    }
}

// ---- Plotter

#[test]
fn plotter_reads_an_arduino_sketch() {
    // Serial.print("temp:"); Serial.print(t); Serial.print(","); Serial.print("hum:"); Serial.print(h);
    // Serial.print(","); Serial.print("bat:"); Serial.println(v);
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    let parsed = decoder.decode("temp:22.50,hum:40.00,bat:3.71\r");
    assert_eq!(parsed.kind, LineKind::Data);
    assert_eq!(values(&parsed), [("temp", 22.5), ("hum", 40.0), ("bat", 3.71)]);
    assert!(parsed.ignored.is_empty() && parsed.warnings.is_empty());
}

#[test]
fn plotter_accepts_any_mix_of_separators() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    let parsed = decoder.decode("temp:22.5,hum:40 bat:3.7\ttx:1");
    assert_eq!(values(&parsed), [("temp", 22.5), ("hum", 40.0), ("bat", 3.7), ("tx", 1.0)]);
    let parsed = decoder.decode(" ,temp:1,, \t hum:2\t\t,bat:3 , ");
    assert_eq!(values(&parsed), [("temp", 1.0), ("hum", 2.0), ("bat", 3.0)]);
}

#[test]
fn bare_numbers_are_named_by_position() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    assert_eq!(values(&decoder.decode("1.0 2.0 3.0")), [("1", 1.0), ("2", 2.0), ("3", 3.0)]);
    assert_eq!(values(&decoder.decode("a:1 5")), [("a", 1.0), ("1", 5.0)]);
    assert_eq!(values(&decoder.decode("x:1 7,y:2\t8")), [("x", 1.0), ("1", 7.0), ("y", 2.0), ("2", 8.0)]);
}

#[test]
fn plotter_numbers_accept_signs_and_exponents_but_not_nan_or_inf() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    let parsed = decoder.decode("a:+1 b:-2.5 c:1e3 d:-4.2E-2 e:.5 f:7");
    assert_eq!(values(&parsed), [("a", 1.0), ("b", -2.5), ("c", 1000.0), ("d", -0.042), ("e", 0.5), ("f", 7.0)]);
    let parsed = decoder.decode("a:nan b:inf c:-inf d:ovf e:1e999 NaN infinity 3");
    assert_eq!(values(&parsed), [("1", 3.0)]);
    assert_eq!(parsed.ignored, ["a:nan", "b:inf", "c:-inf", "d:ovf", "e:1e999", "NaN", "infinity"]);
}

#[test]
fn plotter_reports_tokens_it_ignores() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    let parsed = decoder.decode("temp:22.5 status:ok hello :4 rssi=-70");
    assert_eq!(values(&parsed), [("temp", 22.5)]);
    assert_eq!(parsed.ignored, ["status:ok", "hello", ":4", "rssi=-70"]);
    let parsed = decoder.decode("just some words");
    assert_eq!(parsed.kind, LineKind::Data);
    assert!(parsed.values.is_empty());
    assert_eq!(parsed.ignored.len(), 3);
}

#[test]
fn plotter_joins_a_label_and_a_value_split_by_a_space() {
    // Serial.print("temp: "); Serial.print(t); Serial.print(" hum: "); Serial.println(h);
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    let parsed = decoder.decode("temp: 22.5 hum: 40 state: ok");
    assert_eq!(values(&parsed), [("temp", 22.5), ("hum", 40.0)]);
    assert_eq!(parsed.ignored, ["state:", "ok"]);
}

#[test]
fn label_is_everything_before_the_last_colon() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    assert_eq!(values(&decoder.decode("adc:ch0:512")), [("adc:ch0", 512.0)]);
}

// ---- CSV

#[test]
fn csv_with_a_header_names_values_by_column() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    assert_eq!(decoder.decode("time_ms,temp_c,hum_pct").kind, LineKind::Header);
    assert_eq!(decoder.csv_columns(), Some(&["time_ms".to_string(), "temp_c".into(), "hum_pct".into()][..]));
    let parsed = decoder.decode("100,22.5,40");
    assert_eq!(values(&parsed), [("time_ms", 100.0), ("temp_c", 22.5), ("hum_pct", 40.0)]);
    assert!(parsed.warnings.is_empty());
}

#[test]
fn csv_with_semicolons_quotes_and_decimal_commas() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    assert_eq!(decoder.decode("\"Temp, °C\" ; \"Hum (%)\";\"say \"\"hi\"\"\"").kind, LineKind::Header);
    assert_eq!(decoder.csv_columns(), Some(&["Temp, °C".to_string(), "Hum (%)".into(), "say \"hi\"".into()][..]));
    let parsed = decoder.decode("22,5;40;\"-1.5\"");
    assert_eq!(values(&parsed), [("Temp, °C", 22.5), ("Hum (%)", 40.0), ("say \"hi\"", -1.5)]);
}

#[test]
fn csv_with_tabs() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    // Two tabs against one comma: tab wins, and the comma stays inside a name.
    decoder.decode("t\tv,a\tvb");
    assert_eq!(values(&decoder.decode("1\t2\t3")), [("t", 1.0), ("v,a", 2.0), ("vb", 3.0)]);
}

#[test]
fn csv_empty_cells_are_missing_and_short_or_long_lines_warn() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    decoder.decode("a,b,c");
    let parsed = decoder.decode("1,,3");
    assert_eq!(values(&parsed), [("a", 1.0), ("c", 3.0)]);
    assert!(parsed.warnings.is_empty());

    let parsed = decoder.decode("1,2");
    assert_eq!(values(&parsed), [("a", 1.0), ("b", 2.0)]);
    assert_eq!(parsed.warnings, [LineWarning::CellCount { expected: 3, found: 2 }]);

    let parsed = decoder.decode("1,2,3,4");
    assert_eq!(values(&parsed), [("a", 1.0), ("b", 2.0), ("c", 3.0)]);
    assert_eq!(parsed.ignored, ["4"]);
    assert_eq!(parsed.warnings, [LineWarning::CellCount { expected: 3, found: 4 }]);

    let parsed = decoder.decode("1,err,3");
    assert_eq!(values(&parsed), [("a", 1.0), ("c", 3.0)]);
    assert_eq!(parsed.ignored, ["err"]);
}

#[test]
fn csv_repeated_header_after_a_board_reset_is_not_data() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    decoder.decode("time,temp");
    decoder.decode("0,21");
    let parsed = decoder.decode("time,temp");
    assert_eq!(parsed.kind, LineKind::Header);
    assert!(parsed.ignored.is_empty() && parsed.warnings.is_empty());
    // A different text line with the delimiter does not rename the columns.
    let parsed = decoder.decode("WiFi up, IP 10.0.0.2");
    assert_eq!(parsed.kind, LineKind::Data);
    assert_eq!(decoder.csv_columns(), Some(&["time".to_string(), "temp".into()][..]));
}

#[test]
fn csv_chosen_mid_stream_keeps_a_numeric_first_line() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    let parsed = decoder.decode("1.5,,3");
    assert_eq!(values(&parsed), [("1", 1.5), ("3", 3.0)]);
    assert_eq!(parsed.warnings, [LineWarning::NoHeader { columns: 3 }]);
    assert_eq!(values(&decoder.decode("4,5,6")), [("1", 4.0), ("2", 5.0), ("3", 6.0)]);
}

#[test]
fn csv_header_given_explicitly() {
    let mut decoder = TextDecoder::default();
    decoder.set_csv_header("time_ms;temp_c");
    assert_eq!(decoder.format(), TextFormat::Csv);
    assert_eq!(decoder.detected(), DetectedFormat::Csv);
    assert_eq!(values(&decoder.decode("10;21,5")), [("time_ms", 10.0), ("temp_c", 21.5)]);
}

// ---- Detection

#[test]
fn detects_plotter() {
    let mut decoder = TextDecoder::default();
    assert_eq!(decoder.detected(), DetectedFormat::Detecting);
    assert_eq!(decoder.decode("Sketch started").kind, LineKind::Text);
    assert_eq!(decoder.detected(), DetectedFormat::Detecting);
    let parsed = decoder.decode("temp:22.5,hum:40");
    assert_eq!(values(&parsed), [("temp", 22.5), ("hum", 40.0)]);
    assert_eq!(decoder.detected(), DetectedFormat::Plotter);
    assert_eq!(values(&decoder.decode("1 2")), [("1", 1.0), ("2", 2.0)]);
}

#[test]
fn detects_bare_number_plotter_on_the_first_line() {
    let mut decoder = TextDecoder::default();
    assert_eq!(values(&decoder.decode("512\t498\t20")), [("1", 512.0), ("2", 498.0), ("3", 20.0)]);
    assert_eq!(decoder.detected(), DetectedFormat::Plotter);
}

#[test]
fn detects_csv_from_header_and_numeric_line() {
    let mut decoder = TextDecoder::default();
    assert_eq!(decoder.decode("time_ms,temp_c,hum_pct").kind, LineKind::Text);
    assert_eq!(decoder.decode("").kind, LineKind::Empty);
    let parsed = decoder.decode("0,22.5,");
    assert_eq!(decoder.detected(), DetectedFormat::Csv);
    assert_eq!(values(&parsed), [("time_ms", 0.0), ("temp_c", 22.5)]);
    assert_eq!(values(&decoder.decode("100,22.6,41")), [("time_ms", 100.0), ("temp_c", 22.6), ("hum_pct", 41.0)]);
    assert_eq!(decoder.channels(), ["time_ms", "temp_c", "hum_pct"]);
}

#[test]
fn detects_csv_with_semicolons_after_a_banner() {
    let mut decoder = TextDecoder::default();
    let lines = ["Booting sensor", "zeit;temperatur", "0;21,5", "1;21,6"];
    let decoded = decode_all(&mut decoder, &lines);
    assert_eq!(decoder.detected(), DetectedFormat::Csv);
    assert_eq!(
        decoded,
        [
            vec![("zeit".to_string(), 0.0), ("temperatur".to_string(), 21.5)],
            vec![("zeit".to_string(), 1.0), ("temperatur".to_string(), 21.6)],
        ]
    );
}

#[test]
fn header_like_line_not_followed_by_numbers_is_not_csv() {
    let mut decoder = TextDecoder::default();
    decoder.decode("Hello, world");
    let parsed = decoder.decode("temp:1,hum:2");
    assert_eq!(decoder.detected(), DetectedFormat::Plotter);
    assert_eq!(values(&parsed), [("temp", 1.0), ("hum", 2.0)]);

    // Same cell count but a mismatching shape: plotter values of the second line are still kept.
    let mut decoder = TextDecoder::default();
    decoder.decode("a,b,c");
    let parsed = decoder.decode("1,2");
    assert_eq!(decoder.detected(), DetectedFormat::Plotter);
    assert_eq!(values(&parsed), [("1", 1.0), ("2", 2.0)]);
}

#[test]
fn detects_raw_after_five_lines_without_values_but_keeps_looking() {
    let mut decoder = TextDecoder::default();
    let banner = ["Booting...", "WiFi: connecting", "", "WiFi: connected", "NTP: ok", "Ready."];
    for (i, line) in banner.iter().enumerate() {
        assert!(decoder.decode(line).values.is_empty());
        // The blank line does not count.
        let expected = if i < 5 { DetectedFormat::Detecting } else { DetectedFormat::Raw };
        assert_eq!(decoder.detected(), expected, "after line {i}");
    }
    assert_eq!(values(&decoder.decode("temp:20")), [("temp", 20.0)]);
    assert_eq!(decoder.detected(), DetectedFormat::Plotter);
}

#[test]
fn no_value_bearing_line_is_lost_at_any_chunk_split() {
    let stream = b"\xf0\x9fboot\r\nvalues follow\r\ntemp:22.5,hum:40\r\n1 2\r\ntemp:22.6,hum:41";
    let (whole, format) = run_chunks(stream, &[]);
    assert_eq!(format, DetectedFormat::Plotter);
    assert_eq!(whole.len(), 3);
    for cut in 0..=stream.len() {
        assert_eq!(run_chunks(stream, &[cut]), (whole.clone(), format), "cut at {cut}");
    }

    let csv = b"time,temp\r\n0,21.5\r\n1,21.6\r\n";
    let (whole, format) = run_chunks(csv, &[]);
    assert_eq!(format, DetectedFormat::Csv);
    assert_eq!(whole.len(), 2);
    for cut in 0..=csv.len() {
        assert_eq!(run_chunks(csv, &[cut]), (whole.clone(), format), "cut at {cut}");
    }
}

// ---- Override, names, bounds

#[test]
fn manual_override_wins_over_detection() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    decoder.decode("a,b");
    assert_eq!(values(&decoder.decode("1,2")), [("1", 1.0), ("2", 2.0)]);

    decoder.set_format(TextFormat::Raw);
    let parsed = decoder.decode("temp:22.5");
    assert_eq!(parsed.kind, LineKind::Text);
    assert!(parsed.values.is_empty());
    assert_eq!(decoder.detected(), DetectedFormat::Raw);

    decoder.set_format(TextFormat::Csv);
    assert_eq!(decoder.detected(), DetectedFormat::Csv);
    assert_eq!(decoder.decode("x,y").kind, LineKind::Header);
    assert_eq!(values(&decoder.decode("3,4")), [("x", 3.0), ("y", 4.0)]);

    decoder.set_format(TextFormat::Auto);
    assert_eq!(decoder.detected(), DetectedFormat::Detecting);
    decoder.decode("k:9");
    assert_eq!(decoder.detected(), DetectedFormat::Plotter);
    // Channels survive a format change.
    assert_eq!(decoder.channels(), ["1", "2", "x", "y", "k"]);
    decoder.reset();
    assert!(decoder.channels().is_empty());
    assert_eq!(decoder.format(), TextFormat::Auto);
}

#[test]
fn windows_line_endings_are_stripped() {
    let mut decoder = TextDecoder::default();
    assert_eq!(decoder.decode("time,temp\r").kind, LineKind::Text);
    assert_eq!(values(&decoder.decode("0,21\r")), [("time", 0.0), ("temp", 21.0)]);
    assert_eq!(decoder.channels(), ["time", "temp"]);
    assert_eq!(decoder.decode("\r").kind, LineKind::Empty);
}

#[test]
fn channels_are_listed_once_in_first_seen_order() {
    let mut decoder = TextDecoder::default();
    decoder.decode("b:1 a:2");
    decoder.decode("a:3 c:4 b:5");
    decoder.decode("7");
    assert_eq!(decoder.channels(), ["b", "a", "c", "1"]);
}

#[test]
fn channel_names_are_bounded() {
    let mut decoder = TextDecoder::new(TextFormat::Plotter);
    for i in 0..MAX_CHANNELS - 1 {
        decoder.decode(&format!("c{i}:1"));
    }
    let parsed = decoder.decode("c0:2 new1:3 new2:4 new3:5");
    assert_eq!(values(&parsed), [("c0", 2.0), ("new1", 3.0)]);
    assert_eq!(parsed.warnings, [LineWarning::TooManyChannels { dropped: 2 }]);
    assert_eq!(decoder.channels().len(), MAX_CHANNELS);
}

#[test]
fn format_names_parse_and_print() {
    for format in TextFormat::ALL {
        assert_eq!(format.to_string().parse::<TextFormat>(), Ok(format));
    }
    assert_eq!(" CSV ".parse::<TextFormat>(), Ok(TextFormat::Csv));
    assert_eq!("plotter".parse::<TextFormat>(), Ok(TextFormat::Plotter));
    let error = "json".parse::<TextFormat>().err();
    assert_eq!(error, Some(TextFormatError("json".into())));
    assert_eq!(
        error.map(|e| e.to_string()).as_deref(),
        Some("`json` is not a text format; use auto, plotter, csv or raw")
    );
    assert_eq!(TextFormat::default(), TextFormat::Auto);
}

#[test]
fn a_header_after_numbered_columns_names_them() {
    let mut decoder = TextDecoder::new(TextFormat::Csv);
    let first = decoder.decode("10;1013,5;120");
    assert_eq!(values(&first), vec![("1", 10.0), ("2", 1013.5), ("3", 120.0)]);
    assert_eq!(decoder.decode("time_ms;pressure_hpa;altitude_m").kind, LineKind::Header);
    assert_eq!(
        values(&decoder.decode("20;1014,0;121")),
        vec![("time_ms", 20.0), ("pressure_hpa", 1014.0), ("altitude_m", 121.0)]
    );
    // Once named, a differently named line is data (or text), never a new header.
    assert_ne!(decoder.decode("a;b;c").kind, LineKind::Header);
}
