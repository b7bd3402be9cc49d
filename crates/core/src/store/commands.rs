//! The `commands` table: every command id ever accepted, with a fingerprint of what it asked
//! for and where its result lives, so a repeated command returns its first result and
//! appends nothing.
//!
//! The result itself is not stored: it is the target stream folded up to the version the
//! command left it at, which the log already holds.

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::Error;
use super::journal::{Puts, Target};

pub(super) const COMMANDS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("commands");

/// What is remembered of an accepted command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Accepted {
    /// BLAKE3 of the command as submitted (hex).
    pub fingerprint: String,
    /// The stream the result is read from.
    pub stream: String,
    /// The stream's version right after the command.
    pub version: u64,
    /// First and last log positions it appended; `None` when it changed nothing.
    pub positions: Option<(u64, u64)>,
}

pub(super) fn create_tables(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(COMMANDS)?;
    Ok(())
}

/// Copies the table from a snapshot (backups).
pub(super) fn copy(from: &redb::ReadTransaction, to: &WriteTransaction) -> Result<(), Error> {
    super::copy_table(from, to, COMMANDS).map(drop)
}

pub(super) struct CommandTable<'txn> {
    table: Table<'txn, &'static str, &'static [u8]>,
    /// This transaction's writes, for the journal.
    pub(super) puts: Puts,
}

impl<'txn> CommandTable<'txn> {
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<CommandTable<'txn>, Error> {
        Ok(CommandTable { table: txn.open_table(COMMANDS)?, puts: Puts::default() })
    }

    pub(super) fn get(&self, command_id: &str) -> Result<Option<Accepted>, Error> {
        let Some(value) = self.table.get(command_id)? else {
            return Ok(None);
        };
        serde_json::from_slice(value.value())
            .map(Some)
            .map_err(|e| Error::corrupt(format!("the record of command {command_id} is not readable: {e}")))
    }

    pub(super) fn record(&mut self, command_id: &str, accepted: &Accepted) -> Result<(), Error> {
        let json =
            serde_json::to_vec(accepted).map_err(|e| Error::Internal(format!("encoding a command record: {e}")))?;
        self.table.insert(command_id, json.as_slice())?;
        self.puts.record(Target::Commands, command_id.as_bytes(), &json);
        Ok(())
    }
}

/// Every command whose id starts with `prefix`, in id order, with what was remembered of it.
pub(super) fn with_prefix(
    txn: &redb::ReadTransaction,
    prefix: &str,
    mut f: impl FnMut(&str, &Accepted) -> Result<(), Error>,
) -> Result<(), Error> {
    let table = txn.open_table(COMMANDS)?;
    for entry in table.range(prefix..)? {
        let (id, value) = entry?;
        let id = id.value();
        if !id.starts_with(prefix) {
            break;
        }
        let accepted: Accepted = serde_json::from_slice(value.value())
            .map_err(|e| Error::corrupt(format!("the record of command {id} is not readable: {e}")))?;
        f(id, &accepted)?;
    }
    Ok(())
}
