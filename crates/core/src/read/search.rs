//! The search projection: a tantivy index of orders, customers and products in
//! `search/gen-N/`, with `search/CURRENT` naming the live generation (a rebuild writes a new
//! generation and switches the pointer atomically).
//!
//! Its checkpoint is the commit payload, so an index always resumes exactly after the last
//! event it committed. It trails the tables: documents are built from the read store's views,
//! which are always at least as new as the events being indexed, so re-indexing is idempotent.
//!
//! Query syntax: words (all must match; words of 5+ letters also match with one typo; the last
//! word, from 3 characters, also matches as a prefix, for results as you type), `"a phrase"`, and filters
//! `kind:order|customer|product`, `status:placed|shipped|delivered|cancelled` (`pending`, the
//! stored name of placed, works too).
//!
//! Words are compared lowercased and with accents folded (ASCII folding), both in documents and
//! in queries: "zoe muller" finds Zoë Müller, and "Müller" finds Muller.
//!
//! What a thing *is called* comes first: when the words typed are exactly an order's number or
//! tracking number, a product's SKU or name, or a customer's number, name, email or phone (as
//! words, so case, accents and punctuation do not matter), that document gets [`EXACT_SCORE`]
//! per word on top of its text score, more than any text score can be, so it ranks above
//! documents that merely contain the words. The identifiers are indexed a second time for
//! this, each as one untokenized term of its words (`exact`).
//!
//! Typo and prefix matches are looked for only when the words as typed match fewer than
//! [`WIDEN_BELOW`] documents. Their expansions are what make a search of common words slow on
//! a big shop ("enamel mug" over a million orders: 22 ms with them, 7 ms without), and when
//! the exact words already fill pages of results, variants would only rank below them.
//!
//! A page of hits comes grouped by kind (the palette shows products, customers and orders under
//! their own headings): the kind of the page's best hit first, each kind's hits best first.
//!
//! The index holds customers' names, emails and phones, so like the rest of the data folder its
//! folders are `0700` and its files `0600` (`crate::files`): tantivy's own directory makes
//! files with the process's default permissions, so it is opened through [`PrivateDirectory`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use tantivy::collector::{Count, TopDocs};
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, WatchCallback, WatchHandle, WritePtr,
};
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use super::orders::OrderView;
use super::{CustomerInfo, ProductInfo};
use crate::domain::OrderStatus;

const POINTER: &str = "CURRENT";
/// Changes when the schema or what goes into documents changes; a mismatch rebuilds the index.
const SEARCH_FINGERPRINT: &str = "search@4";
const WRITER_MEMORY: usize = 15_000_000;
/// Below this many exact matches, a search also looks for typos and prefixes.
const WIDEN_BELOW: usize = 20;
/// The analyzer of the `text` field, registered with every index this code opens.
const WORDS: &str = "countertop_words";
/// What an exact match adds, per word typed. A text score is a sum of BM25 terms, each at most
/// (k1 + 1) · ln(1 + 2N) = 2.2 · ln(1 + 2N) over N documents (under 50 for a billion): per word,
/// its term boosted 3× and, inside a phrase, once more, plus 1 each for a typo and a prefix
/// match (constant scores); per filter, one term. So an exact match ranks above every document
/// that merely contains the words, in any shop.
const EXACT_SCORE: f32 = 1000.0;

/// Words as search compares them: split at anything not a letter or digit, lowercased, accents
/// folded ("Zoë" → "zoe"), words over 40 bytes dropped.
fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The words of `text`, as search compares them.
fn words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// What a hit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    Order,
    Customer,
    Product,
}

impl SearchKind {
    fn as_str(self) -> &'static str {
        match self {
            SearchKind::Order => "order",
            SearchKind::Customer => "customer",
            SearchKind::Product => "product",
        }
    }

    fn parse(s: &str) -> Option<SearchKind> {
        match s {
            "order" => Some(SearchKind::Order),
            "customer" => Some(SearchKind::Customer),
            "product" => Some(SearchKind::Product),
            _ => None,
        }
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS)]
pub struct SearchHit {
    pub kind: SearchKind,
    /// Order number, customer id or SKU.
    pub id: String,
    pub title: String,
    /// In words: an order's status, a customer's email and country, a product's SKU.
    pub subtitle: String,
    /// An order's business day (`YYYY-MM-DD`), for the reader to write the shop's way.
    pub day: Option<String>,
    /// An order's total, an exact decimal in the shop's currency.
    pub total: Option<String>,
    pub score: f32,
}

/// How the app names an order's status, everywhere a person reads it (the UI's labels in
/// `ui/src/lib/format.ts`): a pending order is "Placed".
pub(crate) fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Pending => "Placed",
        OrderStatus::Shipped => "Shipped",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Completed => "Completed",
    }
}

#[derive(Clone, Copy, Debug)]
struct Fields {
    key: Field,
    kind: Field,
    id: Field,
    status: Field,
    title: Field,
    subtitle: Field,
    day: Field,
    total: Field,
    /// What the thing is called (order and tracking numbers, SKU, names…), each value one term:
    /// its words joined by single spaces.
    exact: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(WORDS).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_text_field("id", STRING | STORED),
        status: b.add_text_field("status", STRING),
        title: b.add_text_field("title", STORED),
        subtitle: b.add_text_field("subtitle", STORED),
        day: b.add_text_field("day", STORED),
        total: b.add_text_field("total", STORED),
        exact: b.add_text_field("exact", STRING),
        text: b.add_text_field("text", text),
    };
    (b.build(), fields)
}

#[derive(Serialize, Deserialize)]
struct Payload {
    checkpoint: u64,
    fingerprint: String,
}

fn search_err(e: impl std::fmt::Display) -> crate::Error {
    super::storage(format!("search index: {e}"))
}

/// One generation of the index, open for reading and writing.
pub(crate) struct Generation {
    number: u64,
    index: Index,
    fields: Fields,
    reader: IndexReader,
}

impl Generation {
    fn create(dir: &Path, number: u64) -> Result<Generation, crate::Error> {
        let path = dir.join(format!("gen-{number}"));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(search_err)?;
        }
        crate::files::private_dir(&path).map_err(search_err)?;
        let (schema, fields) = schema();
        let index =
            Index::create(PrivateDirectory::open(&path)?, schema, IndexSettings::default()).map_err(search_err)?;
        Generation::with_index(number, index, fields)
    }

    /// The generation, or `None` when it has another schema (an earlier version wrote it).
    fn open(dir: &Path, number: u64) -> Result<Option<Generation>, crate::Error> {
        let path = dir.join(format!("gen-{number}"));
        // What an earlier version wrote with the default permissions is tightened.
        crate::files::private_tree(&path).map_err(search_err)?;
        let index = Index::open(PrivateDirectory::open(&path)?).map_err(search_err)?;
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Ok(None);
        }
        Generation::with_index(number, index, fields).map(Some)
    }

    fn with_index(number: u64, index: Index, fields: Fields) -> Result<Generation, crate::Error> {
        // Analyzers are not stored in the index: every open registers the schema's.
        index.tokenizers().register(WORDS, words_analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(search_err)?;
        Ok(Generation { number, index, fields, reader })
    }

    /// The checkpoint of the last commit (0 for a new index or one of another fingerprint).
    fn checkpoint(&self) -> Result<Option<u64>, crate::Error> {
        let metas = self.index.load_metas().map_err(search_err)?;
        let Some(payload) = metas.payload else { return Ok(Some(0)) };
        match serde_json::from_str::<Payload>(&payload) {
            Ok(p) if p.fingerprint == SEARCH_FINGERPRINT => Ok(Some(p.checkpoint)),
            _ => Ok(None),
        }
    }

    pub(crate) fn writer(&self) -> Result<SearchWriter, crate::Error> {
        let writer = self.index.writer_with_num_threads(1, WRITER_MEMORY).map_err(search_err)?;
        Ok(SearchWriter { writer, fields: self.fields, analyzer: words_analyzer(), pending: false })
    }
}

/// The index files of a data dir: which generation is live, and its reader.
pub(crate) struct SearchIndex {
    dir: PathBuf,
    live: RwLock<Generation>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SearchIndex {
    /// Opens the live generation; a missing, damaged or outdated index is replaced by an
    /// empty one (the projector refills it). Returns the index, its checkpoint, and what was
    /// wrong if it was replaced.
    pub(crate) fn open(dir: &Path) -> Result<(SearchIndex, u64, Option<String>), crate::Error> {
        crate::files::private_dir(dir).map_err(search_err)?;
        let pointer = std::fs::read_to_string(dir.join(POINTER)).ok();
        let number = pointer.as_deref().and_then(|p| p.trim().strip_prefix("gen-")?.parse::<u64>().ok());
        let outdated = |number: u64| -> Result<_, crate::Error> {
            Ok((
                Generation::create(dir, number + 1)?,
                0,
                Some("the search index was built by another version".to_owned()),
            ))
        };
        let (generation, checkpoint, problem) = match number.map(|n| Generation::open(dir, n)) {
            Some(Ok(Some(generation))) => match generation.checkpoint()? {
                Some(cp) => (generation, cp, None),
                None => outdated(generation.number)?,
            },
            Some(Ok(None)) => outdated(number.unwrap_or(0))?,
            Some(Err(e)) => {
                let next = number.unwrap_or(0) + 1;
                (Generation::create(dir, next)?, 0, Some(format!("the search index could not be opened ({e})")))
            }
            None => {
                let problem = pointer.map(|_| "the search index pointer is unreadable".to_owned());
                (Generation::create(dir, 1)?, 0, problem)
            }
        };
        let index = SearchIndex { dir: dir.to_owned(), live: RwLock::new(generation) };
        index.point_to(index.generation_number())?;
        index.remove_other_generations();
        Ok((index, checkpoint, problem))
    }

    fn generation_number(&self) -> u64 {
        self.live.read().unwrap_or_else(PoisonError::into_inner).number
    }

    /// Writes `CURRENT` atomically (write a temporary file, then rename over).
    fn point_to(&self, number: u64) -> Result<(), crate::Error> {
        use std::io::Write;
        let tmp = self.dir.join(format!("{POINTER}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut file = crate::files::private_options().write(true).create_new(true).open(&tmp).map_err(search_err)?;
        file.write_all(format!("gen-{number}\n").as_bytes()).map_err(search_err)?;
        std::fs::rename(&tmp, self.dir.join(POINTER)).map_err(search_err)?;
        crate::files::private_file(&self.dir.join(POINTER)).map_err(search_err)
    }

    fn remove_other_generations(&self) {
        let live = format!("gen-{}", self.generation_number());
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("gen-") && name != live {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }

    /// A writer on the live generation (only the projector thread holds one).
    pub(crate) fn writer(&self) -> Result<SearchWriter, crate::Error> {
        self.live.read().unwrap_or_else(PoisonError::into_inner).writer()
    }

    /// An empty next generation for a rebuild.
    pub(crate) fn next_generation(&self) -> Result<Generation, crate::Error> {
        Generation::create(&self.dir, self.generation_number() + 1)
    }

    /// Makes a rebuilt generation the live one.
    pub(crate) fn swap_in(&self, generation: Generation) -> Result<(), crate::Error> {
        let number = generation.number;
        self.point_to(number)?;
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = generation;
        self.remove_other_generations();
        Ok(())
    }

    pub(crate) fn reload(&self) -> Result<(), crate::Error> {
        self.live.read().unwrap_or_else(PoisonError::into_inner).reader.reload().map_err(search_err)
    }

    /// Every live document's stored fields (key, title, subtitle, day, total; tab-separated),
    /// sorted.
    pub(crate) fn documents(&self) -> Result<Vec<String>, crate::Error> {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        let searcher = live.reader.searcher();
        let mut lines = Vec::new();
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            for doc_id in segment.doc_ids_alive() {
                let address = tantivy::DocAddress::new(ordinal as u32, doc_id);
                let doc: TantivyDocument = searcher.doc(address).map_err(search_err)?;
                let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                let f = live.fields;
                lines.push([text(f.key), text(f.title), text(f.subtitle), text(f.day), text(f.total)].join("\t"));
            }
        }
        lines.sort_unstable();
        Ok(lines)
    }

    /// A digest of [`SearchIndex::documents`]: equal digests, equal indexes (as far as results
    /// show them; a key indexed twice changes it too).
    pub(crate) fn digest(&self) -> Result<String, crate::Error> {
        let lines = self.documents()?;
        let mut hasher = blake3::Hasher::new();
        for line in &lines {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        Ok(format!("{} documents, {}", lines.len(), hasher.finalize().to_hex()))
    }

    /// Runs a query against the last committed state.
    pub(crate) fn search(
        &self,
        text: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, usize), crate::Error> {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        let searcher = live.reader.searcher();
        let collector = (TopDocs::with_limit(limit.max(1)).and_offset(offset).order_by_score(), Count);
        // The words as typed first; typos and prefixes only when those find few documents (the
        // choice depends on the query alone, so every page of it is cut the same way).
        let exact = parse(&live.index, live.fields, text, false)?;
        let (mut top, mut total) = searcher.search(&exact, &collector).map_err(search_err)?;
        if total < WIDEN_BELOW {
            let widened = parse(&live.index, live.fields, text, true)?;
            (top, total) = searcher.search(&widened, &collector).map_err(search_err)?;
        }
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(search_err)?;
            let given = |field| doc.get_first(field).and_then(|v| v.as_str()).map(str::to_owned);
            let text = |field| given(field).unwrap_or_default();
            let Some(kind) = SearchKind::parse(&text(live.fields.kind)) else { continue };
            hits.push(SearchHit {
                kind,
                id: text(live.fields.id),
                title: text(live.fields.title),
                subtitle: text(live.fields.subtitle),
                day: given(live.fields.day),
                total: given(live.fields.total),
                score,
            });
        }
        group_by_kind(&mut hits);
        Ok((hits, total))
    }
}

/// Puts hits (best first) in groups of one kind: the best hit's kind first, then the kind of
/// the best hit of the rest, and so on; best first within each group (the sort is stable).
fn group_by_kind(hits: &mut [SearchHit]) {
    let mut order: Vec<SearchKind> = Vec::with_capacity(3);
    for hit in hits.iter() {
        if !order.contains(&hit.kind) {
            order.push(hit.kind);
        }
    }
    hits.sort_by_key(|hit| order.iter().position(|k| *k == hit.kind));
}

/// Writes documents; the projector commits with the checkpoint they reach.
pub(crate) struct SearchWriter {
    writer: IndexWriter,
    fields: Fields,
    analyzer: TextAnalyzer,
    pending: bool,
}

impl SearchWriter {
    pub(crate) fn has_pending(&self) -> bool {
        self.pending
    }

    /// Drops everything since the last commit and starts a fresh writer (tantivy's writer is
    /// dead after a failed write, such as on a full disk).
    pub(crate) fn rollback(&mut self) -> Result<(), crate::Error> {
        self.writer.rollback().map_err(search_err)?;
        self.pending = false;
        Ok(())
    }

    /// Replaces the document under `key`, with `names` (what the thing is called) indexed for
    /// exact matches.
    fn replace(&mut self, key: &str, mut document: TantivyDocument, names: &[&str]) -> Result<(), crate::Error> {
        for name in names {
            let exact = words(&mut self.analyzer, name).join(" ");
            if !exact.is_empty() {
                document.add_text(self.fields.exact, exact);
            }
        }
        self.writer.delete_term(Term::from_field_text(self.fields.key, key));
        self.writer.add_document(document).map_err(search_err)?;
        self.pending = true;
        Ok(())
    }

    pub(crate) fn order(&mut self, view: &OrderView) -> Result<(), crate::Error> {
        let f = self.fields;
        let key = format!("order/{}", view.id);
        let mut words = vec![view.id.clone()];
        if let Some(c) = &view.customer {
            words.extend([c.id.clone(), c.name.clone()]);
            words.extend(c.email.clone());
            words.extend(c.country.clone());
        }
        for line in &view.lines {
            words.push(line.name.clone());
            words.extend(line.sku.clone());
        }
        if let Some(s) = &view.shipment {
            words.extend([s.carrier.clone(), s.tracking.clone()]);
        }
        words.extend(view.note.clone());
        let who = view.customer.as_ref().map_or("walk-in", |c| c.name.as_str());
        let title = format!("Order {} — {who}", view.id);
        // The day and the total go as they are: the reader writes them the shop's way.
        let day = view.business_day.to_string();
        let total = view.currency.fixed(view.totals.total);
        let mut names = vec![view.id.as_str()];
        names.extend(view.shipment.as_ref().map(|s| s.tracking.as_str()));
        self.replace(
            &key,
            doc!(
                f.key => key.as_str(),
                f.kind => SearchKind::Order.as_str(),
                f.id => view.id.as_str(),
                f.status => view.status.as_str(),
                f.title => title,
                f.subtitle => status_label(view.status),
                f.day => day,
                f.total => total,
                f.text => words.join(" "),
            ),
            &names,
        )
    }

    pub(crate) fn customer(&mut self, info: &CustomerInfo) -> Result<(), crate::Error> {
        let f = self.fields;
        let key = format!("customer/{}", info.id);
        let mut words = vec![info.id.clone(), info.name.clone()];
        words.extend(info.email.clone());
        words.extend(info.phone.clone());
        words.extend(info.country.clone());
        let subtitle =
            [info.email.as_deref(), info.country.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
        let names = [Some(info.id.as_str()), Some(info.name.as_str()), info.email.as_deref(), info.phone.as_deref()];
        self.replace(
            &key,
            doc!(
                f.key => key.as_str(),
                f.kind => SearchKind::Customer.as_str(),
                f.id => info.id.as_str(),
                f.title => info.name.as_str(),
                f.subtitle => subtitle,
                f.text => words.join(" "),
            ),
            &names.into_iter().flatten().collect::<Vec<_>>(),
        )
    }

    pub(crate) fn product(&mut self, info: &ProductInfo) -> Result<(), crate::Error> {
        let f = self.fields;
        let key = format!("product/{}", info.sku);
        let subtitle = if info.archived { format!("{} · archived", info.sku) } else { info.sku.clone() };
        self.replace(
            &key,
            doc!(
                f.key => key.as_str(),
                f.kind => SearchKind::Product.as_str(),
                f.id => info.sku.as_str(),
                f.title => info.name.as_str(),
                f.subtitle => subtitle,
                f.text => format!("{} {}", info.sku, info.name),
            ),
            &[info.sku.as_str(), info.name.as_str()],
        )
    }

    /// Makes everything written so far durable and visible, recording `checkpoint`.
    pub(crate) fn commit(&mut self, checkpoint: u64) -> Result<(), crate::Error> {
        let payload = serde_json::to_string(&Payload { checkpoint, fingerprint: SEARCH_FINGERPRINT.to_owned() })
            .map_err(search_err)?;
        let mut prepared = self.writer.prepare_commit().map_err(search_err)?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(search_err)?;
        self.pending = false;
        Ok(())
    }

    /// Drops every document (the index then refills from position 1).
    pub(crate) fn clear(&mut self) -> Result<(), crate::Error> {
        self.writer.delete_all_documents().map_err(search_err)?;
        self.commit(0)
    }
}

/// Turns what a person typed into a query, or says what is wrong with it. With `widen`, words
/// also match with a typo (5+ letters) and the last one (3+) as a prefix.
fn parse(index: &Index, f: Fields, text: &str, widen: bool) -> Result<Box<dyn Query>, crate::Error> {
    let bad = |message: String| crate::Error::Rejected(crate::Rejection::BadSearch { message });
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    // Words outside phrases (each a clause of its own), and every word typed, in order.
    let mut loose: Vec<String> = Vec::new();
    let mut typed: Vec<String> = Vec::new();
    let mut analyzer = index.tokenizer_for_field(f.text).map_err(search_err)?;
    let mut tokens = |s: &str| words(&mut analyzer, s);

    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad("the search is empty; type an order number, a name, a SKU or a tracking number".into()));
    }
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let Some(end) = after.find('"') else {
                return Err(bad(format!("the quote before '{after}' is not closed; add a closing \"")));
            };
            let phrase = tokens(&after[..end]);
            typed.extend(phrase.iter().cloned());
            match phrase.len() {
                0 => {}
                1 => loose.extend(phrase),
                _ => {
                    let terms = phrase.iter().map(|t| Term::from_field_text(f.text, t)).collect();
                    clauses.push((Occur::Must, Box::new(PhraseQuery::new(terms))));
                }
            }
            rest = after[end + 1..].trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        rest = tail.trim_start();
        if let Some((field, value)) = word.split_once(':')
            && field.chars().all(|c| c.is_ascii_alphabetic())
            && !field.is_empty()
        {
            let mut value = value.to_ascii_lowercase();
            let (field, allowed, listed): (Field, &[&str], &str) = match field.to_ascii_lowercase().as_str() {
                "kind" => (f.kind, &["order", "customer", "product"], "order, customer, product"),
                // The app calls a pending order "placed"; both words work.
                "status" => (
                    f.status,
                    &["placed", "pending", "shipped", "delivered", "cancelled", "completed"],
                    "placed, shipped, delivered, cancelled, completed",
                ),
                other => {
                    return Err(bad(format!(
                        "'{other}:' is not a search filter; use kind: or status:, or leave the colon out"
                    )));
                }
            };
            if !allowed.contains(&value.as_str()) {
                return Err(bad(format!("'{word}' is not a known value; use one of: {listed}")));
            }
            if field == f.status && value == "placed" {
                value = OrderStatus::Pending.as_str().to_owned();
            }
            if field == f.status {
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(Term::from_field_text(f.kind, "order"), IndexRecordOption::Basic)),
                ));
            }
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(field, &value), IndexRecordOption::Basic)),
            ));
            continue;
        }
        let found = tokens(word);
        typed.extend(found.iter().cloned());
        loose.extend(found);
    }

    let last = loose.len().saturating_sub(1);
    for (i, word) in loose.iter().enumerate() {
        let term = Term::from_field_text(f.text, word);
        let mut options: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Should,
            Box::new(BoostQuery::new(Box::new(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs)), 3.0)),
        )];
        if widen && word.chars().count() >= 5 {
            options.push((Occur::Should, Box::new(FuzzyTermQuery::new(term.clone(), 1, true))));
        }
        // From three characters: a shorter prefix ("17") stands for a large part of the
        // dictionary (every order number starting with 17), slow and of no use as a result.
        if widen && i == last && word.chars().count() >= 3 {
            options.push((Occur::Should, Box::new(FuzzyTermQuery::new_prefix(term, 0, true))));
        }
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(options))));
    }
    if clauses.is_empty() {
        return Err(bad("the search has no words to look for; type letters or digits".into()));
    }
    if !typed.is_empty() {
        // Not required: it only lifts what is called exactly what was typed above the rest.
        let exact = TermQuery::new(Term::from_field_text(f.exact, &typed.join(" ")), IndexRecordOption::Basic);
        clauses
            .push((Occur::Should, Box::new(ConstScoreQuery::new(Box::new(exact), EXACT_SCORE * typed.len() as f32))));
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

/// The ids a batch of events touches in the index.
#[derive(Default)]
pub(crate) struct Touched {
    pub orders: BTreeSet<String>,
    pub customers: BTreeSet<String>,
    pub products: BTreeSet<String>,
}

impl Touched {
    pub(crate) fn note(&mut self, event: &crate::domain::Event) {
        use crate::domain::StreamId;
        match event.stream() {
            StreamId::Order(id) => {
                self.orders.insert(id);
            }
            StreamId::Customer(id) => {
                self.customers.insert(id);
            }
            StreamId::Product(sku) => {
                self.products.insert(sku);
            }
            // Returns are found through the dashboards, not search.
            StreamId::Shop | StreamId::Return(_) | StreamId::Drawer(_) | StreamId::Device(_) => {}
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.customers.is_empty() && self.products.is_empty()
    }
}

/// tantivy's [`MmapDirectory`], with every file it makes readable by its owner only: a file is
/// made `0600` as soon as tantivy has created it (segments, lock files; `atomic_write`'s
/// temporary files already are). The folder is `0700`, so nobody else could reach a file in
/// the moment before.
#[derive(Clone, Debug)]
struct PrivateDirectory {
    root: PathBuf,
    inner: MmapDirectory,
}

impl PrivateDirectory {
    fn open(root: &Path) -> Result<PrivateDirectory, crate::Error> {
        Ok(PrivateDirectory { root: root.to_owned(), inner: MmapDirectory::open(root).map_err(search_err)? })
    }

    fn private(&self, path: &Path) -> std::io::Result<()> {
        crate::files::private_file(&self.root.join(path))
    }
}

impl Directory for PrivateDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<std::sync::Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let file = self.inner.open_write(path)?;
        self.private(path).map_err(|e| OpenWriteError::wrap_io_error(e, path.to_owned()))?;
        Ok(file)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> std::io::Result<()> {
        self.inner.atomic_write(path, data)?;
        self.private(path)
    }

    fn sync_directory(&self) -> std::io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        let held = self.inner.acquire_lock(lock)?;
        self.private(&lock.filepath).map_err(LockError::wrap_io_error)?;
        Ok(held)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
