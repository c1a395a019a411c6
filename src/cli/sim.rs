//! `benchtop sim`: serve the simulated board on a new pseudo-terminal (`--pty`) or on TCP (`--tcp ADDR`), or an
//! emulated PPK2 on a pseudo-terminal (`--ppk2 --pty`).

use std::io::Write;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::sim::ppk2::{Ppk2Faults, Ppk2Options, serve_pty};
use crate::sim::serve::{PtyServer, TcpServer, UartPace};
use crate::sim::{Faults, SimOptions};

/// Options of `benchtop sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Serve on a new pseudo-terminal and print its path (open it as serial:PATH).
    #[arg(long, conflicts_with = "tcp")]
    pub pty: bool,
    /// Serve an emulated Nordic Power Profiler Kit II instead of the board (needs --pty).
    #[arg(long, requires = "pty")]
    pub ppk2: bool,
    /// Serve on TCP at this address, e.g. 127.0.0.1:7000 (port 0 picks a free one; the address is printed).
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<String>,
    /// Pace the pseudo-terminal like a serial line at this baud rate (a pty is otherwise as fast as memory).
    #[arg(long, requires = "pty", value_name = "BAUD")]
    pub baud: Option<u32>,
    /// Seed of the board's randomness and device id.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Faults to inject: drop-bytes=P, corrupt=P, reset-on-commit, late=DURATION (comma-separated). With
    /// --ppk2: drop-bytes=P, drop-samples=P, stale=BYTES, corrupt-calibration, fragment=BYTES, stray-byte,
    /// over-range.
    #[arg(long, default_value = "", value_name = "LIST")]
    pub faults: String,
}

/// Serves until interrupted.
pub fn run(args: SimArgs) -> anyhow::Result<()> {
    if args.ppk2 {
        return run_ppk2(&args);
    }
    let faults = Faults::parse(&args.faults).context("bad --faults")?;
    let options = SimOptions { seed: args.seed, faults };
    let device_id = crate::sim::board::device_id_for_seed(args.seed);
    let mut stdout = std::io::stdout();
    if args.pty {
        let pace = args.baud.map(UartPace::from_baud);
        let server = PtyServer::start_paced(options, pace).context("could not create a pseudo-terminal")?;
        // The path alone on the first line, so scripts can read it.
        writeln!(stdout, "{}", server.path())?;
        stdout.flush()?;
        eprintln!(
            "simulated board {device_id:016x} on {}; connect with `benchtop info serial:{}`; Ctrl-C stops it",
            server.path(),
            server.path()
        );
        server.wait().context("the simulated board stopped")?;
        return Ok(());
    }
    if let Some(address) = args.tcp {
        let server = TcpServer::start(&address, options).with_context(|| format!("could not listen on {address}"))?;
        writeln!(stdout, "{}", server.address())?;
        stdout.flush()?;
        eprintln!(
            "simulated board {device_id:016x} on tcp:{}; connect with `benchtop info tcp:{}`; Ctrl-C stops it",
            server.address(),
            server.address()
        );
        server.wait();
        return Ok(());
    }
    bail!("say where to serve the board: --pty or --tcp 127.0.0.1:7000")
}

/// Serves an emulated PPK2 on a pseudo-terminal until interrupted.
fn run_ppk2(args: &SimArgs) -> anyhow::Result<()> {
    let faults = Ppk2Faults::parse(&args.faults).context("bad --faults")?;
    let options = Ppk2Options { seed: args.seed, faults, ..Ppk2Options::default() };
    let (path, handle) = serve_pty(options).context("could not create a pseudo-terminal")?;
    let mut stdout = std::io::stdout();
    // The path alone on the first line, so scripts can read it.
    writeln!(stdout, "{path}")?;
    stdout.flush()?;
    eprintln!("emulated PPK2 (100 kS/s when started with 0x06) on {path}; Ctrl-C stops it");
    handle.wait().context("the emulated PPK2 stopped")?;
    Ok(())
}
