//! Host → PPK2 commands and their bytes on the wire.
//!
//! The PPK2 takes raw opcodes with no framing, checksum or acknowledgement, so the bytes here are the whole
//! contract: only the opcodes the Nordic app 4.x uses (0x06, 0x07, 0x0C, 0x0D, 0x11, 0x19, 0x25) and reset
//! (0x20) form Benchtop's surface; the legacy and colliding ones (0x10/0x11 trigger toggle) are left out on
//! purpose. Values the device would take but misbehave with are refused by the checked constructors
//! ([`Command::set_voltage`], [`Command::set_user_gain`]), not clamped.

use thiserror::Error;

use super::RANGE_COUNT;

/// Lowest regulator voltage the PPK2 accepts, mV.
pub const VOLTAGE_MIN_MV: u16 = 800;
/// Highest regulator voltage the PPK2 accepts, mV.
pub const VOLTAGE_MAX_MV: u16 = 5000;
/// Lowest user gain the Nordic app keeps; below it the app resets every gain to 1.0 at connect.
pub const USER_GAIN_MIN: f32 = 0.9;
/// Highest user gain the Nordic app keeps.
pub const USER_GAIN_MAX: f32 = 1.1;

/// What the PPK2 does with its output: measure a current it does not drive, or drive VOUT and measure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Ampere meter: the device under test has its own supply, the PPK2 sits in series.
    Ampere,
    /// Source meter: the PPK2 supplies the device at the regulator voltage and measures what it draws.
    Source,
}

impl Mode {
    /// The code of this mode in `SetPowerMode` (0x11) and in the metadata's `mode` line: 1 ampere, 2 source.
    pub fn code(self) -> u8 {
        match self {
            Mode::Ampere => 1,
            Mode::Source => 2,
        }
    }

    /// The mode with this code, if it is one.
    pub fn from_code(code: u8) -> Option<Mode> {
        match code {
            1 => Some(Mode::Ampere),
            2 => Some(Mode::Source),
            _ => None,
        }
    }
}

/// One command to the PPK2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// `0x06` AverageStart: stream samples continuously. Reset the decoder and spike filter when sending it.
    Start,
    /// `0x07` AverageStop: stop streaming. Send it first after opening, since a killed session leaves the
    /// device streaming.
    Stop,
    /// `0x19`: ask for the metadata text (calibration, VDD, mode), answered with `… END`.
    GetMetadata,
    /// `0x0D` RegulatorSet: the regulator voltage in mV, sent as a big-endian u16. Build it with
    /// [`Command::set_voltage`] so that the value is checked.
    SetVoltageMv(u16),
    /// `0x0C` DeviceRunningSet: switch the output to the device under test on (`true`) or off.
    DutPower(bool),
    /// `0x11` SetPowerMode: ampere or source meter. Use [`mode_switch`] for the order the app uses.
    SetMode(Mode),
    /// `0x25` SetUserGains: a range (0-4) and a gain sent as a little-endian f32. Build it with
    /// [`Command::set_user_gain`] so that both are checked.
    SetUserGain {
        /// Measurement range, 0 to 4.
        range: u8,
        /// Multiplier applied by the conversion to that range (`UG` in the metadata).
        gain: f32,
    },
    /// `0x20`: reset the device.
    Reset,
}

impl Command {
    /// The bytes to write to the port for this command.
    pub fn bytes(&self) -> Vec<u8> {
        match *self {
            Command::Start => vec![0x06],
            Command::Stop => vec![0x07],
            Command::GetMetadata => vec![0x19],
            Command::SetVoltageMv(voltage_mv) => {
                let [high, low] = voltage_mv.to_be_bytes();
                vec![0x0D, high, low]
            }
            Command::DutPower(on) => vec![0x0C, u8::from(on)],
            Command::SetMode(mode) => vec![0x11, mode.code()],
            Command::SetUserGain { range, gain } => {
                let mut bytes = vec![0x25, range];
                // The app sends the bytes of a JS Float32Array, little-endian on every host it runs on.
                bytes.extend_from_slice(&gain.to_le_bytes());
                bytes
            }
            Command::Reset => vec![0x20],
        }
    }

    /// `SetVoltageMv`, refusing voltages outside 800–5000 mV.
    pub fn set_voltage(voltage_mv: u16) -> Result<Command, Ppk2Error> {
        if (VOLTAGE_MIN_MV..=VOLTAGE_MAX_MV).contains(&voltage_mv) {
            Ok(Command::SetVoltageMv(voltage_mv))
        } else {
            Err(Ppk2Error::VoltageOutOfRange { voltage_mv })
        }
    }

    /// `SetUserGain`, refusing a range above 4 and a gain outside 0.9–1.1 (or not a number).
    pub fn set_user_gain(range: u8, gain: f32) -> Result<Command, Ppk2Error> {
        if usize::from(range) >= RANGE_COUNT {
            return Err(Ppk2Error::NoSuchRange { range });
        }
        if !(USER_GAIN_MIN..=USER_GAIN_MAX).contains(&gain) {
            return Err(Ppk2Error::UserGainOutOfRange { range, gain });
        }
        Ok(Command::SetUserGain { range, gain })
    }
}

/// The commands that switch the PPK2 to `to`, in the Nordic app's order: to source, cut the output first and
/// then change mode; to ampere, change mode first and then let the device under test run.
pub fn mode_switch(to: Mode) -> Vec<Command> {
    match to {
        Mode::Source => vec![Command::DutPower(false), Command::SetMode(Mode::Source)],
        Mode::Ampere => vec![Command::SetMode(Mode::Ampere), Command::DutPower(true)],
    }
}

/// A command that Benchtop refuses to build.
#[derive(Debug, Clone, Copy, PartialEq, Error)]
pub enum Ppk2Error {
    /// A regulator voltage the PPK2 cannot produce.
    #[error("{voltage_mv} mV is outside the PPK2's regulator range; choose a voltage from 800 to 5000 mV")]
    VoltageOutOfRange {
        /// The voltage asked for, mV.
        voltage_mv: u16,
    },
    /// A range number that does not exist.
    #[error("the PPK2 has no range {range}; its ranges are 0 to 4")]
    NoSuchRange {
        /// The range asked for.
        range: u8,
    },
    /// A user gain the Nordic app would reset to 1.0.
    #[error("user gain {gain} for range {range} is outside 0.9–1.1; give a gain within 10 % of 1.0")]
    UserGainOutOfRange {
        /// The range.
        range: u8,
        /// The gain asked for.
        gain: f32,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_the_reference_bytes() {
        let cases: [(Command, &[u8]); 10] = [
            (Command::Start, &[0x06]),
            (Command::Stop, &[0x07]),
            (Command::GetMetadata, &[0x19]),
            (Command::SetVoltageMv(3300), &[0x0D, 0x0C, 0xE4]),
            (Command::DutPower(true), &[0x0C, 0x01]),
            (Command::DutPower(false), &[0x0C, 0x00]),
            (Command::SetMode(Mode::Ampere), &[0x11, 0x01]),
            (Command::SetMode(Mode::Source), &[0x11, 0x02]),
            // 1.0f32 is 0x3F800000, little-endian 00 00 80 3F.
            (Command::SetUserGain { range: 3, gain: 1.0 }, &[0x25, 0x03, 0x00, 0x00, 0x80, 0x3F]),
            (Command::Reset, &[0x20]),
        ];
        for (command, bytes) in cases {
            assert_eq!(command.bytes(), bytes, "{command:?}");
        }
    }

    #[test]
    fn voltage_is_big_endian_millivolts_and_matches_the_irnas_formula() {
        for voltage_mv in [800u16, 1234, 3000, 3300, 4999, 5000] {
            let bytes = Command::set_voltage(voltage_mv).unwrap().bytes();
            // IRNAS and ppk2-rs: 3 + (mV − 768) / 256, (mV − 768) % 256.
            let irnas = [0x0D, (3 + (voltage_mv - 768) / 256) as u8, ((voltage_mv - 768) % 256) as u8];
            assert_eq!(bytes, irnas, "{voltage_mv} mV");
        }
    }

    #[test]
    fn voltages_outside_the_regulator_range_are_refused_with_the_range() {
        for voltage_mv in [0u16, 799, 5001, u16::MAX] {
            let error = Command::set_voltage(voltage_mv).unwrap_err();
            assert_eq!(error, Ppk2Error::VoltageOutOfRange { voltage_mv });
            let message = error.to_string();
            assert!(message.contains(&format!("{voltage_mv} mV")) && message.contains("800 to 5000 mV"), "{message}");
        }
        assert!(Command::set_voltage(800).is_ok() && Command::set_voltage(5000).is_ok());
    }

    #[test]
    fn user_gains_are_checked() {
        assert_eq!(Command::set_user_gain(4, 1.05).unwrap(), Command::SetUserGain { range: 4, gain: 1.05 });
        assert_eq!(Command::set_user_gain(5, 1.0), Err(Ppk2Error::NoSuchRange { range: 5 }));
        for gain in [0.89, 1.11, f32::NAN] {
            assert!(matches!(Command::set_user_gain(0, gain), Err(Ppk2Error::UserGainOutOfRange { .. })));
        }
    }

    #[test]
    fn mode_switches_follow_the_app_order() {
        assert_eq!(mode_switch(Mode::Source), [Command::DutPower(false), Command::SetMode(Mode::Source)]);
        assert_eq!(mode_switch(Mode::Ampere), [Command::SetMode(Mode::Ampere), Command::DutPower(true)]);
        let bytes: Vec<u8> = mode_switch(Mode::Source).iter().flat_map(Command::bytes).collect();
        assert_eq!(bytes, [0x0C, 0x00, 0x11, 0x02]);
        assert_eq!(Mode::from_code(Mode::Source.code()), Some(Mode::Source));
        assert_eq!(Mode::from_code(0), None);
    }
}
