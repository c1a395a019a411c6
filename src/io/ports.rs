//! Serial ports the system lists, with their USB identity, for the connections panel and for finding a board
//! again after it re-enumerates on another path.
//!
//! Listing reads sysfs (serialport without libudev); pseudo-terminals are not listed, which is why a port
//! path can always be typed in.

use serialport::{SerialPortType, available_ports};

/// One serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Path to open (`/dev/ttyACM0`).
    pub path: String,
    /// USB vendor id, if a USB port.
    pub vid: Option<u16>,
    /// USB product id.
    pub pid: Option<u16>,
    /// Manufacturer string.
    pub manufacturer: Option<String>,
    /// Product string.
    pub product: Option<String>,
    /// USB serial number: the board's identity across re-plugs.
    pub serial_number: Option<String>,
}

impl PortInfo {
    /// `1915:c00a` style USB id, if a USB port.
    pub fn usb_id(&self) -> Option<String> {
        Some(format!("{:04x}:{:04x}", self.vid?, self.pid?))
    }

    /// One line for a list: path, product, manufacturer, id and serial number where known.
    pub fn describe(&self) -> String {
        let mut parts = vec![self.path.clone()];
        parts.extend(self.product.clone());
        parts.extend(self.manufacturer.clone());
        parts.extend(self.usb_id());
        parts.extend(self.serial_number.as_ref().map(|s| format!("S/N {s}")));
        parts.join(" · ")
    }
}

/// The ports now present; empty if listing fails (a system without sysfs).
pub fn list_ports() -> Vec<PortInfo> {
    let mut ports: Vec<PortInfo> = available_ports()
        .unwrap_or_default()
        .into_iter()
        .map(|port| match port.port_type {
            SerialPortType::UsbPort(usb) => PortInfo {
                path: port.port_name,
                vid: Some(usb.vid),
                pid: Some(usb.pid),
                manufacturer: usb.manufacturer,
                product: usb.product,
                serial_number: usb.serial_number,
            },
            _ => PortInfo {
                path: port.port_name,
                vid: None,
                pid: None,
                manufacturer: None,
                product: None,
                serial_number: None,
            },
        })
        .collect();
    ports.sort_by(|a, b| a.path.cmp(&b.path));
    ports
}

/// The USB serial number of the port at `path`, if it is a USB port that has one.
pub fn usb_serial_number(path: &str) -> Option<String> {
    list_ports().into_iter().find(|p| p.path == path)?.serial_number
}

/// The path of the port whose USB serial number is `serial_number`.
pub fn find_by_serial_number(serial_number: &str) -> Option<String> {
    list_ports().into_iter().find(|p| p.serial_number.as_deref() == Some(serial_number)).map(|p| p.path)
}
