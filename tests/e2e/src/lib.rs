//! Drives the real Countertop window through WebDriver: `WebKitWebDriver` (Debian's
//! `webkit2gtk-driver`) started with `TAURI_WEBVIEW_AUTOMATION=true` launches the app binary,
//! and `fantoccini` speaks WebDriver to it. Needs a display (`xvfb-run`).
//!
//! The tests are `#[ignore]`d, so a plain `cargo test` lists them as ignored rather than passed;
//! `scripts/test.sh` builds the app and runs them with `--ignored`, `COUNTERTOP_APP` naming the
//! binary.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// How long to wait for something to appear before failing.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The app under test: `COUNTERTOP_APP`. An e2e test that runs is asked for, so a missing
/// binary is an error, never a skip.
pub fn app_binary() -> Result<PathBuf> {
    match std::env::var_os("COUNTERTOP_APP").map(PathBuf::from) {
        Some(p) if p.is_file() => Ok(p),
        Some(p) => {
            Err(format!("the app binary {} (COUNTERTOP_APP) does not exist; build it first", p.display()).into())
        }
        None => Err("COUNTERTOP_APP is not set: name the app binary to drive (scripts/test.sh does)".into()),
    }
}

/// Where screenshots go: `tests/e2e/artifacts/` (or `COUNTERTOP_E2E_ARTIFACTS`).
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("COUNTERTOP_E2E_ARTIFACTS").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default().join("artifacts")
    })
}

/// One running app window and the driver that launched it.
#[derive(Debug)]
pub struct App {
    pub client: Client,
    driver: Child,
    /// The app's process(es), started by the driver.
    app: Vec<u32>,
}

/// The processes `pid` started (Linux's `/proc/PID/task/*/children`).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// Whether the process is gone (or only a zombie waiting for its parent) within `limit`.
async fn exited_within(pid: u32, limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"));
        // The state follows the command name in parentheses: "1234 (name) S …".
        let running =
            state.as_deref().ok().and_then(|s| s.rsplit_once(") ")).is_some_and(|(_, rest)| !rest.starts_with('Z'));
        if !running {
            return true;
        }
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl App {
    /// Where the app's file dialogs answer in tests (`COUNTERTOP_TEST_PICK`, see
    /// `src-tauri/src/dialogs.rs`): an open dialog picks the one file in `pick_dir/open`, a save
    /// dialog writes `pick_dir/<suggested name>`.
    pub fn pick_dir(data_dir: &Path) -> PathBuf {
        let mut name = data_dir.file_name().unwrap_or_default().to_os_string();
        name.push("-picked");
        data_dir.with_file_name(name)
    }

    /// Starts a driver whose environment points the app at `data_dir`, then the app.
    pub async fn launch(binary: &Path, data_dir: &Path) -> Result<App> {
        let port = free_port()?;
        let driver = Command::new("WebKitWebDriver")
            .arg(format!("--port={port}"))
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("COUNTERTOP_DATA", data_dir)
            .env("COUNTERTOP_TEST_PICK", App::pick_dir(data_dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start WebKitWebDriver ({e}); install webkit2gtk-driver"))?;
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert("webkitgtk:browserOptions".into(), json!({ "binary": binary, "args": [] }));
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::native().capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if started.elapsed() < PATIENCE => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("no WebDriver session after {PATIENCE:?}: {e}").into()),
            }
        };
        let app = driver.id().map(children).unwrap_or_default();
        Ok(App { client, driver, app })
    }

    /// Closes the window, waits for the app to end (it lets go of its data folder then), and
    /// stops the driver. An app still running 10 s after its window closed is killed and the
    /// test says so: the driver does not end the app it started, and a stray app would hold
    /// its folder and use the CPU the next tests time.
    pub async fn quit(mut self) -> Result<()> {
        let closed = self.client.close().await;
        for pid in &self.app {
            if !exited_within(*pid, Duration::from_secs(10)).await {
                eprintln!("e2e: the app (pid {pid}) was still running 10 s after its window closed; killing it");
                let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status().await;
                exited_within(*pid, Duration::from_secs(5)).await;
            }
        }
        let _ = self.driver.kill().await;
        closed.map_err(Into::into)
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        Ok(self.client.find(Locator::Css(css)).await?)
    }

    /// Waits for an element to exist.
    pub async fn wait(&self, css: &str) -> Result<Element> {
        self.client
            .wait()
            .at_most(PATIENCE)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .map_err(|e| format!("waited {PATIENCE:?} for `{css}`: {e}").into())
    }

    /// Waits until the element's text satisfies `ok`; returns that text.
    pub async fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
        // The rendered text as a person reads it (WebKit's WebDriver "element text" comes back
        // empty for some visible elements, such as grid items with hidden overflow).
        let script = "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : null";
        let text =
            self.poll(script, vec![json!(css)], &format!("`{css}` to {what}"), |v| v.as_str().is_some_and(&ok)).await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    ///
    /// A screen that re-renders between finding the element and clicking it (a list that fills
    /// in, a filter that applies) leaves a node WebKit no longer knows; the click then goes to
    /// the element found afresh.
    pub async fn click(&self, css: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            match self.wait(css).await?.click().await {
                Ok(_) => return Ok(()),
                Err(e) if is_stale(&e) && started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => return Err(format!("clicking `{css}`: {e}").into()),
            }
        }
    }

    /// Types into the element (WebDriver key codes such as [`ENTER`] included), found afresh if
    /// it was re-rendered before the first key reached it.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            match self.wait(css).await?.send_keys(text).await {
                Ok(()) => return Ok(()),
                Err(e) if is_stale(&e) && started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => return Err(format!("typing into `{css}`: {e}").into()),
            }
        }
    }

    /// Sets a field's value as a finished edit leaves it: the new value, then its `input` and
    /// `change` events, in one step. (WebKit's date fields take keys segment by segment in the
    /// locale's order; what a test means is the finished date.)
    pub async fn set_value(&self, css: &str, value: &str) -> Result<()> {
        self.wait(css).await?;
        let script = "const [css, value] = arguments; const e = document.querySelector(css); e.value = value; \
             e.dispatchEvent(new Event('input', { bubbles: true })); e.dispatchEvent(new Event('change', { bubbles: true }));";
        self.client.execute(script, vec![json!(css), json!(value)]).await?;
        Ok(())
    }

    /// Types into whatever has the focus, as a person at the keyboard does.
    pub async fn keys(&self, text: &str) -> Result<()> {
        let focused = self.client.active_element().await?;
        focused.send_keys(text).await.map_err(|e| format!("typing {text:?} into the focused element: {e}").into())
    }

    pub async fn run_js(&self, script: &str) -> Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Runs `script` until its answer satisfies `ok` (screens fill in after their first render,
    /// so a single read can see an empty table); returns that answer.
    pub async fn wait_js(&self, script: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Result<Value> {
        self.poll(script, vec![], what, ok).await
    }

    async fn poll(&self, script: &str, args: Vec<Value>, what: &str, ok: impl Fn(&Value) -> bool) -> Result<Value> {
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < PATIENCE {
            last = self.client.execute(script, args.clone()).await?;
            if ok(&last) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("waited {PATIENCE:?} for {what}; the last answer was {last}").into())
    }

    /// Calls one of the app's Tauri commands directly (what a dialog would have triggered).
    pub async fn invoke(&self, command: &str, args: Value) -> Result<Value> {
        let script = "const [cmd, args, done] = arguments; \
             window.__TAURI_INTERNALS__.invoke(cmd, args).then(v => done({ ok: v === undefined ? null : v }), e => done({ err: e }));";
        let answer = self.client.execute_async(script, vec![json!(command), args]).await?;
        match answer.get("err") {
            Some(err) => Err(format!("{command} failed: {err}").into()),
            None => Ok(answer.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Saves a screenshot as `artifacts/NAME.png`, after a second for the frame to settle
    /// (WebKit's WebDriver screenshot can show the previous frame right after a DOM change).
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let png = self.client.screenshot().await?;
        let path = artifacts_dir().join(format!("{name}.png"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

/// Everything on the screen that spills out of its panel or is cut, as "what: how" lines (empty
/// when everything fits). Checked:
/// - the main area scrolls sideways (something is wider than the window);
/// - an element reaches outside its panel, unless a box between them scrolls sideways (a wide
///   table in a scrolling wrapper does not spill), but such a box that has to scroll sideways
///   at all hides columns, and is reported too;
/// - an element hides part of its own content (`overflow: hidden` with more inside than shown),
///   unless it is meant to (`.ellipsis`: long names in lists end in "…" and show whole on the
///   detail).
const OVERFLOWS: &str = r#"
const out = [];
const name = (el) => {
  const id = el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : '';
  const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
  const text = (el.innerText || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
};
const content = document.querySelector('.content');
if (content && content.scrollWidth > content.clientWidth + 1) {
  out.push(`the screen scrolls sideways: ${content.scrollWidth} px of content in ${content.clientWidth}`);
}
const scrollsX = (el) => /(auto|scroll)/.test(getComputedStyle(el).overflowX);
for (const panel of document.querySelectorAll('.content .panel')) {
  const p = panel.getBoundingClientRect();
  if (!p.width) continue;
  const reported = new Set();
  for (const el of panel.querySelectorAll('*')) {
    // The outermost element that does not fit stands for everything inside it.
    let inside = false;
    for (let a = el.parentElement; a && a !== panel; a = a.parentElement) if (reported.has(a)) { inside = true; break; }
    if (inside) continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.closest('.ellipsis')) continue;
    let scroller = false;
    for (let a = el.parentElement; a && a !== panel; a = a.parentElement) if (scrollsX(a)) { scroller = true; break; }
    if (!scroller && (r.right > p.right + 1 || r.left < p.left - 1)) {
      out.push(`${name(el)} reaches outside its panel (${Math.round(r.left)}–${Math.round(r.right)} in ${Math.round(p.left)}–${Math.round(p.right)})`);
      reported.add(el);
      continue;
    }
    if (scrollsX(el) && el.scrollWidth > el.clientWidth + 1) {
      out.push(`${name(el)} scrolls sideways (${el.scrollWidth} px of content in ${el.clientWidth})`);
      reported.add(el);
      continue;
    }
    const s = getComputedStyle(el);
    const clips = /(hidden|clip)/.test(s.overflowX) && !scrollsX(el);
    if (clips && el.scrollWidth > el.clientWidth + 1 && el.children.length === 0) {
      out.push(`${name(el)} is cut (${el.scrollWidth} px of text in ${el.clientWidth})`);
      reported.add(el);
    }
  }
}
return out;
"#;

impl App {
    /// What spills out of its panel or is cut on the screen as it is now (see [`OVERFLOWS`]).
    pub async fn overflows(&self) -> Result<Vec<String>> {
        let found = self.client.execute(OVERFLOWS, vec![]).await?;
        Ok(serde_json::from_value(found)?)
    }

    /// Makes the window `width` × `height` and waits until the page has that size.
    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        self.client.set_window_size(width, height).await?;
        self.poll(
            "return [window.innerWidth, window.innerHeight]",
            vec![],
            &format!("the window to be {width}×{height}"),
            |v| v == &json!([width, height]),
        )
        .await?;
        Ok(())
    }
}

/// WebDriver key codes.
pub const BACKSPACE: &str = "\u{E003}";
pub const ENTER: &str = "\u{E007}";
pub const CONTROL: &str = "\u{E009}";
pub const ESCAPE: &str = "\u{E00C}";
pub const NULL_KEY: &str = "\u{E000}";
pub const TAB: &str = "\u{E004}";
pub const ARROW_RIGHT: &str = "\u{E014}";

/// Whether WebKit lost the element between finding it and acting on it (it answers "Node with
/// identifier … was not found", as a stale reference or as no such element).
fn is_stale(e: &fantoccini::error::CmdError) -> bool {
    e.is_stale_element_reference() || e.is_no_such_element()
}
