//! Order entry as the owner feels it: from the Enter that places an order in the real window to
//! the frame that shows it, idle, while an import runs and while a rebuild runs. A measurement,
//! not a test: it prints p50/p99 and asserts nothing. BENCHMARKS.md has its figures.
//!
//! ```text
//! scripts/entry-timing.sh [--orders N]      # builds the release app, runs this under Xvfb
//! entry-timing --app PATH [--orders N] [--export FILE] [--json OUT]
//! ```
//!
//! The time is taken inside the page: `performance.now()` at the Enter's `keydown`, and again in
//! the first animation frame after the "just placed" card changes to the new order. WebDriver's
//! own round trips (tens of milliseconds under Xvfb) are reported beside it, not mixed in.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use countertop_core::{AddProduct, Command, OpenShop, Request, WriteStore};
use countertop_e2e::{App, ENTER, PATIENCE, Result};
use serde_json::{Value, json};

/// Records, in the page, when Enter goes down and the first frame after the placed-order card
/// shows a new order.
const PROBE: &str = r#"
if (!window.__entry) {
  const t = { down: 0, last: null, shown: [] };
  window.__entry = t;
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') t.down = performance.now(); }, true);
  new MutationObserver(() => {
    const id = document.querySelector('[data-testid=placed-order]')?.dataset.order ?? null;
    if (id !== null && id !== t.last) {
      t.last = id;
      const down = t.down;
      const dom = performance.now() - down;
      requestAnimationFrame(() => t.shown.push({ id, ms: performance.now() - down, dom }));
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}
return window.__entry.shown.length;
"#;

struct Args {
    app: PathBuf,
    orders: usize,
    export: PathBuf,
    json: Option<PathBuf>,
}

fn args() -> std::result::Result<Args, String> {
    let mut app = None;
    let mut orders = 100;
    // The export in this clone (the binary runs from its target dir, not from the crate).
    let mut export = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/online-retail.csv.gz");
    let mut json = None;
    let mut it = std::env::args_os().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{} needs a value", flag.to_string_lossy()));
        match flag.to_str() {
            Some("--app") => app = Some(PathBuf::from(value()?)),
            Some("--orders") => {
                let v = value()?;
                orders = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--orders takes a whole number above 0, not {}", v.to_string_lossy()))?;
            }
            Some("--export") => export = PathBuf::from(value()?),
            Some("--json") => json = Some(PathBuf::from(value()?)),
            _ => {
                return Err(format!(
                    "unknown argument {}; usage: entry-timing --app PATH [--orders N] [--export FILE] [--json OUT]",
                    flag.to_string_lossy()
                ));
            }
        }
    }
    let app = app.ok_or("--app PATH (the Countertop app binary, release for figures worth quoting) is required")?;
    Ok(Args { app, orders, export, json })
}

/// A shop with one product, `CARD`, typed by the finder.
fn seed(dir: &Path) -> Result<()> {
    let store = WriteStore::open(dir)?;
    store.execute(Request::new(Command::OpenShop(OpenShop {
        name: "Timing Shop".into(),
        currency: "GBP".into(),
        time_zone: "Europe/London".into(),
        day_start: "04:00".into(),
        prices_include_tax: true,
        default_tax_rate: "0.2".parse()?,
    })))?;
    store.execute(Request::new(Command::AddProduct(AddProduct {
        sku: "CARD".into(),
        name: "Greeting card".into(),
        unit_price: "2.50".parse()?,
        tax_rate: None,
        image: None,
    })))?;
    Ok(())
}

/// One order placed from the keyboard: the in-page time (Enter to the frame showing it) and
/// the WebDriver wall time (sending Enter to seeing the card over WebDriver).
struct Sample {
    page: f64,
    /// Enter to the card's change in the DOM (before the frame that paints it).
    dom: f64,
    wall: Duration,
}

async fn place(app: &App) -> Result<Sample> {
    let count = app.run_js(PROBE).await?.as_u64().unwrap_or(0) as usize;
    app.keys(&format!("CARD{ENTER}")).await?;
    let started = Instant::now();
    app.keys(ENTER).await?;
    let shown = loop {
        let shown = app.run_js("return window.__entry.shown").await?;
        if shown.as_array().is_some_and(|a| a.len() > count) {
            break shown;
        }
        if started.elapsed() > PATIENCE {
            return Err(format!("no new order showed within {PATIENCE:?} of pressing Enter").into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let wall = started.elapsed();
    let page = shown[count]["ms"].as_f64().ok_or("the page's timing is not a number")?;
    let dom = shown[count]["dom"].as_f64().ok_or("the page's timing is not a number")?;
    Ok(Sample { page, dom, wall })
}

async fn job(app: &App) -> Result<Option<String>> {
    let info = app.invoke("app_info", json!({})).await?;
    Ok(info["job"]["kind"].as_str().map(str::to_owned))
}

/// Places orders until `n` of them ran entirely while the job `kind` did; `restart` starts the
/// job again whenever it ends (a rebuild is shorter than a hundred orders).
async fn during(app: &App, kind: &str, n: usize, restart: Option<&str>) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    let mut idle_in_a_row = 0;
    while samples.len() < n {
        let before = job(app).await?;
        if before.as_deref() != Some(kind) {
            match restart {
                Some(command) if idle_in_a_row < 3 => {
                    app.invoke(command, json!({})).await?;
                    idle_in_a_row += 1;
                    continue;
                }
                _ => break,
            }
        }
        idle_in_a_row = 0;
        let sample = place(app).await?;
        if job(app).await?.as_deref() == Some(kind) {
            samples.push(sample);
        }
    }
    Ok(samples)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, samples: &[Sample]) -> Value {
    let mut page: Vec<f64> = samples.iter().map(|s| s.page).collect();
    let mut dom: Vec<f64> = samples.iter().map(|s| s.dom).collect();
    let mut wall: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64() * 1000.0).collect();
    page.sort_by(f64::total_cmp);
    dom.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    let row = json!({
        "phase": name,
        "orders": samples.len(),
        "page_p50_ms": percentile(&page, 50.0),
        "page_p99_ms": percentile(&page, 99.0),
        "page_max_ms": page.last().copied().unwrap_or(f64::NAN),
        "dom_p50_ms": percentile(&dom, 50.0),
        "dom_p99_ms": percentile(&dom, 99.0),
        "webdriver_p50_ms": percentile(&wall, 50.0),
        "webdriver_p99_ms": percentile(&wall, 99.0),
    });
    println!(
        "{name:<16} {:>4} orders   Enter → shown p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms   \
         (in the DOM p50 {:>6.1}, p99 {:>6.1}; over WebDriver p50 {:>6.1}, p99 {:>6.1})",
        samples.len(),
        percentile(&page, 50.0),
        percentile(&page, 99.0),
        page.last().copied().unwrap_or(f64::NAN),
        percentile(&dom, 50.0),
        percentile(&dom, 99.0),
        percentile(&wall, 50.0),
        percentile(&wall, 99.0),
    );
    row
}

async fn measure(app: &App, data: &Path, args: &Args) -> Result<Vec<Value>> {
    app.click("[data-nav=new-order]").await?;
    app.click("[data-testid=product-finder]").await?;
    for _ in 0..5 {
        place(app).await?; // warm-up: first renders, caches
    }
    let mut rows = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..args.orders {
        idle.push(place(app).await?);
    }
    rows.push(summary("idle", &idle));

    // The import's dialog picks the one file in `open/` (see `App::pick_dir`).
    let opened = App::pick_dir(data).join("open");
    std::fs::create_dir_all(&opened)?;
    let name = args.export.file_name().ok_or("the export has no file name")?;
    std::os::unix::fs::symlink(std::path::absolute(&args.export)?, opened.join(name))?;
    let started = app.invoke("import_file", json!({ "format": "online-retail" })).await.map_err(|e| {
        format!(
            "the import did not start ({e}); a release app answers its file dialog from \
             COUNTERTOP_TEST_PICK only when built with --features test-dialogs (scripts/entry-timing.sh does)"
        )
    })?;
    if started != json!(true) {
        return Err("the import did not start: its dialog was answered with no file".into());
    }
    let import = during(app, "import", args.orders, None).await?;
    rows.push(summary("during import", &import));
    let started = Instant::now();
    while job(app).await?.is_some() {
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the import still runs after 10 minutes".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let rebuild = during(app, "rebuild", args.orders, Some("rebuild")).await?;
    rows.push(summary("during rebuild", &rebuild));
    Ok(rows)
}

async fn run(args: Args) -> Result<()> {
    if !args.export.is_file() {
        return Err(format!("the export {} does not exist; pass --export FILE", args.export.display()).into());
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("shop");
    seed(&data)?;
    let app = App::launch(&args.app, &data).await?;
    let result = measure(&app, &data, &args).await;
    app.quit().await?;
    let rows = result?;
    if let Some(out) = &args.json {
        std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
