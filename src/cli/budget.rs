//! `benchtop budget`: the average current and battery lifetime of a power profile given as states on the
//! command line, a profile file or a shipped preset, with a what-if on the reporting interval.
//!
//! [`report`] is the one printing path: whatever produces a [`Profile`] (the command line, a file, a
//! segmented trace) hands it over with a [`Battery`] and gets the table or the JSON back.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use serde::Serialize;

use crate::model::budget::battery::HOURS_PER_YEAR;
use crate::model::budget::{Battery, Lifetime, Profile, ProfileDocument, State, load_preset, with_interval};

/// Options of `benchtop budget`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("profile_source").required(true).args(["states", "profile", "preset", "from_trace"])))]
pub struct BudgetArgs {
    /// A state as NAME:CURRENT_MA:PERCENT, once per state (`--state sleep:0.01:99.9 --state tx:120:0.1`).
    #[arg(long = "state", value_name = "NAME:CURRENT_MA:PERCENT", value_parser = parse_state)]
    pub states: Vec<State>,
    /// A profile file (TOML; the format is in assets/presets/README.md).
    #[arg(long, value_name = "FILE.toml")]
    pub profile: Option<PathBuf>,
    /// A recorded trace (.btr): its current channel is segmented into states by level.
    #[arg(long, value_name = "X.btr")]
    pub from_trace: Option<PathBuf>,
    /// With --from-trace: the current channel's name (default: the first channel in amperes).
    #[arg(long, value_name = "NAME", requires = "from_trace")]
    pub channel: Option<String>,
    /// A shipped profile with its battery: wifi or lora.
    #[arg(long, value_name = "ID")]
    pub preset: Option<String>,
    /// Battery capacity, mAh; needed unless the profile has a [battery] table.
    #[arg(long)]
    pub capacity_mah: Option<f64>,
    /// Nominal battery voltage, V [default: the profile's battery, else 3.7].
    #[arg(long = "voltage", value_name = "V")]
    pub voltage_v: Option<f64>,
    /// Usable share of the capacity, 0–1 [default: the profile's battery, else 0.8].
    #[arg(long = "usable", value_name = "SHARE")]
    pub usable_share: Option<f64>,
    /// Self-discharge per year as a share of capacity [default: the profile's battery, else 0.02].
    #[arg(long = "self-discharge", value_name = "SHARE")]
    pub self_discharge_per_year: Option<f64>,
    /// Length of one cycle for states given with --state, s (needed for --interval-s).
    #[arg(long)]
    pub period_s: Option<f64>,
    /// What if the device reported every N seconds: the other states keep their duration, sleep absorbs the rest.
    #[arg(long, value_name = "N")]
    pub interval_s: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Reads `NAME:CURRENT_MA:PERCENT`; the name may itself contain colons, the percent may end in `%`.
pub fn parse_state(text: &str) -> Result<State, String> {
    const FORM: &str = "write NAME:CURRENT_MA:PERCENT, e.g. sleep:0.01:99.9";
    let mut parts = text.rsplitn(3, ':');
    let (Some(percent), Some(current), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("state `{text}` does not have three parts; {FORM}"));
    };
    if name.trim().is_empty() {
        return Err(format!("state `{text}` has no name; {FORM}"));
    }
    let current_ma: f64 = current
        .trim()
        .parse()
        .map_err(|_| format!("state `{text}`: current `{current}` is not a number; write NAME:CURRENT_MA:PERCENT"))?;
    let percent_value = percent.trim().trim_end_matches('%').trim();
    let percent: f64 = percent_value
        .parse()
        .map_err(|_| format!("state `{text}`: percent `{percent}` is not a number; write NAME:CURRENT_MA:PERCENT"))?;
    Ok(State::new(name.trim(), current_ma, percent / 100.0))
}

/// One state in [`BudgetReport`].
#[derive(Debug, Serialize)]
pub struct StateReport {
    /// Name.
    pub name: String,
    /// Mean current, mA.
    pub current_ma: f64,
    /// Share of the time, 0–1.
    pub share: f64,
    /// Share of the time, %.
    pub percent: f64,
    /// Seconds per period, when the period is known.
    pub duration_s: Option<f64>,
    /// What this state adds to the average current, mA.
    pub avg_contribution_ma: f64,
}

/// The baseline a what-if is measured against.
#[derive(Debug, Serialize)]
pub struct Baseline {
    /// The profile's own period, s.
    pub period_s: Option<f64>,
    /// Average current before the change, mA.
    pub avg_current_ma: f64,
    /// Plain lifetime before the change, h.
    pub lifetime_hours: f64,
    /// Derated lifetime before the change, h.
    pub derated_lifetime_hours: f64,
}

/// The JSON form of `benchtop budget`.
#[derive(Debug, Serialize)]
pub struct BudgetReport {
    /// The profile's name.
    pub profile: String,
    /// One cycle, s.
    pub period_s: Option<f64>,
    /// Time-weighted mean current, mA.
    pub avg_current_ma: f64,
    /// Capacity ÷ average current, h.
    pub lifetime_hours: f64,
    /// The same in 365-day years.
    pub lifetime_years: f64,
    /// With the usable share and self-discharge, h.
    pub derated_lifetime_hours: f64,
    /// The same in 365-day years.
    pub derated_lifetime_years: f64,
    /// Energy drawn per day at the nominal voltage, Wh.
    pub energy_per_day_wh: f64,
    /// The battery used.
    pub battery: Battery,
    /// The states.
    pub states: Vec<StateReport>,
    /// The profile before a what-if, when one was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

impl BudgetReport {
    /// The report of `profile` on `battery`, both valid.
    pub fn new(profile: &Profile, battery: &Battery) -> Self {
        let lifetime: Lifetime = battery.lifetime(profile.avg_current_ma());
        BudgetReport {
            profile: profile.name.clone(),
            period_s: profile.period_s,
            avg_current_ma: lifetime.avg_current_ma,
            lifetime_hours: lifetime.plain_hours,
            lifetime_years: lifetime.plain_years,
            derated_lifetime_hours: lifetime.derated_hours,
            derated_lifetime_years: lifetime.derated_years,
            energy_per_day_wh: lifetime.energy_per_day_wh,
            battery: battery.clone(),
            states: profile
                .states
                .iter()
                .enumerate()
                .map(|(i, s)| StateReport {
                    name: s.name.clone(),
                    current_ma: s.current_ma,
                    share: s.share,
                    percent: s.share * 100.0,
                    duration_s: profile.duration_s(i),
                    avg_contribution_ma: s.current_ma * s.share,
                })
                .collect(),
            baseline: None,
        }
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let mut out = match self.period_s {
            Some(period_s) => format!("{}, period {period_s} s\n\n", self.profile),
            None => format!("{}\n\n", self.profile),
        };
        out.push_str(&format!("{:<24} {:>14} {:>12} {:>12}\n", "state", "current", "share", "per period"));
        for s in &self.states {
            let duration = s.duration_s.map_or_else(|| "-".to_string(), |d| format!("{d:.3} s"));
            out.push_str(&format!("{:<24} {:>11.4} mA {:>10.4} % {:>12}\n", s.name, s.current_ma, s.percent, duration));
        }
        let b = &self.battery;
        out.push_str(&format!("\naverage current        {:.5} mA\n", self.avg_current_ma));
        out.push_str(&format!(
            "battery                {} mAh, {} V, {} % usable, {} %/year self-discharge\n",
            b.capacity_mah,
            b.voltage_v,
            b.usable_share * 100.0,
            b.self_discharge_per_year * 100.0
        ));
        out.push_str(&format!("lifetime, plain        {}\n", duration_text(self.lifetime_hours)));
        out.push_str(&format!("lifetime, derated      {}\n", duration_text(self.derated_lifetime_hours)));
        out.push_str(&format!("energy per day         {:.2} mWh\n", self.energy_per_day_wh * 1000.0));
        if let Some(base) = &self.baseline {
            let was = base.period_s.map_or_else(String::new, |p| format!(" instead of {p} s"));
            out.push_str(&format!(
                "\nwhat if: reporting every {} s{was}: average current {:.5} mA (was {:.5} mA), derated lifetime {:.2} years (was {:.2})\n",
                self.period_s.unwrap_or(f64::NAN),
                self.avg_current_ma,
                base.avg_current_ma,
                self.derated_lifetime_years,
                base.derated_lifetime_hours / HOURS_PER_YEAR,
            ));
        }
        out
    }

    /// The table, or pretty JSON, ending in a newline.
    pub fn render(&self, json: bool) -> anyhow::Result<String> {
        if json { Ok(serde_json::to_string_pretty(self)? + "\n") } else { Ok(self.to_table()) }
    }
}

/// `1234.5 h = 51.4 days = 0.14 years`.
fn duration_text(hours: f64) -> String {
    format!("{hours:.1} h = {:.1} days = {:.2} years", hours / 24.0, hours / HOURS_PER_YEAR)
}

/// The budget of `profile` on `battery` as printed by `benchtop budget` (a table, or JSON with `json`).
/// Checks both first; this is the path for any profile, including one segmented from a trace.
pub fn report(profile: &Profile, battery: &Battery, json: bool) -> anyhow::Result<String> {
    profile.validate()?;
    battery.validate()?;
    BudgetReport::new(profile, battery).render(json)
}

/// Runs `benchtop budget`.
pub fn run(args: BudgetArgs) -> anyhow::Result<()> {
    let (profile, file_battery) = profile_from(&args)?;
    let battery = battery_from(&args, file_battery)?;
    battery.validate()?;
    let text = match args.interval_s {
        None => report(&profile, &battery, args.json)?,
        Some(interval_s) => {
            let changed = with_interval(&profile, interval_s)?;
            let before = battery.lifetime(profile.avg_current_ma());
            let mut what_if = BudgetReport::new(&changed, &battery);
            what_if.baseline = Some(Baseline {
                period_s: profile.period_s,
                avg_current_ma: before.avg_current_ma,
                lifetime_hours: before.plain_hours,
                derated_lifetime_hours: before.derated_hours,
            });
            what_if.render(args.json)?
        }
    };
    print!("{text}");
    Ok(())
}

/// The profile the arguments name, and the battery its file carries, if any.
fn profile_from(args: &BudgetArgs) -> anyhow::Result<(Profile, Option<Battery>)> {
    if let Some(id) = &args.preset {
        let (profile, battery) = load_preset(id)?;
        return Ok((with_period(profile, args.period_s), Some(battery)));
    }
    if let Some(path) = &args.from_trace {
        return Ok((with_period(profile_from_trace(path, args.channel.as_deref())?, args.period_s), None));
    }
    if let Some(path) = &args.profile {
        let document = ProfileDocument::load(path)?;
        return Ok((with_period(document.profile, args.period_s), document.battery));
    }
    let profile = Profile::new("command line", args.period_s, args.states.clone())
        .context("the states given with --state do not make a profile")?;
    Ok((profile, None))
}

/// Windows a trace is cut into for segmentation.
const TRACE_WINDOWS: usize = 100_000;

/// The profile of a recorded trace: its current channel's window means, segmented by level.
pub fn profile_from_trace(path: &std::path::Path, channel: Option<&str>) -> anyhow::Result<Profile> {
    let trace = crate::trace::Trace::open(path)?;
    let channel = super::trace::pick_channel(&trace, channel)?;
    let def = trace.channel(channel).context("the channel vanished")?;
    if def.unit != "A" {
        anyhow::bail!(
            "channel `{}` is in `{}`, not amperes; name the current channel with --channel",
            def.name,
            def.unit
        );
    }
    let end_s = trace.time_of(channel, trace.sample_count(channel) as f64);
    let (means, window_s) = crate::trace::selection::window_means(&trace, channel, def.start_s, end_s, TRACE_WINDOWS)?;
    let segmentation =
        crate::model::budget::segment(&means, window_s, &crate::model::budget::SegmentOptions::default())
            .with_context(|| format!("could not find states in {}", path.display()))?;
    let name = path.file_stem().map_or_else(|| "trace".to_string(), |s| s.to_string_lossy().into_owned());
    Ok(segmentation.profile(&name))
}

/// `--period-s` overrides a file's period.
fn with_period(mut profile: Profile, period_s: Option<f64>) -> Profile {
    if period_s.is_some() {
        profile.period_s = period_s;
    }
    profile
}

/// The file's battery (or the defaults) with the command line's values on top.
fn battery_from(args: &BudgetArgs, file_battery: Option<Battery>) -> anyhow::Result<Battery> {
    let mut battery = match (file_battery, args.capacity_mah) {
        (Some(battery), _) => battery,
        (None, Some(_)) => Battery::default(),
        (None, None) => {
            anyhow::bail!("the battery capacity is unknown; give it with --capacity-mah (e.g. --capacity-mah 3000)")
        }
    };
    if let Some(capacity_mah) = args.capacity_mah {
        battery.capacity_mah = capacity_mah;
    }
    if let Some(voltage_v) = args.voltage_v {
        battery.voltage_v = voltage_v;
    }
    if let Some(usable_share) = args.usable_share {
        battery.usable_share = usable_share;
    }
    if let Some(per_year) = args.self_discharge_per_year {
        battery.self_discharge_per_year = per_year;
    }
    Ok(battery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_with_colons_in_names_and_percent_signs() {
        let state = parse_state("radio: rx:12.5:3%").unwrap();
        assert_eq!(state, State::new("radio: rx", 12.5, 0.03));
        assert_eq!(
            parse_state("sleep:abc:99").unwrap_err(),
            "state `sleep:abc:99`: current `abc` is not a number; write NAME:CURRENT_MA:PERCENT"
        );
        assert!(parse_state("sleep:0.01").unwrap_err().contains("does not have three parts"));
        assert!(parse_state("sleep:0.01:lots").unwrap_err().contains("percent `lots` is not a number"));
        assert!(parse_state(":1:100").unwrap_err().contains("has no name"));
    }

    #[test]
    fn the_table_shows_states_and_both_lifetimes() {
        let (profile, battery) = load_preset("wifi").unwrap();
        let table = report(&profile, &battery, false).unwrap();
        assert!(table.contains("average current        0.43994 mA"), "{table}");
        assert!(table.lines().any(|l| l.starts_with("WiFi transmit") && l.contains("0.120 s")), "{table}");
        let hours = 3000.0 / 0.43994;
        assert!(table.contains(&format!("lifetime, plain        {hours:.1} h")), "{table}");
        let mut bad = battery.clone();
        bad.capacity_mah = -1.0;
        assert!(report(&profile, &bad, false).unwrap_err().to_string().contains("not a positive number"));
    }
}
