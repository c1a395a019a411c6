//! `benchtop ble scan` and `benchtop ble explore`: what Bluetooth LE devices are around, and what one of them
//! offers.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::ble::central::{BleDevice, scan};
use crate::ble::scan::ScanSort;
use crate::model::source::Source;

/// Options of `benchtop ble`.
#[derive(Debug, Args)]
pub struct BleArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: BleCommand,
}

/// `benchtop ble` subcommands.
#[derive(Debug, Subcommand)]
pub enum BleCommand {
    /// List every advertising device (named or not) with RSSI, manufacturer data and services.
    Scan {
        /// How long to listen, e.g. 5s.
        #[arg(long, default_value = "5s")]
        duration: humantime::Duration,
        /// Only devices whose name, address or id contains this (case-insensitive).
        #[arg(long, default_value = "")]
        filter: String,
        /// Order: signal (strongest first), name, or last-seen.
        #[arg(long, value_enum, default_value = "signal")]
        sort: SortArg,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Connect to a device and print its GATT tree with SIG names and decoded standard values.
    Explore {
        /// The device: ble:NAME, ble:ADDRESS or ble:ID.
        source: String,
        /// Print JSON instead of a tree.
        #[arg(long)]
        json: bool,
    },
}

/// The `--sort` of `benchtop ble scan`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SortArg {
    /// Strongest latest RSSI first.
    Signal,
    /// By name, unnamed last.
    Name,
    /// Most recently seen first.
    LastSeen,
}

/// Runs `benchtop ble`.
pub async fn run(args: BleArgs) -> anyhow::Result<()> {
    match args.command {
        BleCommand::Scan { duration, filter, sort, json } => {
            let table = scan(Duration::from(duration)).await.context("could not scan for BLE devices")?;
            let sort = match sort {
                SortArg::Signal => ScanSort::Signal,
                SortArg::Name => ScanSort::Name,
                SortArg::LastSeen => ScanSort::LastSeen,
            };
            let report = table.report_sorted(sort, &filter);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if report.is_empty() {
                eprintln!("no BLE device advertised within {duration}");
            } else {
                for row in &report {
                    println!("{}", row.to_line());
                }
            }
            Ok(())
        }
        BleCommand::Explore { source, json } => {
            let Source::Ble { device } = Source::parse(&source)? else {
                anyhow::bail!("`{source}` is not a BLE source; name the device as ble:NAME, ble:ADDRESS or ble:ID");
            };
            let connected = BleDevice::connect(&device).await.with_context(|| format!("could not explore {source}"))?;
            let tree = connected.explore().await;
            let _ = connected.disconnect().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&tree)?);
                return Ok(());
            }
            println!("{} ({})  ATT MTU {} bytes", tree.target, tree.address, tree.att_mtu);
            for service in &tree.services {
                println!("  service {}{}", service.label, if service.primary { "" } else { " (secondary)" });
                for c in &service.characteristics {
                    let value = match (&c.decoded, &c.value_hex) {
                        (Some(decoded), _) => format!(" = {decoded}"),
                        (None, Some(hex)) => format!(" = 0x{hex}"),
                        (None, None) => String::new(),
                    };
                    println!("    characteristic {} [{}]{value}", c.label, c.properties.join(", "));
                    for d in &c.descriptors {
                        println!("      descriptor {d}");
                    }
                }
            }
            Ok(())
        }
    }
}
