//! `benchtop ledger`: export committed devices to network-server imports, print TR005 labels, and check a
//! ledger for duplicates, orphaned reservations and a broken event chain.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand};

use crate::provision::export::{self, ExportFormat, ExportOptions};
use crate::provision::ledger::Ledger;

/// Options of `benchtop ledger`.
#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: LedgerCommand,
}

/// Subcommands of `benchtop ledger`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write the committed devices as a network-server import (contains AppKeys: the file is owner-only).
    Export {
        /// sqlite:FILE or postgres://USER@HOST/DB.
        #[arg(long)]
        ledger: String,
        /// tts-csv, tts-json or chirpstack.
        #[arg(long)]
        format: ExportFormat,
        /// The file to write (replaced atomically; nothing is written on error).
        #[arg(long)]
        out: PathBuf,
        /// ChirpStack application id (UUID).
        #[arg(long)]
        application_id: Option<String>,
        /// ChirpStack device-profile id (UUID).
        #[arg(long)]
        device_profile_id: Option<String>,
    },
    /// Write a TR005 QR label per committed device (never containing the AppKey).
    Labels {
        /// sqlite:FILE or postgres://USER@HOST/DB.
        #[arg(long)]
        ledger: String,
        /// Directory for the labels.
        #[arg(long)]
        out: PathBuf,
        /// Only SVG labels.
        #[arg(long, conflicts_with = "png")]
        svg: bool,
        /// Only PNG labels.
        #[arg(long)]
        png: bool,
    },
    /// Duplicates, orphaned reservations and the event hash chain; exit 1 if anything is wrong.
    Check {
        /// sqlite:FILE or postgres://USER@HOST/DB.
        #[arg(long)]
        ledger: String,
        /// A reservation untouched for this long counts as orphaned.
        #[arg(long, default_value = "10m")]
        orphan_after: humantime::Duration,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `benchtop ledger`.
pub fn run(args: LedgerArgs) -> anyhow::Result<()> {
    match args.command {
        LedgerCommand::Export { ledger, format, out, application_id, device_profile_id } => {
            let mut ledger = Ledger::open(&ledger)?;
            let records = ledger.committed()?;
            let options = ExportOptions {
                chirpstack_application_id: application_id,
                chirpstack_device_profile_id: device_profile_id,
            };
            let bytes = export::render(&records, format, &options)?;
            export::write_atomically(&out, &bytes)
                .map_err(|e| anyhow::anyhow!("could not write {}: {e}", out.display()))?;
            eprintln!("wrote {} device(s) to {} ({format})", records.len(), out.display());
            Ok(())
        }
        LedgerCommand::Labels { ledger, out, svg, png } => {
            let mut ledger = Ledger::open(&ledger)?;
            let records = ledger.committed()?;
            let (svg, png) = if svg || png { (svg, png) } else { (true, true) };
            let paths = export::write_labels(&records, &out, svg, png)?;
            eprintln!("wrote {} label file(s) to {}", paths.len(), out.display());
            Ok(())
        }
        LedgerCommand::Check { ledger, orphan_after, json } => {
            let mut ledger = Ledger::open(&ledger)?;
            let report = ledger.check(orphan_after.into())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{} attempt(s), {} event(s)", report.rows, report.events);
                for problem in &report.problems {
                    println!("problem: {problem}");
                }
                if report.is_clean() {
                    println!("no duplicates, no orphaned reservations, event chain intact");
                }
            }
            if !report.is_clean() {
                bail!("the ledger has {} problem(s)", report.problems.len());
            }
            Ok(())
        }
    }
}
