//! The crash campaign's child: opens a shop and runs a mixed workload (orders one at a time and
//! in batches, shipping, cancellations, refunds, CSV imports, full rebuilds) until it is killed.
//!
//! `crash-child WORK SEED RUN` uses `WORK/data` as the data dir and `WORK/imports` for the CSV
//! files it imports. It prints one line per answer on stdout, flushed before the next command:
//!
//! - `ack ID` — the command with this id was acknowledged (its events are durable);
//! - `rejected ID` — the rules refused it (it must have written nothing);
//! - `imported ORDER` — an import finished and this order number was in its file;
//! - `rebuilding` / `rebuilt` — a full blue-green rebuild started / finished;
//! - `importing` — an import started (its orders follow as `imported` lines once it finished).
//!
//! An import that was interrupted is finished first at the next start (imports are idempotent),
//! which is how a kill during an import must be recovered from.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use countertop_core::import::{Format, ImportOptions};
use countertop_core::{
    AddProduct, CancelOrder, Command, Countertop, Decimal, Entity, Error, LineInput, MoneyInput, OpenShop, PlaceOrder,
    RefundOrder, Request, ShipOrder,
};

const SKUS: [(&str, &str, &str); 3] =
    [("MUG", "Enamel mug", "8.00"), ("TEA", "Tea towel", "4.50"), ("CARD", "Card", "2.50")];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [work, seed, run] = args.as_slice() else {
        eprintln!("usage: crash-child WORK SEED RUN");
        return ExitCode::from(2);
    };
    let (Ok(seed), Ok(run)) = (seed.parse::<u64>(), run.parse::<u64>()) else {
        eprintln!("SEED and RUN must be numbers");
        return ExitCode::from(2);
    };
    match Child::start(Path::new(work), seed, run).and_then(|mut child| child.work()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-child: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Child {
    ct: Arc<Countertop>,
    /// A rebuild running on its own thread while orders keep coming (as in the app).
    rebuild: Option<std::thread::JoinHandle<Result<(), Error>>>,
    imports: PathBuf,
    rng: fastrand::Rng,
    run: u64,
    /// Orders this run placed, for shipping, cancelling and refunding.
    placed: Vec<String>,
}

impl Child {
    fn start(work: &Path, seed: u64, run: u64) -> Result<Child, Error> {
        let ct = Arc::new(Countertop::open(&work.join("data"))?);
        let imports = work.join("imports");
        std::fs::create_dir_all(&imports).map_err(|e| Error::Write { detail: e.to_string() })?;
        let mut child = Child {
            ct,
            rebuild: None,
            imports,
            rng: fastrand::Rng::with_seed(seed ^ run.rotate_left(32)),
            run,
            placed: vec![],
        };
        // The same ids every run: after the first, these replay instead of adding anything.
        child.run_command("setup-shop", open_shop())?;
        for (sku, name, price) in SKUS {
            let product = AddProduct {
                sku: sku.into(),
                name: name.into(),
                unit_price: MoneyInput::new(dec(price)),
                tax_rate: None,
                image: None,
            };
            child.run_command(&format!("setup-{sku}"), Command::AddProduct(product))?;
        }
        child.finish_pending_import()?;
        Ok(child)
    }

    fn work(&mut self) -> Result<(), Error> {
        for i in 0.. {
            // A busy shop, not a benchmark: a pause of up to 2 ms between commands keeps the
            // log to a size the parent can check after every kill, and spreads the kills over
            // every phase of a command.
            std::thread::sleep(Duration::from_micros(self.rng.u64(..=2000)));
            let id = format!("r{}-{i}", self.run);
            match self.rng.u32(0..100) {
                0..50 => {
                    let command = self.place();
                    self.run_command(&id, command)?;
                }
                50..62 => self.place_batch(&id)?,
                62..72 => {
                    if let Some(order) = self.some_order() {
                        let ship = ShipOrder { order, carrier: "DHL".into(), tracking: format!("JD{id}"), at: None };
                        self.run_command(&id, Command::ShipOrder(ship))?;
                    }
                }
                72..80 => {
                    if let Some(order) = self.some_order() {
                        let cancel = CancelOrder { order, reason: "changed their mind".into(), at: None };
                        self.run_command(&id, Command::CancelOrder(cancel))?;
                    }
                }
                80..90 => {
                    if let Some(order) = self.some_order() {
                        let amount = MoneyInput::new(dec("1.00"));
                        let refund = RefundOrder::amount(order, amount, "chipped");
                        self.run_command(&id, Command::RefundOrder(refund))?;
                    }
                }
                90..98 => self.import(&id)?,
                _ => self.start_rebuild()?,
            }
        }
        Ok(())
    }

    /// Starts a full rebuild on another thread, unless one is still running.
    fn start_rebuild(&mut self) -> Result<(), Error> {
        if let Some(running) = self.rebuild.take_if(|r| r.is_finished()) {
            running.join().map_err(|_| Error::Internal("the rebuild thread panicked".into()))??;
        }
        if self.rebuild.is_none() {
            let ct = Arc::clone(&self.ct);
            say("rebuilding");
            self.rebuild = Some(std::thread::spawn(move || {
                ct.rebuild(Duration::from_secs(600), |_| {})?;
                say("rebuilt");
                Ok(())
            }));
        }
        Ok(())
    }

    fn run_command(&mut self, id: &str, command: Command) -> Result<(), Error> {
        match self.ct.execute(Request::with_id(id, command)) {
            Ok(outcome) => {
                if let Entity::Order(order) = &outcome.entity
                    && !outcome.replayed
                {
                    self.placed.push(order.id.clone());
                }
                say(&format!("ack {id}"));
                Ok(())
            }
            Err(Error::Rejected(_)) => {
                say(&format!("rejected {id}"));
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Up to 20 orders in one transaction, each acknowledged on its own.
    fn place_batch(&mut self, id: &str) -> Result<(), Error> {
        let requests: Vec<Request> =
            (0..self.rng.usize(1..=20)).map(|k| Request::with_id(format!("{id}-{k}"), self.place())).collect();
        let ids: Vec<String> = requests.iter().map(|r| r.command_id.clone()).collect();
        for (id, result) in ids.iter().zip(self.ct.write().execute_batch(requests)?) {
            match result {
                Ok(_) => say(&format!("ack {id}")),
                Err(Error::Rejected(_)) => say(&format!("rejected {id}")),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn place(&mut self) -> Command {
        let lines = (0..self.rng.usize(1..=3))
            .map(|_| LineInput::Product {
                sku: SKUS[self.rng.usize(..SKUS.len())].0.into(),
                quantity: self.rng.i64(1..=4),
                unit_price: None,
            })
            .collect();
        Command::PlaceOrder(PlaceOrder {
            order: None,
            customer: None,
            lines,
            discount: None,
            note: Some("crash campaign".into()),
            payment_method: Some("card".into()),
            at: None,
            payments: Vec::new(),
            invoice: false,
        })
    }

    /// An order this run placed, mostly recent ones.
    fn some_order(&mut self) -> Option<String> {
        let n = self.placed.len();
        (n > 0).then(|| self.placed[n - 1 - self.rng.usize(..n.min(10))].clone())
    }

    /// Writes a CSV of 3–12 orders, records it as pending, imports it, reports its orders.
    fn import(&mut self, id: &str) -> Result<(), Error> {
        let file = self.imports.join(format!("{id}.csv"));
        let mut csv = String::from("order,date,customer,sku,product,quantity,unit_price\n");
        for k in 0..self.rng.usize(3..=12) {
            for (sku, name, price) in &SKUS[..self.rng.usize(1..=SKUS.len())] {
                let quantity = self.rng.u32(1..=5);
                csv.push_str(&format!(
                    "{id}-{k},2025-06-01 12:00:00,Crash Customer {k},{sku},{name},{quantity},{price}\n"
                ));
            }
        }
        write_file(&file, csv.as_bytes())?;
        // Written whole, then renamed: a kill leaves either no marker or a complete one.
        let marker = self.imports.join("pending.new");
        write_file(&marker, file.to_string_lossy().as_bytes())?;
        std::fs::rename(&marker, self.pending()).map_err(|e| Error::Write { detail: e.to_string() })?;
        self.finish_pending_import()
    }

    fn pending(&self) -> PathBuf {
        self.imports.join("pending")
    }

    fn finish_pending_import(&mut self) -> Result<(), Error> {
        let Ok(file) = std::fs::read_to_string(self.pending()) else { return Ok(()) };
        let file = PathBuf::from(file);
        say("importing");
        let options = ImportOptions { format: Format::Csv, ..Default::default() };
        let report = countertop_core::import::import(self.ct.write(), &file, &options, |_| {})?;
        if !report.rejected.is_empty() {
            return Err(Error::Internal(format!("the campaign's own CSV had rejected lines: {:?}", report.rejected)));
        }
        let text =
            std::fs::read_to_string(&file).map_err(|e| Error::Read { path: file.clone(), detail: e.to_string() })?;
        let mut orders: Vec<&str> = text.lines().skip(1).filter_map(|line| line.split(',').next()).collect();
        orders.dedup();
        for order in orders {
            say(&format!("imported {order}"));
        }
        std::fs::remove_file(self.pending()).map_err(|e| Error::Write { detail: e.to_string() })
    }
}

fn open_shop() -> Command {
    Command::OpenShop(OpenShop {
        name: "Crash Test Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: dec("0.2"),
    })
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_default()
}

/// One line, flushed at once: the parent must see every acknowledgement made before the kill.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|e| Error::Write { detail: format!("{}: {e}", path.display()) })
}
