//! Why Bluetooth did not work, as sentences that say what happened and what to do: btleplug's errors, and the
//! D-Bus errors underneath them on Linux, sorted into no system bus, no BlueZ, no adapter, adapter off and
//! permission denied, with anything else passed on with what was being done.

use thiserror::Error;

/// Why Bluetooth did not work.
#[derive(Debug, Error)]
pub enum BleError {
    /// libdbus could not reach the system bus.
    #[error(
        "Bluetooth is not reachable: there is no system D-Bus ({reason}). BlueZ is reached over the system bus; start it (systemctl start dbus) or run Benchtop where it runs"
    )]
    NoSystemBus {
        /// What libdbus said.
        reason: String,
    },
    /// The system bus has no BlueZ on it.
    #[error(
        "Bluetooth is not available: BlueZ (bluetoothd) is not running on the system bus ({reason}). Install bluez and start it: sudo systemctl start bluetooth"
    )]
    NoBluez {
        /// What the bus said.
        reason: String,
    },
    /// No adapter at all.
    #[error(
        "no Bluetooth adapter found. Plug in a USB adapter, or check that the built-in one is not blocked (rfkill list)"
    )]
    NoAdapter,
    /// An adapter that is switched off.
    #[error(
        "the Bluetooth adapter {adapter} is off. Turn Bluetooth on (bluetoothctl power on, or the system settings)"
    )]
    AdapterOff {
        /// The adapter.
        adapter: String,
    },
    /// The stack refused us.
    #[error(
        "permission denied using Bluetooth ({reason}). On Linux add your user to the `bluetooth` group or allow it in BlueZ's D-Bus policy; on macOS allow Bluetooth for this program in System Settings › Privacy"
    )]
    PermissionDenied {
        /// What the stack said.
        reason: String,
    },
    /// A macOS app bundle without the Bluetooth usage description: the system would kill it at the first
    /// Bluetooth call.
    #[error(
        "Bluetooth is not allowed for {bundle}: its Info.plist has no NSBluetoothAlwaysUsageDescription, and macOS stops an app that uses Bluetooth without one. Add the key (a sentence saying why Benchtop uses Bluetooth) to Contents/Info.plist, or run the benchtop binary from a terminal"
    )]
    MissingUsageDescription {
        /// The `.app` bundle.
        bundle: String,
    },
    /// The device did not show up.
    #[error(
        "no BLE device named or with id `{target}` advertised within {seconds} s. Check that it is on, advertising and in range; `benchtop ble scan` lists what is"
    )]
    NotFound {
        /// Name, address or id asked for.
        target: String,
        /// How long we looked.
        seconds: u64,
    },
    /// The device has no Benchtop service.
    #[error(
        "{target} has no Benchtop protocol service, so it cannot be used as a board; explore it with `benchtop ble explore ble:{target}`"
    )]
    NotBenchtop {
        /// The device.
        target: String,
    },
    /// A characteristic is not there.
    #[error("{target} has no characteristic {characteristic}")]
    NoCharacteristic {
        /// The device.
        target: String,
        /// The characteristic.
        characteristic: String,
    },
    /// A connected device went away.
    #[error(
        "{target} disconnected (out of range, switched off, or it closed the connection). Explore it again once it advertises"
    )]
    Disconnected {
        /// The device.
        target: String,
    },
    /// The stack gave no answer in time.
    #[error("Bluetooth {action} got no answer within {seconds} s; the device may be out of range")]
    TimedOut {
        /// What we were doing.
        action: &'static str,
        /// How long we waited.
        seconds: u64,
    },
    /// Anything else the stack reported.
    #[error("Bluetooth {action} failed: {reason}")]
    Stack {
        /// What we were doing.
        action: &'static str,
        /// What the stack said.
        reason: String,
    },
}

impl BleError {
    /// Classifies a btleplug error from `action`.
    pub fn from_stack(action: &'static str, error: btleplug::Error) -> Self {
        let reason = error.to_string();
        let has = |needles: &[&str]| needles.iter().any(|n| reason.contains(n));
        match error {
            btleplug::Error::PermissionDenied => BleError::PermissionDenied { reason },
            btleplug::Error::NoAdapterAvailable => BleError::NoAdapter,
            _ if has(&[
                "AccessDenied",
                "Rejected send message",
                "NotPermitted",
                "NotAuthorized",
                "ermission denied",
            ]) =>
            {
                BleError::PermissionDenied { reason }
            }
            _ if has(&[
                "FileNotFound",
                "NoServer",
                "No such file",
                "Failed to connect to socket",
                "Connection refused",
            ]) =>
            {
                BleError::NoSystemBus { reason }
            }
            _ if has(&["ServiceUnknown", "Spawn.", "NameHasNoOwner", "org.bluez was not provided"]) => {
                BleError::NoBluez { reason }
            }
            _ => BleError::Stack { action, reason },
        }
    }
}

pub(super) fn stack(action: &'static str) -> impl FnOnce(btleplug::Error) -> BleError {
    move |error| BleError::from_stack(action, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_errors_become_sentences_that_say_what_to_do() {
        let other = |text: &str| btleplug::Error::Other(text.to_string().into());
        let no_bus = BleError::from_stack(
            "start",
            other(
                "D-Bus error: Failed to connect to socket /run/dbus/system_bus_socket: No such file or directory (org.freedesktop.DBus.Error.FileNotFound)",
            ),
        );
        assert!(matches!(no_bus, BleError::NoSystemBus { .. }), "{no_bus}");
        assert!(no_bus.to_string().contains("system D-Bus"));
        let no_bluez = BleError::from_stack(
            "listing adapters",
            other("D-Bus error: Could not activate remote peer. (org.freedesktop.DBus.Error.Spawn.ChildExited)"),
        );
        assert!(matches!(no_bluez, BleError::NoBluez { .. }), "{no_bluez}");
        assert!(no_bluez.to_string().contains("systemctl start bluetooth"));
        let denied =
            BleError::from_stack("start", other("Rejected send message (org.freedesktop.DBus.Error.AccessDenied)"));
        assert!(matches!(denied, BleError::PermissionDenied { .. }));
        assert!(matches!(BleError::from_stack("x", btleplug::Error::NoAdapterAvailable), BleError::NoAdapter));
        assert!(matches!(BleError::from_stack("x", other("strange")), BleError::Stack { .. }));
    }
}
