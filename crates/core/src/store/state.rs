//! The write side's current-state tables: each product, customer and order as its events
//! left it, the shop settings and the next free numbers. Decisions load just the rows a
//! command names from here instead of replaying streams.
//!
//! These tables are a cache of the log, updated in the same transaction as the events. When
//! [`STATE_VERSION`] changes they are rebuilt from the log at open.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;
use super::journal::{Puts, Target};
use crate::domain::{
    Customer, Event, Order, Product, References, Rejection, Return, Shop, State, StreamId, customer_keys, numbered_id,
    suffixed,
};

pub(super) const PRODUCTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state_products");
pub(super) const CUSTOMERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state_customers");
pub(super) const ORDERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state_orders");
pub(super) const RETURNS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state_returns");
pub(super) const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state_meta");
/// Customers by [`customer_keys`] (folded email, folded name): `key \0 id` → nothing. Entries
/// are only added; a customer whose details changed keeps their old entries, and lookups check
/// the customer still has the key.
pub(super) const CUSTOMER_KEYS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state_customer_keys");

/// The shape of the rows in these tables. Bump it when a stored state struct changes shape or
/// a fold changes what it keeps; the tables are then rebuilt from the log. (4: an order's
/// refunds and payments at one instant, and two cancellations at one, are ordered by their
/// derived `Ord`, no longer by their JSON.)
pub(super) const STATE_VERSION: u64 = 4;

const KEY_SHOP: &str = "shop";
const KEY_NEXT_ORDER: &str = "next_order_number";
const KEY_NEXT_CUSTOMER: &str = "next_customer_number";
const KEY_VERSION: &str = "state_version";
/// The hybrid logical clock: the latest edit stamp seen (`domain/clock.rs`).
const KEY_CLOCK: &str = "clock";

/// Where a product's or customer's field stamps are kept: `stamps/product/SKU`.
fn stamps_key(stream: &StreamId) -> String {
    format!("stamps/{}", stream.to_key())
}

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(PRODUCTS)?;
    txn.open_table(CUSTOMERS)?;
    txn.open_table(ORDERS)?;
    txn.open_table(RETURNS)?;
    txn.open_table(META)?;
    txn.open_table(CUSTOMER_KEYS)?;
    Ok(())
}

/// Copies the state tables from a snapshot (backups).
pub(super) fn copy(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<(), Error> {
    for table in [PRODUCTS, CUSTOMERS, ORDERS, RETURNS, META, CUSTOMER_KEYS] {
        super::copy_table(from, to, table)?;
    }
    Ok(())
}

/// The state tables, opened in a write transaction ([`StateTables`]) or a read one
/// ([`StateReader`]).
struct Tables<T> {
    meta: T,
    products: T,
    customers: T,
    orders: T,
    returns: T,
    customer_keys: T,
}

impl<T> Tables<T> {
    fn open(
        mut open: impl FnMut(TableDefinition<'static, &'static str, &'static [u8]>) -> Result<T, Error>,
    ) -> Result<Tables<T>, Error> {
        Ok(Tables {
            meta: open(META)?,
            products: open(PRODUCTS)?,
            customers: open(CUSTOMERS)?,
            orders: open(ORDERS)?,
            returns: open(RETURNS)?,
            customer_keys: open(CUSTOMER_KEYS)?,
        })
    }
}

impl<T: ReadableTable<&'static str, &'static [u8]>> Tables<T> {
    /// A catalog SKU that differs from `sku` only in letter case: SKUs match exactly, and a
    /// refusal says "did you mean 'MUG'?" (only on that path: it reads every SKU).
    fn sku_like(&self, sku: &str) -> Result<Option<String>, Error> {
        for entry in self.products.iter()? {
            let (key, _) = entry?;
            if key.value().eq_ignore_ascii_case(sku) {
                return Ok(Some(key.value().to_owned()));
            }
        }
        Ok(None)
    }

    /// `rejection`, with a "did you mean" for an unknown SKU the catalog has in other case.
    fn explained(&self, rejection: Rejection) -> Error {
        Error::Rejected(rejection.with_sku_hint(&|sku| self.sku_like(sku).ok().flatten()))
    }
}

pub(super) struct StateTables<'txn> {
    t: Tables<Table<'txn, &'static str, &'static [u8]>>,
    /// This device's till code ([`State::till`]), when it has joined a shop.
    till: Option<String>,
    /// This transaction's writes, for the journal.
    pub(super) puts: Puts,
}

impl<'txn> StateTables<'txn> {
    /// `till`: this device's till code ([`State::till`]), when it has joined a shop.
    pub(super) fn open(txn: &'txn WriteTransaction, till: Option<String>) -> Result<StateTables<'txn>, Error> {
        Ok(StateTables { t: Tables::open(|table| Ok(txn.open_table(table)?))?, till, puts: Puts::default() })
    }

    /// The slice of the world a command refers to.
    pub(super) fn load(&self, refs: &References, now: DateTime<Utc>) -> Result<State, Error> {
        load(&self.t, refs, self.till.as_deref(), now)
    }

    /// Refolds as the device was when it recorded the event: this device's own events from
    /// before it joined a shop were folded without a till code (plain numbers), as the log has
    /// them; everything since with it.
    pub(super) fn refold_as(&mut self, identity: Option<&super::Identity>, foreign: bool, recorded_at: DateTime<Utc>) {
        self.till = identity.filter(|i| foreign || recorded_at >= i.joined_at).map(|i| i.till.clone());
    }

    /// A refusal as the caller gets it (see [`Tables::explained`]).
    pub(super) fn explained(&self, rejection: Rejection) -> Error {
        self.t.explained(rejection)
    }

    /// Writes back what `events` changed in `state` (after they were applied to it).
    pub(super) fn save(&mut self, state: &State, events: &[Event]) -> Result<(), Error> {
        let touched: BTreeSet<StreamId> = events.iter().map(Event::stream).collect();
        for stream in touched {
            match stream {
                StreamId::Shop => {
                    if let Some(shop) = &state.shop {
                        put(&mut self.t.meta, &mut self.puts, Target::Meta, KEY_SHOP, shop)?;
                    }
                }
                StreamId::Product(sku) => {
                    if let Some(p) = state.products.get(&sku) {
                        put(&mut self.t.products, &mut self.puts, Target::Products, &sku, p)?;
                    }
                    self.save_stamps(state, &StreamId::Product(sku))?;
                }
                StreamId::Customer(id) => {
                    self.save_stamps(state, &StreamId::Customer(id.clone()))?;
                    if let Some(c) = state.customers.get(&id) {
                        put(&mut self.t.customers, &mut self.puts, Target::Customers, &id, c)?;
                        for key in customer_keys(c) {
                            let entry = format!("{key}\0{id}");
                            if self.t.customer_keys.get(entry.as_str())?.is_none() {
                                self.t.customer_keys.insert(entry.as_str(), [].as_slice())?;
                                self.puts.record(Target::CustomerKeys, entry.as_bytes(), &[]);
                            }
                        }
                    }
                    put(
                        &mut self.t.meta,
                        &mut self.puts,
                        Target::Meta,
                        KEY_NEXT_CUSTOMER,
                        &state.next_customer_number,
                    )?;
                }
                StreamId::Order(id) => {
                    if let Some(o) = state.orders.get(&id) {
                        put(&mut self.t.orders, &mut self.puts, Target::Orders, &id, o)?;
                    }
                    put(&mut self.t.meta, &mut self.puts, Target::Meta, KEY_NEXT_ORDER, &state.next_order_number)?;
                }
                StreamId::Return(id) => {
                    if let Some(r) = state.returns.get(&id) {
                        put(&mut self.t.returns, &mut self.puts, Target::Returns, &id, r)?;
                    }
                }
                // The drawer keeps no write-side state (see `domain/drawer.rs`), nor does the
                // roster (the trust tables keep it, see `store/trust.rs`).
                StreamId::Drawer(_) | StreamId::Device(_) => {}
            }
        }
        Ok(())
    }

    /// A product's or customer's field stamps, and the clock, when the state has them.
    fn save_stamps(&mut self, state: &State, stream: &StreamId) -> Result<(), Error> {
        if let Some(stamps) = state.stamps.get(&stream.to_key()) {
            put(&mut self.t.meta, &mut self.puts, Target::Meta, &stamps_key(stream), stamps)?;
        }
        if let Some(clock) = &state.clock {
            put(&mut self.t.meta, &mut self.puts, Target::Meta, KEY_CLOCK, clock)?;
        }
        Ok(())
    }

    /// Applies one recorded event to the rows it touches: loads them, applies it, writes
    /// them back (refolding the tables from the log, and other devices' events as they arrive).
    pub(super) fn fold(&mut self, event: &Event, recorded_at: DateTime<Utc>) -> Result<(), Error> {
        let mut refs = References::default();
        match event.stream() {
            StreamId::Shop => {}
            StreamId::Product(sku) => refs.products.push(sku),
            StreamId::Customer(id) => refs.customers.push(id),
            StreamId::Order(id) => refs.orders.push(id),
            StreamId::Return(id) => refs.returns.push(id),
            StreamId::Drawer(_) | StreamId::Device(_) => {}
        }
        let mut slice = self.load(&refs, recorded_at)?;
        crate::domain::apply(&mut slice, event);
        self.save(&slice, std::slice::from_ref(event))
    }

    pub(super) fn version(&self) -> Result<Option<u64>, Error> {
        get(&self.t.meta, KEY_VERSION)
    }

    pub(super) fn set_version(&mut self) -> Result<(), Error> {
        put(&mut self.t.meta, &mut self.puts, Target::Meta, KEY_VERSION, &STATE_VERSION)
    }

    /// Empties every state table (before a rebuild from the log).
    pub(super) fn clear(&mut self) -> Result<(), Error> {
        self.t.products.retain(|_, _| false)?;
        self.t.customers.retain(|_, _| false)?;
        self.t.orders.retain(|_, _| false)?;
        self.t.returns.retain(|_, _| false)?;
        self.t.meta.retain(|_, _| false)?;
        self.t.customer_keys.retain(|_, _| false)?;
        Ok(())
    }
}

fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<T>, Error> {
    let Some(value) = table.get(key)? else {
        return Ok(None);
    };
    decode(key, value.value()).map(Some)
}

fn put<T: Serialize>(
    table: &mut Table<'_, &'static str, &'static [u8]>,
    puts: &mut Puts,
    target: Target,
    key: &str,
    value: &T,
) -> Result<(), Error> {
    let json = serde_json::to_vec(value).map_err(|e| Error::Internal(format!("encoding the state of '{key}': {e}")))?;
    let stored = crate::codec::pack(json);
    table.insert(key, stored.as_slice())?;
    puts.record(target, key.as_bytes(), &stored);
    Ok(())
}

/// A state row as stored (JSON, compressed when long; see [`crate::codec`]).
fn decode<T: DeserializeOwned>(key: &str, stored: &[u8]) -> Result<T, Error> {
    let unreadable =
        |e: &dyn std::fmt::Display| Error::corrupt(format!("the current state of '{key}' is not readable: {e}"));
    let json = crate::codec::unpack(stored).map_err(|e| unreadable(&e))?;
    serde_json::from_slice(&json).map_err(|e| unreadable(&e))
}

/// Read access to the current-state tables from a read transaction.
pub(super) struct StateReader {
    t: Tables<redb::ReadOnlyTable<&'static str, &'static [u8]>>,
    till: Option<String>,
}

impl StateReader {
    pub(super) fn open(txn: &redb::ReadTransaction) -> Result<StateReader, Error> {
        let till = super::replica::till_read(txn)?;
        Ok(StateReader { t: Tables::open(|table| Ok(txn.open_table(table)?))?, till })
    }

    /// The slice of the world a command refers to, as of this read transaction.
    pub(super) fn load(&self, refs: &References, now: DateTime<Utc>) -> Result<State, Error> {
        load(&self.t, refs, self.till.as_deref(), now)
    }

    /// A refusal as the caller gets it (see [`Tables::explained`]).
    pub(super) fn explained(&self, rejection: Rejection) -> Error {
        self.t.explained(rejection)
    }

    pub(super) fn shop(&self) -> Result<Option<Shop>, Error> {
        get(&self.t.meta, KEY_SHOP)
    }

    pub(super) fn products(&self) -> Result<Vec<Product>, Error> {
        all(&self.t.products)
    }

    pub(super) fn product(&self, sku: &str) -> Result<Option<Product>, Error> {
        get(&self.t.products, sku)
    }

    pub(super) fn customers(&self) -> Result<Vec<Customer>, Error> {
        all(&self.t.customers)
    }

    pub(super) fn customer(&self, id: &str) -> Result<Option<Customer>, Error> {
        get(&self.t.customers, id)
    }
}

fn all<T: DeserializeOwned>(table: &impl ReadableTable<&'static str, &'static [u8]>) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        out.push(decode(key.value(), value.value())?);
    }
    Ok(out)
}

/// What [`StateTables::load`] and [`StateReader::load`] share: the shop, the next numbers and
/// every row `refs` names — enough for `decide` on this slice to answer as on the whole shop.
fn load<T: ReadableTable<&'static str, &'static [u8]>>(
    t: &Tables<T>,
    refs: &References,
    till: Option<&str>,
    now: DateTime<Utc>,
) -> Result<State, Error> {
    let mut state = State::empty(now);
    state.till = till.map(str::to_owned);
    state.shop = get(&t.meta, KEY_SHOP)?;
    state.clock = get(&t.meta, KEY_CLOCK)?;
    if let Some(n) = get(&t.meta, KEY_NEXT_ORDER)? {
        state.next_order_number = n;
    }
    if let Some(n) = get(&t.meta, KEY_NEXT_CUSTOMER)? {
        state.next_customer_number = n;
    }
    if refs.order_number {
        state.next_order_number = first_free(&t.orders, till, state.next_order_number)?;
    }
    if refs.customer_number {
        state.next_customer_number = first_free(&t.customers, till, state.next_customer_number)?;
    }
    for sku in &refs.products {
        if let Some(p) = get::<Product>(&t.products, sku)? {
            state.products.insert(sku.clone(), p);
            load_stamps(t, &mut state, StreamId::Product(sku.clone()))?;
        }
    }
    for id in &refs.customers {
        if let Some(c) = get::<Customer>(&t.customers, id)? {
            state.customers.insert(id.clone(), c);
            load_stamps(t, &mut state, StreamId::Customer(id.clone()))?;
        }
    }
    for key in &refs.customer_keys {
        let prefix = format!("{key}\0");
        for entry in t.customer_keys.range(prefix.as_str()..)? {
            let (entry, _) = entry?;
            let Some(id) = entry.value().strip_prefix(prefix.as_str()) else { break };
            if let Some(c) = get::<Customer>(&t.customers, id)? {
                state.customers.insert(id.to_owned(), c);
            }
        }
    }
    for id in &refs.orders {
        if let Some(o) = get::<Order>(&t.orders, id)? {
            state.orders.insert(id.clone(), o);
        }
    }
    for base in &refs.order_alternatives {
        load_alternatives(&t.orders, base, &mut state.orders)?;
    }
    for id in &refs.returns {
        if let Some(r) = get::<Return>(&t.returns, id)? {
            state.returns.insert(id.clone(), r);
        }
    }
    for base in &refs.return_alternatives {
        load_alternatives(&t.returns, base, &mut state.returns)?;
    }
    Ok(state)
}

fn load_stamps<T: ReadableTable<&'static str, &'static [u8]>>(
    t: &Tables<T>,
    state: &mut State,
    stream: StreamId,
) -> Result<(), Error> {
    if let Some(stamps) = get(&t.meta, &stamps_key(&stream))? {
        state.stamps.insert(stream.to_key(), stamps);
    }
    Ok(())
}

/// The first number from `n` on whose id ([`numbered_id`]) is not a key of `table`.
fn first_free(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    till: Option<&str>,
    mut n: u64,
) -> Result<u64, Error> {
    while n < u64::MAX && table.get(numbered_id(till, n).as_str())?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// When `base` is taken: the rows `base-2`, `base-3`, … up to the first free number.
fn load_alternatives<R: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    base: &str,
    into: &mut std::collections::BTreeMap<String, R>,
) -> Result<(), Error> {
    if table.get(base)?.is_none() {
        return Ok(());
    }
    for k in 2.. {
        let id = suffixed(base, k);
        match get::<R>(table, &id)? {
            Some(row) => {
                into.insert(id, row);
            }
            None => break,
        }
    }
    Ok(())
}

/// Where the current-state tables of `txn` differ from a fold of its log into empty tables
/// (in memory), if anywhere: the first differing row, named.
pub(super) fn differs_from_fold(
    txn: &redb::ReadTransaction,
    sync: &super::replica::SyncReader,
) -> Result<Option<String>, Error> {
    let identity = sync.identity()?;
    let scratch = redb::Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
    let fold = scratch.begin_write()?;
    create_tables(&fold)?;
    {
        let mut tables = StateTables::open(&fold, None)?;
        let log = super::log::LogReader::open(txn)?;
        let mut from = 1;
        loop {
            let batch = log.read(from, 1024)?;
            let Some(last) = batch.last() else { break };
            from = last.position + 1;
            for envelope in &batch {
                tables.refold_as(identity.as_ref(), sync.is_foreign(envelope.position)?, envelope.recorded_at);
                tables.fold(&envelope.event, envelope.recorded_at)?;
            }
        }
        tables.set_version()?;
    }
    fold.commit()?;
    let folded = redb::ReadableDatabase::begin_read(&scratch)?;
    for (name, table) in [
        ("products", PRODUCTS),
        ("customers", CUSTOMERS),
        ("orders", ORDERS),
        ("returns", RETURNS),
        ("settings and numbering", META),
        ("customer keys", CUSTOMER_KEYS),
    ] {
        let (live, folded) = (txn.open_table(table)?, folded.open_table(table)?);
        let (mut live, mut folded) = (live.iter()?, folded.iter()?);
        loop {
            let (l, f) = (live.next().transpose()?, folded.next().transpose()?);
            let (l, f) = match (&l, &f) {
                (None, None) => break,
                (Some(l), Some(f)) => ((l.0.value(), l.1.value()), (f.0.value(), f.1.value())),
                (Some(l), None) => {
                    return Ok(Some(format!("the current {name} hold '{}', which the log does not make", l.0.value())));
                }
                (None, Some(f)) => {
                    return Ok(Some(format!("the current {name} lack '{}', which the log makes", f.0.value())));
                }
            };
            if l.0 != f.0 {
                let (extra, missing) = if l.0 < f.0 { (l.0, f.0) } else { (f.0, l.0) };
                return Ok(Some(format!(
                    "the current {name} and a fold of the log differ at '{extra}' / '{missing}': the state was changed other than by the log"
                )));
            }
            if l.1 != f.1 {
                return Ok(Some(format!(
                    "the current {name} row '{}' is not what the log makes of it: the state was changed other than by the log",
                    l.0
                )));
            }
        }
    }
    Ok(None)
}
