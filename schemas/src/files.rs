//! Files that hold secrets or health data (private keys, master keys, profiles, replicas,
//! backups), written one way by the server and the client: readable and writable by their
//! owner only (mode 0600 on Unix), synced before they count as written, and never left half
//! written.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Owner-only file mode on Unix.
pub const OWNER_ONLY: u32 = 0o600;

/// Options that create files with `mode` (on Unix; elsewhere the platform's default).
pub fn options_with_mode(mode: u32) -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options
}

/// Options that create owner-only files.
pub fn owner_only() -> OpenOptions {
    options_with_mode(OWNER_ONLY)
}

/// Writes `bytes` to a new file at `path` with `mode`, synced; fails if `path` exists.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = options_with_mode(mode)
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A temporary file next to `path` holding `bytes` with `mode`, synced, for a rename or link
/// into place; removed again if it cannot be written.
pub fn write_beside(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    write_new(&tmp, bytes, mode).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(tmp)
}

/// Replaces `path` with a file holding `bytes` with `mode`, atomically: readers see the old
/// contents or the new, never a part.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = write_beside(path, bytes, mode)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Makes an existing file (say, one another program wrote) owner-only.
pub fn restrict(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(OWNER_ONLY))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_are_owner_only_whole_and_never_overwritten_by_write_new() {
        let dir = std::env::temp_dir().join(format!("wp-files-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.json");
        write_new(&key, b"one", OWNER_ONLY).unwrap();
        assert_eq!(
            write_new(&key, b"two", OWNER_ONLY).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        replace(&key, b"three", OWNER_ONLY).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"three");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, OWNER_ONLY);
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
