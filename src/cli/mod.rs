//! The command line: `benchtop` opens the window; subcommands serve the simulated board and query devices.
//!
//! Errors reach the user once, here, as a sentence with its causes; exit code 1 for a failure, 2 for bad
//! usage (clap's own).

mod airtime;
mod ble;
mod bridge;
mod broker;
pub mod budget;
mod coap;
mod info;
mod inspect;
mod ledger;
mod provision;
mod record;
mod record_coap;
mod record_mqtt;
mod record_ppk2;
mod sim;
pub mod trace;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Benchtop: live plots, power traces, payload inspection and provisioning for battery-powered devices.
#[derive(Debug, Parser)]
#[command(name = "benchtop", version, about)]
pub struct Cli {
    /// Source the window connects to on start (sim, serial:/dev/ttyACM0, tcp:HOST:PORT, …).
    #[arg(long, default_value = "sim")]
    pub source: String,
    /// Tab the window opens on (a line station opens on provision).
    #[arg(long, value_enum)]
    pub view: Option<crate::ui::app::View>,
    /// What to do; with none, the window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the simulated board on a pseudo-terminal or TCP until interrupted.
    Sim(sim::SimArgs),
    /// Scan for Bluetooth LE devices, or explore one's GATT services.
    Ble(ble::BleArgs),
    /// GET, observe, PUT, POST or DELETE a CoAP resource, or list a server's resources.
    Coap(coap::CoapArgs),
    /// Print a device's identity and channels.
    Info(info::InfoArgs),
    /// Record a device's channels headless to a file.
    Record(record::RecordArgs),
    /// Average current and battery lifetime of a power profile.
    Budget(budget::BudgetArgs),
    /// LoRa time on air, duty-cycle spacing and charge of one uplink.
    Airtime(airtime::AirtimeArgs),
    /// Statistics, import, export and benchmarks of `.btr` current traces.
    Trace(trace::TraceArgs),
    /// Explain every byte of a payload (a layout file or a built-in format) and what it costs on LoRaWAN;
    /// or encode values with a layout.
    Inspect(inspect::InspectArgs),
    /// Write identities, keys and intervals into devices, one on a port or each one plugged into a line
    /// station, recording every attempt in the ledger.
    Provision(provision::ProvisionArgs),
    /// Export, label and check a provisioning ledger.
    Ledger(ledger::LedgerArgs),
    /// Publish a device's telemetry to an MQTT broker (topics per channel, online/offline status).
    Bridge(bridge::BridgeArgs),
    /// Run a small MQTT broker for the bench (127.0.0.1 unless told otherwise).
    Broker(broker::BrokerArgs),
}

/// Parses the command line, runs it, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("benchtop-io")
        .enable_all()
        .build()
        .context("could not start the I/O runtime")?;
    match cli.command {
        None => crate::ui::run(runtime.handle().clone(), &cli.source, cli.view),
        Some(Command::Sim(args)) => sim::run(args),
        Some(Command::Ble(args)) => runtime.block_on(ble::run(args)),
        Some(Command::Coap(args)) => runtime.block_on(coap::run(args)),
        Some(Command::Info(args)) => runtime.block_on(info::run(args)),
        Some(Command::Record(args)) => runtime.block_on(record::run(args)),
        Some(Command::Budget(args)) => budget::run(args),
        Some(Command::Airtime(args)) => airtime::run(args),
        Some(Command::Trace(args)) => trace::run(args),
        Some(Command::Inspect(args)) => inspect::run(args),
        Some(Command::Provision(args)) => provision::run(args, runtime.handle().clone()),
        Some(Command::Ledger(args)) => ledger::run(args),
        Some(Command::Bridge(args)) => runtime.block_on(bridge::run(args)),
        // rumqttd starts its own runtime, which cannot nest inside ours.
        Some(Command::Broker(args)) => broker::run(args),
    }
}

/// `benchtop … | head`: once the reader of stdout has gone, printing more fails; that ends the program quietly
/// with the status a shell expects of a program stopped by SIGPIPE (141), instead of a panic message.
fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BENCHTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
