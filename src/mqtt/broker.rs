//! The bench broker: rumqttd embedded, for a desk without a broker of its own.
//!
//! It listens on 127.0.0.1 by default; another interface exposes an unauthenticated broker to the network,
//! so [`BrokerOptions::exposed`] says so and the CLI prints a warning. Plain TCP, MQTT 3.1.1 (and MQTT 5 on a
//! second port when asked); no TLS, no persistence: a broker for the bench, not for production.

use std::net::SocketAddr;

use thiserror::Error;

/// Where the broker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerOptions {
    /// MQTT 3.1.1 listener.
    pub listen: SocketAddr,
    /// MQTT 5 listener, if any.
    pub listen_v5: Option<SocketAddr>,
    /// Largest payload accepted, bytes.
    pub max_payload_bytes: usize,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            listen_v5: None,
            max_payload_bytes: super::url::DEFAULT_MAX_PACKET_BYTES,
        }
    }
}

impl BrokerOptions {
    /// Whether a listener is reachable from other machines (not a loopback address).
    pub fn exposed(&self) -> bool {
        std::iter::once(self.listen).chain(self.listen_v5).any(|a| !a.ip().is_loopback())
    }

    /// rumqttd's configuration, as the TOML it reads.
    pub fn config_toml(&self) -> String {
        let server = |name: &str, id: &str, listen: SocketAddr| {
            format!(
                "[{name}.{id}]\nname = \"{id}\"\nlisten = \"{listen}\"\nnext_connection_delay_ms = 1\n\
                 [{name}.{id}.connections]\nconnection_timeout_ms = 60000\nmax_payload_size = {max}\n\
                 max_inflight_count = 100\ndynamic_filters = true\n",
                max = self.max_payload_bytes
            )
        };
        let mut toml = String::from(
            "id = 0\n[router]\nmax_connections = 10010\nmax_outgoing_packet_count = 200\n\
             max_segment_size = 104857600\nmax_segment_count = 10\n",
        );
        toml.push_str(&server("v4", "1", self.listen));
        if let Some(listen) = self.listen_v5 {
            toml.push_str(&server("v5", "1", listen));
        }
        toml
    }
}

/// The broker could not start.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// The configuration did not load (a bug, not a user mistake).
    #[error("the broker's configuration is not valid: {0}")]
    Config(String),
    /// The port is taken or not allowed.
    #[error(
        "could not listen on {address}: {reason}. Is another broker (mosquitto?) already using it? Choose another port with --listen"
    )]
    Listen {
        /// The address.
        address: SocketAddr,
        /// What the system said.
        reason: String,
    },
    /// The broker stopped.
    #[error("the broker stopped: {0}")]
    Stopped(String),
}

/// Runs the broker on the calling thread until it fails (rumqttd runs its own threads and runtime).
pub fn run(options: &BrokerOptions) -> Result<(), BrokerError> {
    // rumqttd reports a taken port only through its log, so check first with a listener of our own.
    for address in std::iter::once(options.listen).chain(options.listen_v5) {
        std::net::TcpListener::bind(address).map_err(|e| BrokerError::Listen { address, reason: e.to_string() })?;
    }
    let config: rumqttd::Config =
        toml::from_str(&options.config_toml()).map_err(|e| BrokerError::Config(e.to_string()))?;
    let mut broker = rumqttd::Broker::new(config);
    broker.start().map_err(|e| BrokerError::Stopped(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_loads_and_only_loopback_is_private() {
        let options = BrokerOptions::default();
        let config: rumqttd::Config = toml::from_str(&options.config_toml()).unwrap();
        assert_eq!(config.v4.unwrap()["1"].listen, options.listen);
        assert!(!options.exposed());
        let open = BrokerOptions { listen: "0.0.0.0:1883".parse().unwrap(), ..options };
        assert!(open.exposed());
    }
}
