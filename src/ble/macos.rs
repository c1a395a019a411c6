//! macOS's Bluetooth privacy rule: an app bundle that touches CoreBluetooth without an
//! `NSBluetoothAlwaysUsageDescription` in its Info.plist is killed by the system on the spot (no error reaches
//! the program). So before the first Bluetooth call Benchtop looks at its own bundle, and a missing key becomes
//! a sentence instead of a crash. A binary run outside a bundle (from a terminal) borrows the terminal's
//! permission and needs no key.
//!
//! Pure: the check takes the executable's path and a file reader, so it is tested on every platform.

use std::path::{Path, PathBuf};

use super::BleError;

/// The Info.plist key macOS requires before an app uses Bluetooth.
pub const USAGE_KEY: &str = "NSBluetoothAlwaysUsageDescription";

/// The Info.plist of the bundle `executable` runs from (`X.app/Contents/MacOS/benchtop` →
/// `X.app/Contents/Info.plist`), if it runs from one.
pub fn bundle_info_plist(executable: &Path) -> Option<PathBuf> {
    let macos = executable.parent()?;
    let contents = macos.parent()?;
    let bundle = contents.parent()?;
    let in_bundle = macos.file_name()? == "MacOS"
        && contents.file_name()? == "Contents"
        && bundle.extension().is_some_and(|e| e.eq_ignore_ascii_case("app"));
    in_bundle.then(|| contents.join("Info.plist"))
}

/// Whether Bluetooth may be used from `executable`: an error if it runs from a bundle whose Info.plist (read
/// with `read`) lacks [`USAGE_KEY`] or cannot be read.
pub fn check_usage_description(
    executable: &Path,
    read: impl FnOnce(&Path) -> std::io::Result<Vec<u8>>,
) -> Result<(), BleError> {
    let Some(plist) = bundle_info_plist(executable) else { return Ok(()) };
    let bundle = plist.parent().and_then(Path::parent).unwrap_or(&plist).display().to_string();
    match read(&plist) {
        // Both the XML and the binary plist forms hold the key as plain ASCII.
        Ok(bytes) if bytes.windows(USAGE_KEY.len()).any(|w| w == USAGE_KEY.as_bytes()) => Ok(()),
        Ok(_) => Err(BleError::MissingUsageDescription { bundle }),
        Err(error) => Err(BleError::PermissionDenied {
            reason: format!("could not read {} to check {USAGE_KEY}: {error}", plist.display()),
        }),
    }
}

/// [`check_usage_description`] for the running program.
pub fn check_running_program() -> Result<(), BleError> {
    match std::env::current_exe() {
        Ok(executable) => check_usage_description(&executable, |path| std::fs::read(path)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bundle_needs_the_key() {
        let bare = Path::new("/usr/local/bin/benchtop");
        assert_eq!(bundle_info_plist(bare), None);
        assert!(check_usage_description(bare, |_| panic!("nothing to read outside a bundle")).is_ok());

        let bundled = Path::new("/Applications/Benchtop.app/Contents/MacOS/benchtop");
        assert_eq!(bundle_info_plist(bundled), Some(PathBuf::from("/Applications/Benchtop.app/Contents/Info.plist")));
        let with_key = b"<plist><dict><key>NSBluetoothAlwaysUsageDescription</key><string>Plots your boards</string></dict></plist>";
        assert!(check_usage_description(bundled, |_| Ok(with_key.to_vec())).is_ok());

        let without = check_usage_description(bundled, |_| Ok(b"<plist><dict></dict></plist>".to_vec())).unwrap_err();
        let sentence = without.to_string();
        assert!(sentence.contains("/Applications/Benchtop.app") && sentence.contains(USAGE_KEY), "{sentence}");

        let unreadable =
            check_usage_description(bundled, |_| Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)));
        assert!(matches!(unreadable, Err(BleError::PermissionDenied { .. })));
    }
}
