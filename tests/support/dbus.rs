//! A private D-Bus daemon for one test: started on a socket in a temporary directory, killed on drop. The
//! BLE tests point `DBUS_SYSTEM_BUS_ADDRESS` at it, so BlueZ (or its stand-in) lives on a bus of their own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `dbus-daemon`.
pub struct PrivateBus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl PrivateBus {
    /// Starts a daemon with the session bus configuration on a fresh socket.
    pub fn start() -> PrivateBus {
        Self::spawn(|address, _| vec!["--session".into(), format!("--address={address}")])
    }

    /// Starts a daemon whose default policy allows everything and then applies `rules` (policy elements such
    /// as `<deny send_destination="org.bluez"/>`), as a system bus configured to refuse a user would.
    #[allow(dead_code)] // not every test that includes this module uses it
    pub fn start_with_policy(rules: &str) -> PrivateBus {
        Self::spawn(|address, dir| {
            let config = dir.join("bus.conf");
            let text = format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{address}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    {rules}
  </policy>
</busconfig>
"#
            );
            std::fs::write(&config, text).unwrap();
            vec![format!("--config-file={}", config.display())]
        })
    }

    /// Runs `dbus-daemon` with the arguments `args` gives for the socket address and a fresh directory.
    fn spawn(args: impl FnOnce(&str, &Path) -> Vec<String>) -> PrivateBus {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        let child = Command::new("dbus-daemon")
            .args(["--nofork", "--nopidfile"])
            .args(args(&address, dir.path()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon runs (apt-get install dbus; .ci/run installs it)");
        wait_for(&socket);
        PrivateBus { child, address, _dir: dir }
    }

    /// The address to give `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }
}

fn wait_for(socket: &Path) {
    let started = Instant::now();
    while !socket.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "dbus-daemon did not create {}", socket.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
