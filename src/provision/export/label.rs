//! TR005 QR labels: the payload, an SVG label for printing and a PNG of the QR code.
//!
//! The payload is `LW:D0:<JoinEUI>:<DevEUI>:<ProfileID>:S<serial>` in upper-case hex, the form LoRa Alliance
//! TR005 defines and The Things Stack's QR reader takes. The serial is the ledger serial in decimal: it is the
//! number that finds the device's row (and is printed under the code too), while the 64-bit factory id stays
//! in the ledger and the export descriptions. Labels never carry the AppKey: every label text is checked for
//! it before it is returned, as a guard against a future field that would leak it.
//!
//! The QR code uses error correction level M, which keeps the payload to a version 3 code (29 modules) while
//! surviving a scuffed label. Both renderings keep the 4-module quiet zone QR readers need.

use qrcode::{Color, EcLevel, QrCode};

use super::{ExportError, check};
use crate::provision::record::DeviceRecord;

/// The largest PNG module size drawn: 64 px is 8 mm per module at 203 dpi, beyond any label; it bounds the
/// image size.
pub(super) const MAX_MODULE_PX: u32 = 64;

/// Light modules around the code, as the QR specification asks.
const QUIET_ZONE_MODULES: usize = 4;

/// Printed size of one module in the SVG label: 0.5 mm, 4 dots of a 203 dpi thermal printer and above what
/// phone cameras read reliably.
const SVG_MODULE_MM: f64 = 0.5;

/// The TR005 QR payload: LW:D0:<JoinEUI>:<DevEUI>:<ProfileID>[:S<serial>]… ; never the AppKey.
///
/// The ProfileID must be 8 hex digits (either case in the ledger; written upper-case). The serial is the
/// ledger serial in decimal.
pub fn tr005_payload(record: &DeviceRecord) -> Result<String, ExportError> {
    check::serial(record)?;
    let profile_id = profile_id(record)?;
    let payload = format!("LW:D0:{}:{}:{}:S{}", record.join_eui, record.dev_eui, profile_id, record.serial);
    refuse_key(&payload, record)?;
    Ok(payload)
}

/// A printable label as SVG text: the QR code, then the DevEUI, serial and ProfileID in human-readable form.
///
/// One user unit is one module, printed 0.5 mm wide (`width`/`height` are given in millimetres); the modules
/// are one `<path>` of squares drawn with crisp edges. Fill and stroke are spelled out on every element
/// because some label printer drivers and converters do not apply the SVG defaults.
pub fn label_svg(record: &DeviceRecord) -> Result<String, ExportError> {
    let payload = tr005_payload(record)?;
    let matrix = Matrix::encode(record, &payload)?;
    let profile_id = profile_id(record)?;
    let lines = [format!("DevEUI {}", record.dev_eui), format!("S/N {}  Profile {}", record.serial, profile_id)];

    let width = matrix.size + 2 * QUIET_ZONE_MODULES;
    let width_units = width as f64;
    let longest = lines.iter().map(|line| line.chars().count()).max().unwrap_or(1) as f64;
    // Monospace glyphs are about 0.6 em wide; the text keeps two modules of margin on each side.
    let font_size = (3.0f64).min((width_units - 4.0) / (longest * 0.6));
    let first_baseline = width_units + font_size;
    let second_baseline = first_baseline + font_size * 1.3;
    let height_units = second_baseline + 2.0;

    let mut svg = String::new();
    svg.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.2}mm\" height=\"{:.2}mm\" viewBox=\"0 0 {} {:.2}\" \
         shape-rendering=\"crispEdges\">\n",
        width_units * SVG_MODULE_MM,
        height_units * SVG_MODULE_MM,
        width,
        height_units
    ));
    svg.push_str(&format!("<title>{}</title>\n", escape(&format!("LoRaWAN device {}", record.dev_eui))));
    svg.push_str(&format!("<rect width=\"{width}\" height=\"{height_units:.2}\" fill=\"#fff\" stroke=\"none\"/>\n"));
    svg.push_str(&format!("<path fill=\"#000\" stroke=\"none\" d=\"{}\"/>\n", matrix.svg_path()));
    for (line, baseline) in lines.iter().zip([first_baseline, second_baseline]) {
        svg.push_str(&format!(
            "<text x=\"{:.2}\" y=\"{baseline:.2}\" font-family=\"monospace\" font-size=\"{font_size:.2}\" \
             text-anchor=\"middle\" fill=\"#000\" stroke=\"none\">{}</text>\n",
            width_units / 2.0,
            escape(line)
        ));
    }
    svg.push_str("</svg>\n");
    refuse_key(&svg, record)?;
    Ok(svg)
}

/// The QR code as a 1-bit grayscale PNG: `module_px` pixels per module (1 to 64) and the 4-module
/// quiet zone on every side.
pub fn label_png(record: &DeviceRecord, module_px: u32) -> Result<Vec<u8>, ExportError> {
    if module_px == 0 || module_px > MAX_MODULE_PX {
        return Err(ExportError::InvalidModuleSize { module_px, max: MAX_MODULE_PX });
    }
    let payload = tr005_payload(record)?;
    let matrix = Matrix::encode(record, &payload)?;
    let module_px = module_px as usize;
    let side_px = (matrix.size + 2 * QUIET_ZONE_MODULES) * module_px;
    let row_bytes = side_px.div_ceil(8);
    // 1 is white in 1-bit grayscale: start all white and clear the bits of dark modules.
    let mut pixels = vec![0xFFu8; row_bytes * side_px];
    for y in 0..side_px {
        let module_y = (y / module_px).checked_sub(QUIET_ZONE_MODULES);
        for x in 0..side_px {
            let module_x = (x / module_px).checked_sub(QUIET_ZONE_MODULES);
            if let (Some(mx), Some(my)) = (module_x, module_y)
                && matrix.dark(mx, my)
            {
                pixels[y * row_bytes + x / 8] &= !(0x80u8 >> (x % 8));
            }
        }
    }
    let side = u32::try_from(side_px)
        .map_err(|_| ExportError::InvalidModuleSize { module_px: module_px as u32, max: MAX_MODULE_PX })?;
    let png_error = |error: png::EncodingError| ExportError::Encode { format: "PNG label", detail: error.to_string() };
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&pixels).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// The record's ProfileID, checked as 8 hex digits and upper-cased.
fn profile_id(record: &DeviceRecord) -> Result<String, ExportError> {
    let profile_id = record.network.tr005_profile_id.as_str();
    if profile_id.len() == 8 && profile_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(profile_id.to_ascii_uppercase())
    } else {
        Err(ExportError::InvalidProfileId { serial: record.serial, profile_id: profile_id.to_string() })
    }
}

/// Refuses `text` if the record's AppKey appears in it, in either letter case.
fn refuse_key(text: &str, record: &DeviceRecord) -> Result<(), ExportError> {
    if text.to_ascii_uppercase().contains(&record.app_key.expose_hex()) {
        return Err(ExportError::KeyInLabel { serial: record.serial });
    }
    Ok(())
}

/// XML text escaping; label texts are hex and digits today, but a label must stay well-formed regardless.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The QR module matrix, row by row, without the quiet zone.
struct Matrix {
    size: usize,
    modules: Vec<Color>,
}

impl Matrix {
    fn encode(record: &DeviceRecord, payload: &str) -> Result<Matrix, ExportError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
            .map_err(|error| ExportError::Qr { serial: record.serial, detail: error.to_string() })?;
        Ok(Matrix { size: code.width(), modules: code.to_colors() })
    }

    fn dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.modules[y * self.size + x] == Color::Dark
    }

    /// Each horizontal run of dark modules as one rectangle, offset by the quiet zone.
    fn svg_path(&self) -> String {
        let mut path = String::new();
        for y in 0..self.size {
            let mut x = 0;
            while x < self.size {
                if !self.dark(x, y) {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < self.size && self.dark(x, y) {
                    x += 1;
                }
                let run = x - start;
                path.push_str(&format!("M{} {}h{run}v1h-{run}z", start + QUIET_ZONE_MODULES, y + QUIET_ZONE_MODULES));
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::export::tests::record_a;

    #[test]
    fn a_key_in_a_label_text_is_refused() {
        let record = record_a();
        let leaked = format!("LW:D0:{}", record.app_key.expose_hex().to_ascii_lowercase());
        assert!(matches!(refuse_key(&leaked, &record), Err(ExportError::KeyInLabel { serial: 17 })));
        assert!(refuse_key("LW:D0:70B3D57ED0000000", &record).is_ok());
    }

    #[test]
    fn svg_path_draws_one_rectangle_per_dark_run() {
        use Color::{Dark as D, Light as L};
        let matrix = Matrix { size: 3, modules: vec![D, D, L, L, L, L, L, D, D] };
        assert_eq!(matrix.svg_path(), "M4 4h2v1h-2zM5 6h2v1h-2z");
    }

    #[test]
    fn profile_id_is_upper_cased_and_checked() {
        let mut record = record_a();
        record.network.tr005_profile_id = "000af8be".into();
        assert_eq!(profile_id(&record).unwrap(), "000AF8BE");
        record.network.tr005_profile_id = "000AF8B".into();
        assert!(matches!(profile_id(&record), Err(ExportError::InvalidProfileId { .. })));
    }
}
