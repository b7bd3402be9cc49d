//! Any bytes, as a file in any of the three import formats, into a real write store: the
//! importer must answer with a report or a typed error — never panic, never a store fault.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use countertop_core::import::{Format, ImportOptions, import};
use countertop_core::{Command, Decimal, Error, OpenShop, Request, WriteStore};
use libfuzzer_sys::fuzz_target;

struct Shop {
    _dir: tempfile::TempDir,
    store: WriteStore,
    file: PathBuf,
}

fn shop() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        // On tmpfs when there is one: an import commits (and fsyncs) every batch.
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
        let store = WriteStore::open(dir.path()).unwrap();
        let open = OpenShop {
            name: "Fuzz".into(),
            currency: "GBP".into(),
            time_zone: "Europe/London".into(),
            day_start: "04:00".into(),
            prices_include_tax: true,
            default_tax_rate: Decimal::ZERO,
        };
        store.execute(Request::new(Command::OpenShop(open))).unwrap();
        let file = dir.path().join("input.csv");
        Shop { _dir: dir, store, file }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let format = match selector % 3 {
        0 => Format::OnlineRetail,
        1 => Format::Superstore,
        _ => Format::Csv,
    };
    let shop = shop();
    std::fs::write(&shop.file, bytes).unwrap();
    let options = ImportOptions { format, ..Default::default() };
    match import(&shop.store, &shop.file, &options, |_| {}) {
        Ok(_) | Err(Error::Rejected(_)) => {}
        // A store fault or an internal error from input alone is a bug (a contained panic
        // shows up as Corrupt).
        Err(e @ (Error::Corrupt { .. } | Error::Internal(_) | Error::Storage { .. } | Error::Closed)) => {
            panic!("input caused a store fault: {e}")
        }
        Err(_) => {}
    }
});
