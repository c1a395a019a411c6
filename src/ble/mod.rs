//! Bluetooth Low Energy: scanning, exploring GATT, standard characteristics, and the Benchtop protocol over
//! GATT.
//!
//! * [`names`] and [`decode`]: Bluetooth SIG names, decoders of standard characteristics, and numbers out of
//!   any notification for plotting. Pure.
//! * [`scan`]: what a scan saw, device by device (RSSI over time, manufacturer data, services). Pure.
//! * [`gatt_link`]: the framed byte stream over a TX-notify / RX-write characteristic pair, as a
//!   [`Link`](crate::io::Link), so the session layer runs on BLE unchanged.
//! * [`sim_peripheral`]: the simulated board as a BLE peripheral in this process, for tests and demos.
//! * [`central`]: the computer's own adapter through btleplug (BlueZ on Linux): scan, connect, read, write,
//!   subscribe, and open a `ble:` source; [`explore`] turns a connected device into a GATT tree; [`error`]
//!   says why Bluetooth did not work; [`macos`] refuses, with a sentence, what macOS would kill the program for.
//! * [`explorer`]: the task behind the window's GATT explorer (commands in, events out, over bounded queues).
//!
//! Not here: any window. The GUI reads [`scan::ScanTable`] and [`explore::GattTree`] and calls the
//! functions of [`central`] from its I/O runtime.

pub mod central;
pub mod decode;
pub mod error;
pub mod explore;
pub mod explorer;
pub mod gatt_link;
pub mod macos;
pub mod names;
pub mod scan;
pub mod sim_peripheral;

pub use error::BleError;
pub use gatt_link::{GattPipe, gatt_link};
pub use sim_peripheral::SimPeripheral;
