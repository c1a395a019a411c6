//! Units with SI prefixes: turning a device's `nA` or `mV` into amperes or volts, so that traces, statistics
//! and budgets all work in base units whatever the board reports.

/// The factor to base units and the base unit for a prefixed ampere or volt unit (`"uA"` → `(1e-6, "A")`);
/// `None` for anything else (°C, %, counts), which stays in the device's own unit.
pub fn to_base_unit(unit: &str) -> Option<(f64, &'static str)> {
    let unit = unit.trim();
    let (prefix, base) = if let Some(prefix) = unit.strip_suffix('A') {
        (prefix, "A")
    } else if let Some(prefix) = unit.strip_suffix('V') {
        (prefix, "V")
    } else {
        return None;
    };
    let factor = match prefix {
        "" => 1.0,
        "m" => 1e-3,
        "u" | "µ" | "μ" => 1e-6,
        "n" => 1e-9,
        "p" => 1e-12,
        "k" => 1e3,
        _ => return None,
    };
    Some((factor, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_map_to_base_units() {
        assert_eq!(to_base_unit("nA"), Some((1e-9, "A")));
        assert_eq!(to_base_unit("µA"), Some((1e-6, "A")));
        assert_eq!(to_base_unit("uA"), Some((1e-6, "A")));
        assert_eq!(to_base_unit("mV"), Some((1e-3, "V")));
        assert_eq!(to_base_unit("A"), Some((1.0, "A")));
        assert_eq!(to_base_unit("°C"), None);
        assert_eq!(to_base_unit("xA"), None);
        assert_eq!(to_base_unit("dBm"), None);
    }
}
