//! Who may read the shop's files: the user who runs Countertop, and nobody else. A data
//! folder holds customers' names, emails and phones, so it is made `0700` and every file
//! Countertop writes in it `0600` (on Unix; elsewhere the folder's own permissions apply).
//! Existing folders and files are tightened when they are opened.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) if missing, and lets only its owner in.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

/// A shop's data folder: created private, or made private when it is already one (it holds
/// `marker`) or is empty. A folder with other things in it (a home folder given as `--data`,
/// say) keeps its permissions: the files Countertop writes in it are private anyway.
pub(crate) fn private_data_dir(dir: &Path, marker: &str) -> io::Result<()> {
    let ours = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none() || dir.join(marker).exists(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(e),
    };
    if ours { private_dir(dir) } else { Ok(()) }
}

/// Lets only the owner read and write `file`, if it exists.
pub(crate) fn private_file(file: &Path) -> io::Result<()> {
    match std::fs::metadata(file) {
        Ok(_) => set_mode(file, 0o600),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Lets only the owner into `dir` and everything under it: folders `0700`, files `0600`
/// (symbolic links are left alone).
pub(crate) fn private_tree(dir: &Path) -> io::Result<()> {
    private_dir(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            private_tree(&entry.path())?;
        } else if kind.is_file() {
            private_file(&entry.path())?;
        }
    }
    Ok(())
}

/// Options that create a file only its owner can read and write.
pub(crate) fn private_options() -> OpenOptions {
    let mut options = File::options();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

/// Makes the entries of `dir` (a file created or renamed in it) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
