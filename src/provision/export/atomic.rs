//! Writing a file so that it is either complete or absent, and readable by its owner only.
//!
//! Export files hold AppKeys, so they are created with mode 0600 from the first byte (never widened after the
//! fact), written to a temporary name in the target's own folder, flushed to disk, then renamed over the
//! target. A reader therefore sees the old file or the new one, never a part; on any error the temporary file
//! is removed and the target is left as it was.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Tells apart temporary files of concurrent writes from one process.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a temp file in the same directory with mode 0600, fsync, rename.
/// Nothing at `path` on error.
///
/// An existing file at `path` is replaced, so exporting again gives the same file. The folder must exist.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} does not name a file", path.display()))
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (temp_path, mut file) = create_temp(dir, &file_name.to_string_lossy())?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| {
        drop(file);
        std::fs::rename(&temp_path, path)
    });
    if let Err(error) = written {
        // The temporary file is ours and incomplete; failing to remove it changes nothing for the caller.
        let _ = std::fs::remove_file(&temp_path);
        return Err(error);
    }
    sync_dir(dir);
    Ok(())
}

/// Creates a new, owner-only file next to the target; `create_new` never opens someone else's file.
fn create_temp(dir: &Path, file_name: &str) -> io::Result<(PathBuf, File)> {
    let mut attempts = 0;
    loop {
        let temp_path =
            dir.join(format!(".{file_name}.{}.{}.tmp", std::process::id(), NEXT_TEMP.fetch_add(1, Ordering::Relaxed)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&temp_path) {
            Ok(file) => return Ok((temp_path, file)),
            // A leftover from a crashed process with a reused pid: take the next name.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 16 => attempts += 1,
            Err(error) => return Err(error),
        }
    }
}

/// Makes the rename itself durable. Best effort: the data is already on disk, and some file systems refuse
/// to sync a folder.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(folder) = File::open(dir) {
        let _ = folder.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
