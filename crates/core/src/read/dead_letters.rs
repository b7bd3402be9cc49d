//! Dead letters: events a projection could not apply, parked with their position and the
//! error so the projector carries on. Owns `dead_letters`.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{decode_row, encode_row};

/// (position, projection) → letter
const LETTERS: TableDefinition<'_, (u64, &str), &[u8]> = TableDefinition::new("dead_letters");

/// An event one projection could not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct DeadLetter {
    pub position: u64,
    /// The projection that failed (`orders`, `daily`, `search`, …; `decode` when the event
    /// itself could not be read).
    pub projection: String,
    pub event_type: Option<String>,
    pub error: String,
    /// When the event was recorded, if it could be read.
    pub recorded_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    event_type: Option<String>,
    error: String,
    recorded_at: Option<DateTime<Utc>>,
}

pub(crate) struct Tables<'txn> {
    letters: Table<'txn, (u64, &'static str), &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Tables<'txn>, crate::Error> {
        Ok(Tables { letters: txn.open_table(LETTERS)? })
    }

    pub(crate) fn park(&mut self, letter: &DeadLetter) -> Result<(), crate::Error> {
        let stored = Stored {
            event_type: letter.event_type.clone(),
            error: letter.error.clone(),
            recorded_at: letter.recorded_at,
        };
        self.letters.insert((letter.position, letter.projection.as_str()), encode_row(&stored)?.as_slice())?;
        Ok(())
    }

    pub(crate) fn remove(&mut self, position: u64, projection: &str) -> Result<(), crate::Error> {
        self.letters.remove((position, projection))?;
        Ok(())
    }
}

pub(crate) fn list(txn: &redb::ReadTransaction) -> Result<Vec<DeadLetter>, crate::Error> {
    let table = txn.open_table(LETTERS)?;
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        let (position, projection) = key.value();
        let stored: Stored = decode_row(value.value())?;
        out.push(DeadLetter {
            position,
            projection: projection.to_owned(),
            event_type: stored.event_type,
            error: stored.error,
            recorded_at: stored.recorded_at,
        });
    }
    Ok(out)
}

pub(crate) fn count(txn: &redb::ReadTransaction) -> Result<u64, crate::Error> {
    Ok(txn.open_table(LETTERS)?.len()?)
}
