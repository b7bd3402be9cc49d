//! `import` and `export`: files in and out, with progress and a reconciliation report.

use std::io::Write;
use std::time::{Duration, Instant};

use countertop_core::import::{self, Field, Format, ImportOptions, ImportProgress};
use countertop_core::{Countertop, Freshness, export};

use crate::reads::catch_up;
use crate::show::Printer;
use crate::{ExportCmd, Failure, FormatArg, Import};

/// Progress on stderr for an import: lines, lines per second, share of the file, time left.
struct ImportLine {
    started: Instant,
    last: Option<Instant>,
    shown: bool,
}

impl ImportLine {
    fn show(&mut self, p: &ImportProgress) {
        if self.started.elapsed() < Duration::from_secs(1)
            || self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(250))
        {
            return;
        }
        self.last = Some(Instant::now());
        self.shown = true;
        let percent = if p.bytes_total > 0 { 100.0 * p.bytes_read as f64 / p.bytes_total as f64 } else { 0.0 };
        let eta = p.eta_seconds.map(|s| format!(", about {s:.0} s left")).unwrap_or_default();
        eprint!("\rimport: {} lines ({percent:.0}%), {:.0} lines/s{eta}   ", p.lines, p.lines_per_second);
        let _ = std::io::stderr().flush();
    }
}

pub fn import(ct: &Countertop, out: &Printer, args: Import) -> Result<(), Failure> {
    let mut map = std::collections::BTreeMap::new();
    for pair in &args.map {
        let Some((field, column)) = pair.split_once('=') else {
            return Err(Failure::Usage(format!(
                "--map '{pair}' is not FIELD=COLUMN; write it like --map order=InvoiceNo"
            )));
        };
        let Some(field) = Field::parse(field) else {
            let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
            return Err(Failure::Usage(format!("--map: '{field}' is not a field; use one of: {}", names.join(", "))));
        };
        map.insert(field, column.to_owned());
    }
    let format = match args.format {
        FormatArg::OnlineRetail => Format::OnlineRetail,
        FormatArg::Superstore => Format::Superstore,
        FormatArg::Csv => Format::Csv,
    };
    if format != Format::Csv && (!map.is_empty() || args.date_format.is_some()) {
        return Err(Failure::Usage(
            "--map and --date-format are for --format csv; the built-in formats know their columns".into(),
        ));
    }
    let options =
        ImportOptions { format, map, date_format: args.date_format, rejected_csv: args.rejected, ..Default::default() };
    let mut line = ImportLine { started: Instant::now(), last: None, shown: false };
    let report = import::import(ct.write(), &args.path, &options, |p| line.show(p));
    if line.shown {
        eprintln!();
    }
    out.import_report(&report?, args.all_rejected);
    Ok(())
}

pub fn export(ct: &Countertop, out: &Printer, cmd: ExportCmd) -> Result<(), Failure> {
    let ExportCmd::Orders { days, out: path } = cmd;
    let period = days.period()?;
    catch_up(ct, Freshness::Tables);
    let file = std::fs::File::create(&path).map_err(|e| {
        Failure::Usage(format!("cannot create {}: {e}; check the folder exists and is writable", path.display()))
    })?;
    let summary = export::orders_csv(ct, period, std::io::BufWriter::new(file))?;
    out.exported(&summary, &path);
    Ok(())
}
