//! `benchtop broker [--listen 127.0.0.1:1883]`: a small MQTT broker for the bench.

use std::net::SocketAddr;

use clap::Args;

use crate::mqtt::broker::{self, BrokerOptions};

/// Options of `benchtop broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Address for MQTT 3.1.1 clients. Anything but a loopback address lets other machines connect
    /// without a password.
    #[arg(long, default_value = "127.0.0.1:1883")]
    pub listen: SocketAddr,
    /// Also listen for MQTT 5 clients on this address.
    #[arg(long)]
    pub listen_v5: Option<SocketAddr>,
}

/// Runs `benchtop broker` until interrupted (on the calling thread: rumqttd runs its own runtime).
pub fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let options = BrokerOptions { listen: args.listen, listen_v5: args.listen_v5, ..BrokerOptions::default() };
    if options.exposed() {
        eprintln!(
            "warning: the broker listens beyond this machine ({}); anyone on the network can publish and subscribe without a password",
            options.listen
        );
    }
    let v5 = options.listen_v5.map(|a| format!(", MQTT 5 on {a}")).unwrap_or_default();
    eprintln!("broker listening on {} (MQTT 3.1.1{v5}); Ctrl-C stops it", options.listen);
    broker::run(&options)?;
    Ok(())
}
