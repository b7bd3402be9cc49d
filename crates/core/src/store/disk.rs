//! Where the write store's bytes go: the file system, or — in tests — a simulated disk that
//! records every write and sync and can lose power ([`sim`]).
//!
//! SIGKILL keeps the page cache, so a crash campaign of killed processes cannot notice a
//! missing or misordered fsync. The simulated disk can: at a power cut, every byte written
//! since its file's last sync may be lost, torn at sector granularity, or kept, in any mix, and
//! a file created since its folder's last sync may vanish. Both files of the write store go
//! through this seam: `write.redb` as a redb [`StorageBackend`](redb::StorageBackend), the
//! journal as a [`JournalFile`].

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
#[cfg(test)]
use std::sync::Arc;

use redb::{Builder, Database, DatabaseError};

/// The write store's storage.
#[derive(Clone, Debug, Default)]
pub(crate) enum Disk {
    /// The file system.
    #[default]
    Real,
    /// A simulated disk (tests): see [`sim`].
    #[cfg(test)]
    Simulated(Arc<sim::SimDisk>),
}

impl Disk {
    /// Opens the database file at `path`, creating it if missing. A new file's name is made
    /// durable (its folder synced) before anything is committed to it.
    pub(crate) fn open_database(&self, builder: &Builder, path: &Path) -> Result<Database, DatabaseError> {
        let existed = self.exists(path);
        let db = match self {
            Disk::Real => builder.create(path)?,
            #[cfg(test)]
            Disk::Simulated(disk) => builder.create_with_backend(disk.file(path, true)?)?,
        };
        if !existed && let Some(dir) = path.parent() {
            self.sync_dir(dir)?;
        }
        Ok(db)
    }

    pub(crate) fn exists(&self, path: &Path) -> bool {
        match self {
            Disk::Real => path.exists(),
            #[cfg(test)]
            Disk::Simulated(disk) => disk.exists(path),
        }
    }

    /// Opens the journal at `path`; `None` when it does not exist and `create` is false.
    pub(crate) fn open_journal(&self, path: &Path, create: bool) -> io::Result<Option<JournalFile>> {
        match self {
            Disk::Real => {
                let opened = if create {
                    crate::files::private_options().read(true).write(true).create(true).truncate(false).open(path)
                } else {
                    File::open(path)
                };
                match opened {
                    Ok(file) => {
                        if create {
                            crate::files::private_file(path)?;
                        }
                        Ok(Some(JournalFile::Real(file)))
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound && !create => Ok(None),
                    Err(e) => Err(e),
                }
            }
            #[cfg(test)]
            Disk::Simulated(disk) => {
                if !create && !disk.exists(path) {
                    return Ok(None);
                }
                Ok(Some(JournalFile::Simulated(disk.file(path, create)?)))
            }
        }
    }

    /// Makes the entries of `dir` (a file created in it) durable.
    pub(crate) fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        match self {
            Disk::Real => crate::files::sync_dir(dir),
            #[cfg(test)]
            Disk::Simulated(disk) => disk.sync_dir(dir),
        }
    }
}

/// The journal's file.
#[derive(Debug)]
pub(crate) enum JournalFile {
    Real(File),
    #[cfg(test)]
    Simulated(sim::SimFile),
}

impl JournalFile {
    pub(crate) fn len(&self) -> io::Result<u64> {
        match self {
            JournalFile::Real(file) => Ok(file.metadata()?.len()),
            #[cfg(test)]
            JournalFile::Simulated(file) => redb::StorageBackend::len(file),
        }
    }

    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            JournalFile::Real(file) => file.read_exact_at(buf, offset),
            #[cfg(test)]
            JournalFile::Simulated(file) => file.read_exact_at(buf, offset),
        }
    }

    pub(crate) fn write_all_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        match self {
            JournalFile::Real(file) => file.write_all_at(data, offset),
            #[cfg(test)]
            JournalFile::Simulated(file) => redb::StorageBackend::write(file, offset, data),
        }
    }

    /// Makes the file's data durable.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        match self {
            JournalFile::Real(file) => file.sync_data(),
            #[cfg(test)]
            JournalFile::Simulated(file) => redb::StorageBackend::sync_data(file),
        }
    }

    /// Makes the file's data and its length durable.
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        match self {
            JournalFile::Real(file) => file.sync_all(),
            #[cfg(test)]
            JournalFile::Simulated(file) => redb::StorageBackend::sync_data(file),
        }
    }
}

#[cfg(test)]
pub(crate) mod sim {
    //! A disk that keeps, per file, what is durable and every write since, and can lose power.
    //!
    //! Every write, length change and sync counts as one step; [`SimDisk::cut_at`] makes step
    //! `n` and all later ones fail with an I/O error, as if the power went at that moment (the
    //! program goes on, but nothing more reaches the disk). [`SimDisk::after_cut`] then gives
    //! the disk as it may come back: per file its durable bytes, with each unsynced write kept,
    //! lost, or torn sector by sector according to a [`Cut`], and without the files whose names
    //! were never made durable.

    use std::collections::{BTreeMap, BTreeSet};
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, PoisonError};

    /// What a write may be torn into: the unit a disk writes whole.
    pub(crate) const SECTOR: u64 = 512;

    /// How the unsynced writes fare at a power cut.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Cut {
        /// All lost: only what was synced is there.
        LoseAll,
        /// All kept (what a killed process leaves).
        KeepAll,
        /// Each sector of each write kept or lost at random (reordered writes, torn pages).
        Torn,
        /// The writes kept in order up to a random one, which is torn; the rest lost.
        Prefix,
        /// Like `Torn`, but a lost sector may hold garbage instead of its old bytes.
        Garbage,
    }

    pub(crate) const CUTS: [Cut; 5] = [Cut::LoseAll, Cut::KeepAll, Cut::Torn, Cut::Prefix, Cut::Garbage];

    /// A small deterministic random source (xorshift), so a failing cut can be run again from
    /// its seed.
    #[derive(Clone, Debug)]
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        pub(crate) fn below(&mut self, n: u64) -> u64 {
            if n == 0 { 0 } else { self.next() % n }
        }

        pub(crate) fn chance(&mut self, one_in: u64) -> bool {
            self.below(one_in) == 0
        }
    }

    #[derive(Debug)]
    enum Pending {
        Write { offset: u64, data: Vec<u8> },
        SetLen(u64),
    }

    #[derive(Debug, Default)]
    struct Data {
        durable: Vec<u8>,
        current: Vec<u8>,
        pending: Vec<Pending>,
    }

    #[derive(Debug, Default)]
    struct State {
        files: BTreeMap<PathBuf, Arc<Mutex<Data>>>,
        /// Names that survive a power cut (their folder was synced after they were created).
        durable_names: BTreeSet<PathBuf>,
        steps: u64,
        cut_at: Option<u64>,
    }

    /// The simulated disk, shared by every file on it.
    #[derive(Debug, Default)]
    pub(crate) struct SimDisk {
        state: Mutex<State>,
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn power_lost() -> io::Error {
        io::Error::other("simulated power cut: the disk is gone")
    }

    impl SimDisk {
        pub(crate) fn new() -> Arc<SimDisk> {
            Arc::new(SimDisk::default())
        }

        /// Makes step `step` (counted from 0 over every write, length change and sync) and all
        /// later ones fail.
        pub(crate) fn cut_at(&self, step: u64) {
            lock(&self.state).cut_at = Some(step);
        }

        /// Steps taken so far.
        pub(crate) fn steps(&self) -> u64 {
            lock(&self.state).steps
        }

        /// Counts one step; an error once the power is gone.
        fn step(&self) -> io::Result<()> {
            let mut state = lock(&self.state);
            if state.cut_at.is_some_and(|at| state.steps >= at) {
                return Err(power_lost());
            }
            state.steps += 1;
            Ok(())
        }

        pub(crate) fn exists(&self, path: &Path) -> bool {
            lock(&self.state).files.contains_key(path)
        }

        /// The file at `path`; created (empty, its name not yet durable) when `create`.
        pub(crate) fn file(self: &Arc<Self>, path: &Path, create: bool) -> io::Result<SimFile> {
            let existing = lock(&self.state).files.get(path).cloned();
            let data = match existing {
                Some(data) => data,
                None if create => {
                    self.step()?;
                    let data = Arc::new(Mutex::new(Data::default()));
                    lock(&self.state).files.insert(path.to_owned(), Arc::clone(&data));
                    data
                }
                None => return Err(io::Error::new(io::ErrorKind::NotFound, "no such simulated file")),
            };
            Ok(SimFile { disk: Arc::clone(self), data })
        }

        pub(crate) fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.step()?;
            let mut state = lock(&self.state);
            let names: Vec<PathBuf> = state.files.keys().filter(|p| p.parent() == Some(dir)).cloned().collect();
            state.durable_names.extend(names);
            Ok(())
        }

        /// The disk as it comes back after the power went: see [`Cut`].
        pub(crate) fn after_cut(&self, cut: Cut, rng: &mut Rng) -> Arc<SimDisk> {
            let state = lock(&self.state);
            let mut files = BTreeMap::new();
            for (path, data) in &state.files {
                if !state.durable_names.contains(path) {
                    continue;
                }
                let data = lock(data);
                let bytes = survivors(&data, cut, rng);
                files.insert(
                    path.clone(),
                    Arc::new(Mutex::new(Data { durable: bytes.clone(), current: bytes, pending: Vec::new() })),
                );
            }
            Arc::new(SimDisk {
                state: Mutex::new(State { files, durable_names: state.durable_names.clone(), steps: 0, cut_at: None }),
            })
        }
    }

    /// A file's bytes after a power cut.
    fn survivors(data: &Data, cut: Cut, rng: &mut Rng) -> Vec<u8> {
        let mut bytes = data.durable.clone();
        let last_kept = match cut {
            Cut::Prefix => rng.below(data.pending.len() as u64 + 1) as usize,
            _ => usize::MAX,
        };
        for (i, op) in data.pending.iter().enumerate() {
            let keep_sector = |rng: &mut Rng| match cut {
                Cut::LoseAll => false,
                Cut::KeepAll => true,
                Cut::Torn | Cut::Garbage => rng.chance(2),
                Cut::Prefix if i < last_kept => true,
                Cut::Prefix if i == last_kept => rng.chance(2),
                Cut::Prefix => false,
            };
            match op {
                Pending::SetLen(len) => {
                    if keep_sector(rng) {
                        bytes.resize(*len as usize, 0);
                    }
                }
                Pending::Write { offset, data } => {
                    let end = offset + data.len() as u64;
                    let mut at = *offset;
                    while at < end {
                        let next = ((at / SECTOR) + 1) * SECTOR;
                        let upto = next.min(end);
                        let piece = &data[(at - offset) as usize..(upto - offset) as usize];
                        if keep_sector(rng) {
                            put(&mut bytes, at, piece);
                        } else if cut == Cut::Garbage && rng.chance(4) {
                            let junk: Vec<u8> = (0..piece.len()).map(|_| rng.next() as u8).collect();
                            put(&mut bytes, at, &junk);
                        }
                        at = upto;
                    }
                }
            }
        }
        bytes
    }

    fn put(bytes: &mut Vec<u8>, at: u64, piece: &[u8]) {
        let (at, end) = (at as usize, at as usize + piece.len());
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[at..end].copy_from_slice(piece);
    }

    /// One open file of a [`SimDisk`]; also a redb storage backend.
    #[derive(Debug)]
    pub(crate) struct SimFile {
        disk: Arc<SimDisk>,
        data: Arc<Mutex<Data>>,
    }

    impl SimFile {
        pub(crate) fn read_exact_at(&self, out: &mut [u8], offset: u64) -> io::Result<()> {
            let data = lock(&self.data);
            let at = usize::try_from(offset).map_err(io::Error::other)?;
            let source = data
                .current
                .get(at..at + out.len())
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
            out.copy_from_slice(source);
            Ok(())
        }
    }

    impl redb::StorageBackend for SimFile {
        fn len(&self) -> io::Result<u64> {
            Ok(lock(&self.data).current.len() as u64)
        }

        fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
            self.read_exact_at(out, offset)
        }

        fn set_len(&self, len: u64) -> io::Result<()> {
            self.disk.step()?;
            let mut data = lock(&self.data);
            data.current.resize(len as usize, 0);
            data.pending.push(Pending::SetLen(len));
            Ok(())
        }

        fn sync_data(&self) -> io::Result<()> {
            self.disk.step()?;
            let mut data = lock(&self.data);
            data.durable = data.current.clone();
            data.pending.clear();
            Ok(())
        }

        fn write(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
            self.disk.step()?;
            let mut data = lock(&self.data);
            put(&mut data.current, offset, bytes);
            data.pending.push(Pending::Write { offset, data: bytes.to_vec() });
            Ok(())
        }
    }
}
