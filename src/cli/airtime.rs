//! `benchtop airtime`: LoRa time on air of one packet, the spacing a duty-cycle limit imposes and the charge
//! of one uplink (a table, or `--json`). The arithmetic is in [`crate::model::budget::radio`].

use clap::{ArgGroup, Args, ValueEnum};
use serde::Serialize;

use crate::model::budget::radio::{
    LORAWAN_OVERHEAD_BYTES, LoraSettings, LowDataRate, app_payload_to_phy, min_spacing_s, uplink_charge,
};

/// Options of `benchtop airtime`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("payload_size").required(true).args(["payload_bytes", "app_payload_bytes"])))]
pub struct AirtimeArgs {
    /// Spreading factor, 5–12.
    #[arg(long = "sf", value_name = "SF")]
    pub spreading_factor: u8,
    /// Bandwidth, kHz.
    #[arg(long = "bw", value_name = "KHZ", default_value_t = 125.0)]
    pub bandwidth_khz: f64,
    /// Coding rate 1–4, for 4/5 to 4/8.
    #[arg(long = "cr", value_name = "CR", default_value_t = 1)]
    pub coding_rate: u8,
    /// PHY payload, bytes (for LoRaWAN: application payload + 13).
    #[arg(long = "payload", value_name = "BYTES")]
    pub payload_bytes: Option<usize>,
    /// LoRaWAN application payload, bytes; 13 bytes of LoRaWAN overhead are added.
    #[arg(long = "app-payload", value_name = "BYTES")]
    pub app_payload_bytes: Option<usize>,
    /// Preamble, symbols.
    #[arg(long = "preamble", value_name = "SYMBOLS", default_value_t = 8)]
    pub preamble_symbols: u16,
    /// Payload CRC off (LoRaWAN downlinks).
    #[arg(long)]
    pub no_crc: bool,
    /// Implicit header (fixed-length packets).
    #[arg(long)]
    pub implicit_header: bool,
    /// Low-data-rate optimisation: auto (on when a symbol lasts over 16 ms), on or off.
    #[arg(long, value_enum, default_value_t = LdroArg::Auto)]
    pub ldro: LdroArg,
    /// Duty-cycle limit as a fraction (0.01 = 1 %, EU868): prints the shortest spacing between uplinks.
    #[arg(long, value_name = "FRACTION")]
    pub duty_cycle: Option<f64>,
    /// Current while transmitting, mA: prints the charge of one uplink.
    #[arg(long, value_name = "MA")]
    pub tx_current_ma: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--ldro` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LdroArg {
    /// On when a symbol lasts longer than 16 ms.
    Auto,
    /// Forced on.
    On,
    /// Forced off.
    Off,
}

/// The JSON form of `benchtop airtime`.
#[derive(Debug, Serialize)]
pub struct AirtimeReport {
    /// Spreading factor.
    pub spreading_factor: u8,
    /// Bandwidth, Hz.
    pub bandwidth_hz: f64,
    /// Coding rate as `4/5` … `4/8`.
    pub coding_rate: String,
    /// PHY payload, bytes.
    pub payload_bytes: usize,
    /// Application payload, bytes, when given that way.
    pub app_payload_bytes: Option<usize>,
    /// Preamble used, symbols.
    pub preamble_symbols: u16,
    /// Payload CRC on.
    pub crc: bool,
    /// Implicit header.
    pub implicit_header: bool,
    /// Low-data-rate optimisation on.
    pub low_data_rate_optimize: bool,
    /// One symbol, ms.
    pub symbol_time_ms: f64,
    /// Header and payload symbols.
    pub payload_symbols: u32,
    /// Preamble, ms.
    pub preamble_ms: f64,
    /// The whole packet, ms.
    pub time_on_air_ms: f64,
    /// The duty-cycle limit given.
    pub duty_cycle: Option<f64>,
    /// Shortest time between uplink starts under that limit, s.
    pub min_spacing_s: Option<f64>,
    /// The transmit current given, mA.
    pub tx_current_ma: Option<f64>,
    /// Charge of one uplink, µC.
    pub charge_uc: Option<f64>,
    /// Charge of one uplink, µAh.
    pub charge_uah: Option<f64>,
}

impl AirtimeReport {
    /// Computes the report for the arguments.
    pub fn new(args: &AirtimeArgs) -> anyhow::Result<Self> {
        let payload_bytes = match (args.payload_bytes, args.app_payload_bytes) {
            (Some(phy), _) => phy,
            (None, Some(app)) => app_payload_to_phy(app),
            (None, None) => anyhow::bail!("the payload size is missing; give --payload BYTES or --app-payload BYTES"),
        };
        let settings = LoraSettings {
            spreading_factor: args.spreading_factor,
            bandwidth_hz: args.bandwidth_khz * 1000.0,
            coding_rate: args.coding_rate,
            preamble_symbols: args.preamble_symbols,
            payload_bytes,
            crc_on: !args.no_crc,
            implicit_header: args.implicit_header,
            low_data_rate: match args.ldro {
                LdroArg::Auto => LowDataRate::Auto,
                LdroArg::On => LowDataRate::On,
                LdroArg::Off => LowDataRate::Off,
            },
        };
        let airtime = settings.time_on_air()?;
        let min_spacing_s = args.duty_cycle.map(|duty| min_spacing_s(airtime.time_on_air_ms, duty)).transpose()?;
        let charge = args.tx_current_ma.map(|ma| uplink_charge(airtime.time_on_air_ms, ma)).transpose()?;
        Ok(Self {
            spreading_factor: settings.spreading_factor,
            bandwidth_hz: settings.bandwidth_hz,
            coding_rate: format!("4/{}", settings.coding_rate + 4),
            payload_bytes,
            app_payload_bytes: args.app_payload_bytes,
            preamble_symbols: airtime.preamble_symbols,
            crc: settings.crc_on,
            implicit_header: settings.implicit_header,
            low_data_rate_optimize: airtime.low_data_rate_optimize,
            symbol_time_ms: airtime.symbol_time_ms,
            payload_symbols: airtime.payload_symbols,
            preamble_ms: airtime.preamble_ms,
            time_on_air_ms: airtime.time_on_air_ms,
            duty_cycle: args.duty_cycle,
            min_spacing_s,
            tx_current_ma: args.tx_current_ma,
            charge_uc: charge.map(|c| c.charge_uc),
            charge_uah: charge.map(|c| c.charge_uah),
        })
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let payload = match self.app_payload_bytes {
            Some(app) => {
                format!("{} B PHY payload ({app} B application + {LORAWAN_OVERHEAD_BYTES})", self.payload_bytes)
            }
            None => format!("{} B PHY payload", self.payload_bytes),
        };
        let mut out = format!(
            "SF{}, {} kHz, CR {}, {payload}, preamble {}, CRC {}, {} header\n\n",
            self.spreading_factor,
            self.bandwidth_hz / 1000.0,
            self.coding_rate,
            self.preamble_symbols,
            if self.crc { "on" } else { "off" },
            if self.implicit_header { "implicit" } else { "explicit" },
        );
        let ldro = if self.low_data_rate_optimize { "on" } else { "off" };
        out.push_str(&format!("symbol time            {:.3} ms\n", self.symbol_time_ms));
        out.push_str(&format!("payload symbols        {}\n", self.payload_symbols));
        out.push_str(&format!("low data rate optimise {ldro}\n"));
        out.push_str(&format!("time on air            {:.3} ms\n", self.time_on_air_ms));
        if let (Some(duty), Some(spacing_s)) = (self.duty_cycle, self.min_spacing_s) {
            out.push_str(&format!(
                "at {} % duty cycle      one uplink every {spacing_s:.2} s at most ({:.0} per hour)\n",
                duty * 100.0,
                3600.0 / spacing_s
            ));
        }
        if let (Some(ma), Some(uc), Some(uah)) = (self.tx_current_ma, self.charge_uc, self.charge_uah) {
            out.push_str(&format!("charge per uplink      {uc:.1} µC = {uah:.4} µAh at {ma} mA\n"));
        }
        out
    }
}

/// Runs `benchtop airtime`.
pub fn run(args: AirtimeArgs) -> anyhow::Result<()> {
    let report = AirtimeReport::new(&args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}
