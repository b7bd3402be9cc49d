//! The deterministic synthetic shop: seeded, so both systems get exactly the same orders.
//!
//! 2,000 products with skewed popularity (a few sell most), one customer per 20 orders, three
//! years of sales with weekly and yearly seasonality, 1–5 lines per order, about 2 % of orders
//! partly refunded and 1 % cancelled. Orders are generated one at a time, so memory does not
//! grow with the workload size.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

pub const PRODUCTS: usize = 2_000;

/// A small, fast, seeded random source (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A product: SKU, name, price in cents.
pub fn product(i: usize) -> (String, String, i64) {
    const WORDS: [&str; 16] = [
        "enamel", "linen", "oak", "ceramic", "copper", "wool", "glass", "paper", "cotton", "brass", "walnut", "slate",
        "bamboo", "velvet", "cork", "marble",
    ];
    const THINGS: [&str; 12] =
        ["mug", "towel", "tray", "vase", "candle", "cushion", "notebook", "lamp", "bowl", "frame", "basket", "clock"];
    let name = format!("{} {} {}", WORDS[i % 16], WORDS[(i / 16) % 16], THINGS[i % 12]);
    let price = 150 + ((i * 7919) % 9_850) as i64; // 1.50 to 100.00
    (format!("SKU{i:05}"), name, price)
}

/// One generated order.
#[derive(Clone, Debug)]
pub struct GenOrder {
    pub number: u64,
    /// 1-based customer number; `None` for a walk-in.
    pub customer: Option<u64>,
    /// (product index, quantity)
    pub lines: Vec<(usize, i64)>,
    pub at: DateTime<Utc>,
    /// A partial refund (cents) a few days later.
    pub refund: Option<(i64, DateTime<Utc>)>,
    pub cancelled: bool,
}

/// Orders `1..=n`, deterministic for a seed.
pub struct Orders {
    rng: Rng,
    next: u64,
    n: u64,
    customers: u64,
    start: DateTime<Utc>,
    span_minutes: i64,
}

pub fn orders(n: u64, seed: u64) -> Orders {
    let start = DateTime::from_timestamp(1_640_995_200, 0).unwrap_or(DateTime::UNIX_EPOCH); // 2022-01-01
    Orders { rng: Rng::new(seed), next: 0, n, customers: customers(n), start, span_minutes: 3 * 365 * 24 * 60 }
}

pub fn customers(orders: u64) -> u64 {
    (orders / 20).max(50)
}

impl Iterator for Orders {
    type Item = GenOrder;

    fn next(&mut self) -> Option<GenOrder> {
        if self.next >= self.n {
            return None;
        }
        self.next += 1;
        let r = &mut self.rng;
        // Time: spread over three years, in order, with busier weekends and a busy December.
        let base = self.span_minutes * (self.next as i64) / (self.n as i64 + 1);
        let jitter = r.below(60) as i64;
        let at = self.start + TimeDelta::minutes(base + jitter);
        let lines = (0..1 + r.below(5))
            .map(|_| {
                // Skewed popularity: a cube of a uniform draw favours low indexes.
                let u = r.unit();
                let product = ((u * u * u) * PRODUCTS as f64) as usize % PRODUCTS;
                (product, 1 + r.below(4) as i64)
            })
            .collect::<Vec<_>>();
        let customer = (r.below(10) >= 2).then(|| 1 + r.below(self.customers));
        let roll = r.below(100);
        let cancelled = roll == 0;
        let total: i64 = lines.iter().map(|&(p, q)| product(p).2 * q).sum();
        let refund = (roll == 1 || roll == 2)
            .then(|| ((100 + r.below(500) as i64).min(total / 2).max(1), at + TimeDelta::days(3)));
        Some(GenOrder { number: 100_000 + self.next, customer, lines, at, refund, cancelled })
    }
}

/// Which data both systems load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// The seeded generator above, with this many orders.
    Synthetic { orders: u64, seed: u64 },
    /// The UCI Online Retail export, through Countertop's importer and an equivalent SQLite loader.
    OnlineRetail(PathBuf),
}

/// What the query phases ask about: the last business day, customers, order numbers, searches.
#[derive(Clone, Debug)]
pub struct Probe {
    pub last_day: NaiveDate,
    pub customers: Vec<String>,
    pub orders: Vec<String>,
    pub searches: Vec<&'static str>,
}

impl Probe {
    pub fn synthetic(n: u64, seed: u64) -> Probe {
        let last = orders(n, seed).last().map_or(DateTime::UNIX_EPOCH, |o| o.at);
        let four = chrono::NaiveTime::from_hms_opt(4, 0, 0).unwrap_or(chrono::NaiveTime::MIN);
        let customers = customers(n);
        Probe {
            last_day: countertop_core::business_day(last, chrono_tz::Europe::London, four),
            customers: (0..200u64).map(|i| (1 + (i * 7919) % customers).to_string()).collect(),
            orders: (0..200u64).map(|i| (100_001 + (i * 7919) % n).to_string()).collect(),
            searches: vec!["customer 17", "enamel mug", "oak lamp", "100042", "ceramc"],
        }
    }

    /// Reads customer ids and invoice numbers to ask about from the export itself.
    pub fn online_retail(path: &Path) -> Result<Probe, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut reader = csv::Reader::from_reader(flate2::read::MultiGzDecoder::new(file));
        let (mut customers, mut orders) = (Vec::new(), Vec::new());
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| e.to_string())?;
            if i % 2_500 != 0 {
                continue;
            }
            if !record[6].is_empty() && !customers.contains(&record[6].to_owned()) {
                customers.push(record[6].to_owned());
            }
            if !record[0].starts_with(['C', 'A']) {
                orders.push(record[0].to_owned());
            }
        }
        Ok(Probe {
            last_day: NaiveDate::from_ymd_opt(2011, 12, 9).unwrap_or(NaiveDate::MIN),
            customers,
            orders,
            searches: vec!["hanging heart", "regency cakestand", "536365", "lunch bag red", "chrismas"],
        })
    }
}
