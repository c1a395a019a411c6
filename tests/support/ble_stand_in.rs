//! The BlueZ stand-in for one test: python-dbusmock's bluez5 template (tests/support/ble_mock.py) on a private
//! bus, its Benchtop GATT service bridged to a simulated board over TCP. Killed on drop.
//!
//! libdbus finds the bus through `DBUS_SYSTEM_BUS_ADDRESS`, which only a process's environment can carry, so
//! Bluetooth runs in child processes given [`StandIn::bus_address`].
//!
//! Include it with `#[path = "support/ble_stand_in.rs"] mod ble_stand_in;` (it brings `support/dbus.rs`).

#[path = "dbus.rs"]
mod dbus;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use benchtop::sim::SimOptions;
use benchtop::sim::serve::TcpServer;

/// A private bus with the BlueZ stand-in on it, bridged to a simulated board.
pub struct StandIn {
    mock: Child,
    _stdin: ChildStdin,
    _sim: TcpServer,
    bus: dbus::PrivateBus,
}

impl StandIn {
    /// With the board seeded `seed`.
    pub fn start(seed: u64) -> StandIn {
        Self::start_with(seed, &[])
    }

    /// With extra arguments for tests/support/ble_mock.py.
    pub fn start_with(seed: u64, mock_args: &[&str]) -> StandIn {
        Self::start_on(dbus::PrivateBus::start(), seed, mock_args)
    }

    /// On a bus whose policy adds `rules` (see [`dbus::PrivateBus::start_with_policy`]).
    #[allow(dead_code)] // not every test that includes this module uses it
    pub fn start_with_policy(seed: u64, rules: &str) -> StandIn {
        Self::start_on(dbus::PrivateBus::start_with_policy(rules), seed, &[])
    }

    fn start_on(bus: dbus::PrivateBus, seed: u64, mock_args: &[&str]) -> StandIn {
        let sim = TcpServer::start("127.0.0.1:0", SimOptions { seed, ..Default::default() }).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/ble_mock.py");
        let mut mock = Command::new("/usr/bin/python3")
            .args([script, "--sim", &sim.address().to_string(), "--mtu", "185"])
            .args(mock_args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (apt-get install python3-dbusmock; .ci/run installs it)");
        let mut line = String::new();
        BufReader::new(mock.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the BlueZ stand-in did not start");
        let stdin = mock.stdin.take().unwrap();
        StandIn { mock, _stdin: stdin, _sim: sim, bus }
    }

    /// The address to give `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn bus_address(&self) -> &str {
        self.bus.address()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.mock.kill();
        let _ = self.mock.wait();
    }
}
