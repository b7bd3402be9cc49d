//! What a till does with each message from the hub, in the hub's order: take it, hold it, or
//! quarantine it — never stop at it (see `trust.rs` for the model).
//!
//! For each message, in this order:
//! 1. **Whose is it?** Its subject names a device. This device's own events come back too:
//!    they are only checked to be really its own (and a retirement it made takes effect where
//!    it came back). A device the roster does not have is held until one admits it.
//! 2. **Is it really theirs?** Signed by the device's key over shop, device, sequence and both
//!    hashes, and the record hashing to the hash. A till's unsigned events from before tills
//!    signed are taken only as far as its admission names (`legacy`). A retired device's
//!    messages after its retirement are refused.
//! 3. **Is it next?** Its sequence follows the device's chain here (earlier: a redelivery;
//!    later: held for the gap), and its previous hash is the chain's tip (else the device's
//!    history forked).
//! 4. **Can this version read it?** A newer schema is held until an update.
//! 5. **Does it keep the rules?** The same bounds as a command here ([`crate::domain`]'s
//!    `admissible`), plus what only the roster knows: only the founding till opens the shop, a
//!    till numbers with its own code, admissions are made by members. A genuine event that
//!    breaks them is refused on every till alike, and its device's chain goes on through it.
//! 6. Taken: appended, folded into the current state, its signature kept for `verify`.
//!
//! Every outcome is a function of the message, the roster and the device's chain, never of
//! what else happened to arrive first, so every till decides every message the same way.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Error;
use super::log::{self, Unreadable};
use super::replica::{Arrival, HubMessage, Identity, Incoming};
use super::trust::{Member, Problem, PublicKey, Quarantined, Retirement, Root, TrustTables};
use super::writer::Tables;
use crate::domain::Event;

/// One receive job's view of the roster and this device, over the transaction's tables.
pub(super) struct Inbox<'a, 'txn> {
    tables: &'a mut Tables<'txn>,
    trust: &'a mut TrustTables<'txn>,
    me: Identity,
    root: Root,
    own_key: Option<PublicKey>,
    members: HashMap<String, Member>,
    now: DateTime<Utc>,
    /// Event types to take for a newer version's (tests of mixed versions).
    unknown: &'a [String],
    /// The key the message being taken was found signed with before the job (off the writer).
    verified: Option<PublicKey>,
}

impl<'a, 'txn> Inbox<'a, 'txn> {
    pub(super) fn open(
        tables: &'a mut Tables<'txn>,
        trust: &'a mut TrustTables<'txn>,
        now: DateTime<Utc>,
        unknown: &'a [String],
    ) -> Result<Inbox<'a, 'txn>, Error> {
        let me = tables.log.sync().0.identity()?.ok_or_else(|| {
            Error::Sync("this data folder has not joined a shop: join one before taking other tills' changes".into())
        })?;
        let root = trust.root()?.ok_or_else(|| {
            Error::Sync(format!(
                "till {} does not know the shop's keys yet, so it cannot tell other tills' changes from forgeries. Pair it with a till of the shop: `countertop devices add` there, then `countertop join … --code CODE` here (or, on the till you keep, `countertop devices add --first`)",
                me.till
            ))
        })?;
        let own_key = trust.own_key()?;
        let mut members: HashMap<String, Member> =
            trust.members()?.into_iter().map(|m| (m.device.clone(), m)).collect();
        members.entry(root.device.clone()).or_insert_with(|| root.member());
        Ok(Inbox { tables, trust, me, root, own_key, members, now, unknown, verified: None })
    }

    /// Takes, holds or quarantines each message in order, then records that everything up to
    /// the hub sequence `through` has been looked at. With `retry_all`, first retries every
    /// held message (a new version may read what an older one held).
    pub(super) fn receive(
        &mut self,
        messages: &[HubMessage],
        verified: &[Option<PublicKey>],
        through: u64,
        retry_all: bool,
    ) -> Result<Vec<Arrival>, Error> {
        if retry_all {
            for device in self.trust.held_devices()? {
                self.retry(&device)?;
            }
        }
        let mut arrivals = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            let arrival = match message {
                HubMessage::Unreadable { hub_seq, subject, why } => {
                    let device = subject.rsplit('.').next().map(str::to_owned);
                    let till = device.as_ref().and_then(|d| self.members.get(d)).map(|m| m.till.clone());
                    let entry = Quarantined {
                        id: 0,
                        hub_seq: *hub_seq,
                        device,
                        till,
                        seq: None,
                        problem: Problem::NotOurs,
                        detail: why.clone(),
                        at: self.now,
                    };
                    self.trust.quarantine(&mut self.tables.log.puts, entry)?;
                    Arrival::Quarantined(Problem::NotOurs, why.clone())
                }
                HubMessage::Event(incoming) => {
                    self.verified = verified.get(i).copied().flatten();
                    let arrival = self.take(incoming, 0)?;
                    self.verified = None;
                    if matches!(arrival, Arrival::Appended { .. } | Arrival::Refused(..)) {
                        self.retry(&incoming.origin)?;
                    }
                    arrival
                }
            };
            arrivals.push(arrival);
        }
        let (sync, puts) = self.tables.log.sync();
        if through > sync.hub_seq()? {
            sync.set_hub_seq(puts, through)?;
        }
        Ok(arrivals)
    }

    /// Takes what `device` has held that can now be taken (its chain moved, or it was
    /// admitted), for as long as one more can.
    fn retry(&mut self, device: &str) -> Result<(), Error> {
        loop {
            let (tip, _) = self.tables.log.origin_tip(device)?;
            self.trust.drop_held_through(&mut self.tables.log.puts, device, tip)?;
            let Some(next) = tip.checked_add(1) else { return Ok(()) };
            let mut moved = false;
            for (key, entry, incoming) in self.trust.held_at(device, next)? {
                self.trust.unhold(&mut self.tables.log.puts, &key)?;
                if matches!(self.take(&incoming, entry.id)?, Arrival::Appended { .. } | Arrival::Refused(..)) {
                    moved = true;
                    break;
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    fn entry(&self, incoming: &Incoming, problem: Problem, detail: &str) -> Quarantined {
        Quarantined {
            id: 0,
            hub_seq: incoming.hub_seq,
            device: Some(incoming.origin.clone()),
            till: self.members.get(&incoming.origin).map(|m| m.till.clone()),
            seq: Some(incoming.seq),
            problem,
            detail: detail.to_owned(),
            at: self.now,
        }
    }

    fn quarantine(&mut self, incoming: &Incoming, problem: Problem, detail: String) -> Result<Arrival, Error> {
        let entry = self.entry(incoming, problem, &detail);
        self.trust.quarantine(&mut self.tables.log.puts, entry)?;
        Ok(Arrival::Quarantined(problem, detail))
    }

    fn hold(&mut self, incoming: &Incoming, id: u64, problem: Problem, detail: String) -> Result<Arrival, Error> {
        let mut entry = self.entry(incoming, problem, &detail);
        entry.id = id;
        self.trust.hold(&mut self.tables.log.puts, entry, incoming)?;
        Ok(Arrival::Held(problem, detail))
    }

    /// One event message (`held`: its id when it comes out of the held table).
    fn take(&mut self, incoming: &Incoming, held: u64) -> Result<Arrival, Error> {
        if incoming.origin == self.me.device {
            return self.own_echo(incoming);
        }
        let Some(member) = self.members.get(&incoming.origin).cloned() else {
            // Held, signed or not: a till that synced before tills signed has its unsigned
            // events on the hub before its admission names how far they go.
            return self.hold(
                incoming,
                held,
                Problem::Unadmitted,
                format!("from device '{}', which no till of this shop has admitted", incoming.origin),
            );
        };
        let till = member.till.clone();
        if member.retired_before(incoming.hub_seq) {
            return self.quarantine(
                incoming,
                Problem::Retired,
                format!("event {} of till {till} came after till {till} was retired", incoming.seq),
            );
        }
        // Really theirs?
        let signed = match (incoming.signature, incoming.prev) {
            (Some(signature), Some(prev)) => {
                let signed_by = |key: PublicKey| {
                    self.verified == Some(key)
                        || key.verifies(
                            &super::trust::event_message(
                                &self.me.shop,
                                &incoming.origin,
                                incoming.seq,
                                &prev,
                                &incoming.hash,
                            ),
                            &signature,
                        )
                };
                if !member.public_key().is_some_and(signed_by) {
                    return self.quarantine(
                        incoming,
                        Problem::Forged,
                        format!(
                            "claims to be event {} of till {till}, but is not signed by till {till}'s key",
                            incoming.seq
                        ),
                    );
                }
                if log::chain(&prev, &incoming.record) != incoming.hash {
                    return self.quarantine(
                        incoming,
                        Problem::Forged,
                        format!(
                            "event {} of till {till} was altered: its record does not match its signed hash",
                            incoming.seq
                        ),
                    );
                }
                Some(prev)
            }
            (None, _) if member.legacy.as_ref().is_some_and(|l| incoming.seq <= l.seq) => None,
            (None, _) => {
                return self.quarantine(
                    incoming,
                    Problem::Forged,
                    format!("claims to be event {} of till {till}, but is not signed", incoming.seq),
                );
            }
            (Some(_), None) => {
                return self.quarantine(
                    incoming,
                    Problem::NotOurs,
                    format!(
                        "claims to be event {} of till {till}, signed but without the hash before it",
                        incoming.seq
                    ),
                );
            }
        };
        // Next in its chain?
        let (tip, tip_hash) = self.tables.log.origin_tip(&incoming.origin)?;
        if incoming.seq <= tip {
            return Ok(Arrival::Duplicate);
        }
        if incoming.seq > tip.saturating_add(1) {
            return self.hold(
                incoming,
                held,
                Problem::Gap,
                format!("event {} of till {till} waits for its event {}", incoming.seq, tip + 1),
            );
        }
        match signed {
            Some(prev) if prev != tip_hash => {
                return self.quarantine(
                    incoming,
                    Problem::Forked,
                    format!(
                        "event {} of till {till} is signed by it but does not follow its event {tip} as this till has it",
                        incoming.seq
                    ),
                );
            }
            Some(_) => {}
            None => {
                let legacy_end = member.legacy.as_ref().filter(|l| l.seq == incoming.seq);
                let hash_hex = blake3::Hash::from_bytes(incoming.hash).to_hex().to_string();
                if log::chain(&tip_hash, &incoming.record) != incoming.hash
                    || legacy_end.is_some_and(|l| l.hash != hash_hex)
                {
                    return self.quarantine(
                        incoming,
                        Problem::Forged,
                        format!(
                            "unsigned event {} of till {till} does not continue its history as its admission names it",
                            incoming.seq
                        ),
                    );
                }
            }
        }
        // Readable by this version?
        let decoded = log::decode_record(0, &incoming.record).and_then(|envelope| {
            if self.unknown.contains(&envelope.event_type) {
                return Err(Unreadable::Newer(format!("unknown event type '{}'", envelope.event_type)));
            }
            Ok(envelope)
        });
        let mut envelope = match decoded {
            Ok(envelope) => envelope,
            Err(Unreadable::Newer(why)) => {
                return self.hold(
                    incoming,
                    held,
                    Problem::NewerVersion,
                    format!(
                        "event {} of till {till} is from a newer Countertop ({why}): update this till",
                        incoming.seq
                    ),
                );
            }
            Err(Unreadable::Malformed(why)) => {
                return self.refuse(incoming, &member, Problem::Refused, format!("it is not readable: {why}"));
            }
        };
        envelope.hash = blake3::Hash::from_bytes(incoming.hash).to_hex().to_string();
        // Within the rules? (Its time, too: a till may not date its changes far past when the
        // hub took them, which would let its stamps outrank every later edit.)
        if let Some(published) = incoming.published
            && published
                .checked_add_signed(crate::domain::MAX_STAMP_AHEAD)
                .is_some_and(|latest| envelope.recorded_at > latest)
        {
            let why = format!(
                "it says it was recorded at {}, more than {} days after the hub took it: the till's clock is wrong",
                envelope.recorded_at,
                crate::domain::MAX_STAMP_AHEAD.num_days()
            );
            return self.refuse(incoming, &member, Problem::Refused, why);
        }
        if let Err(why) = self.rules(&member, &envelope.event, envelope.recorded_at) {
            return self.refuse(incoming, &member, Problem::Refused, why);
        }
        if let Some(why) = self.placed_before(&envelope.event)? {
            return self.refuse(incoming, &member, Problem::PlacedTwice, why);
        }
        let position = self.tables.log.append_foreign(incoming, &mut envelope, self.now)?;
        self.tables.state.fold(&envelope.event, envelope.recorded_at)?;
        if let Some(signature) = &incoming.signature {
            self.trust.set_signature(&mut self.tables.log.puts, position, signature)?;
        }
        self.roster_effects(&envelope.event, incoming.hub_seq)?;
        Ok(Arrival::Appended { position })
    }

    /// An order placement for an order this till has already: why it is kept out. The same
    /// sale (the same file imported on two tills while apart) is then counted once, whichever
    /// arrived first. Two different sales under one number stay as each till had them first,
    /// listed on both for the owner (no rule can tell which is right, and the later events of
    /// each till name the number, not the sale).
    fn placed_before(&self, event: &Event) -> Result<Option<String>, Error> {
        let Event::OrderPlaced(placed) = event else { return Ok(None) };
        let stream = crate::domain::StreamId::Order(placed.order.clone());
        let first = self.tables.log.stream(&stream, u64::MAX)?.into_iter().find_map(|e| match e.event {
            Event::OrderPlaced(first) => Some(first),
            _ => None,
        });
        Ok(first.map(|first| {
            if first == *placed {
                format!("order {} is already recorded here, the same sale: it counts once", placed.order)
            } else {
                format!(
                    "order {} is already recorded here as a different sale (placed {} for {}); this one (placed {} for {}) is kept out of the books here. Check both tills and record the missing sale under a new number",
                    placed.order, first.at, first.totals.total, placed.at, placed.totals.total
                )
            }
        }))
    }

    /// Keeps a genuine event out of the books (on every till alike): its chain goes on.
    fn refuse(
        &mut self,
        incoming: &Incoming,
        member: &Member,
        problem: Problem,
        why: String,
    ) -> Result<Arrival, Error> {
        let detail = format!("event {} of till {} was kept out of the books: {why}", incoming.seq, member.till);
        let recorded_at = log::decode_record(0, &incoming.record).map_or(self.now, |e| e.recorded_at);
        self.trust.set_refused(
            &mut self.tables.log.puts,
            &incoming.origin,
            incoming.seq,
            &incoming.hash,
            &incoming.record,
        )?;
        self.tables.log.set_origin_tip(incoming, recorded_at, self.now)?;
        let entry = self.entry(incoming, problem, &detail);
        self.trust.quarantine(&mut self.tables.log.puts, entry)?;
        Ok(Arrival::Refused(problem, detail))
    }

    /// The rules every till checks the same way on what another till sent.
    fn rules(&self, member: &Member, event: &Event, recorded_at: DateTime<Utc>) -> Result<(), String> {
        crate::domain::admissible(event, recorded_at).map_err(|e| e.to_string())?;
        // A till numbers with its own code (`B-1042`); the founding till also numbered plainly
        // (`1001`) before its shop joined a hub, and only it had a time before joining.
        let own_number = |id: &str| {
            id.strip_prefix(member.till.as_str()).is_some_and(|rest| rest.starts_with('-'))
                || (member.device == self.root.device && !id.contains('-'))
        };
        match event {
            Event::ShopOpened(_) if member.device != self.root.device => {
                Err(format!("only the shop's founding till opens the shop, and till {} is not it", member.till))
            }
            Event::OrderPlaced(e) if e.numbered && !own_number(&e.order) => Err(format!(
                "till {} gave an order the number {}, which is not one of its own ({}-…)",
                member.till, e.order, member.till
            )),
            Event::CustomerRegistered(e) if e.numbered && !own_number(&e.customer.id) => Err(format!(
                "till {} gave a customer the number {}, which is not one of its own ({}-…)",
                member.till, e.customer.id, member.till
            )),
            Event::DeviceAdmitted(e) => {
                if e.by != member.device {
                    return Err(format!(
                        "it says till {} was admitted by another device than the one that signed it",
                        e.till
                    ));
                }
                let Some(key) = PublicKey::from_hex(&e.key) else {
                    return Err(format!("the key it admits for till {} is not a key", e.till));
                };
                if e.device == e.by && (e.device != self.root.device || e.key != self.root.key) {
                    return Err(format!("till {} admitted itself, and only the shop's founding till does", e.till));
                }
                if e.device == self.me.device && self.own_key.is_some_and(|own| own != key) {
                    return Err("it admits this till's device id with a key that is not this till's".into());
                }
                match self.members.get(&e.device) {
                    Some(existing) if existing.key != e.key => {
                        Err(format!("till {} is already admitted with another key", existing.till))
                    }
                    _ => Ok(()),
                }
            }
            Event::DeviceRetired(e) => {
                if e.by != member.device {
                    return Err(format!(
                        "it says till {} was retired by another device than the one that signed it",
                        e.till
                    ));
                }
                if self.members.contains_key(&e.device) {
                    Ok(())
                } else {
                    Err(format!("it retires till {}, which is not admitted", e.till))
                }
            }
            _ => Ok(()),
        }
    }

    /// What a taken roster event changes (`hub_seq`: where it is on the hub).
    fn roster_effects(&mut self, event: &Event, hub_seq: u64) -> Result<(), Error> {
        match event {
            Event::DeviceAdmitted(e) => {
                let member = admitted(e);
                self.trust.set_member(&mut self.tables.log.puts, &member)?;
                self.members.insert(member.device.clone(), member);
                self.retry(&e.device)?;
            }
            Event::DeviceRetired(e) => {
                if let Some(mut member) = self.members.get(&e.device).cloned()
                    && member.retired.as_ref().is_none_or(|r| r.hub_seq.is_none())
                {
                    member.retired = Some(Retirement {
                        by: e.by.clone(),
                        reason: e.reason.clone(),
                        at: e.at,
                        hub_seq: Some(hub_seq),
                        own_seq: None,
                    });
                    self.trust.set_member(&mut self.tables.log.puts, &member)?;
                    self.members.insert(member.device.clone(), member);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// This device's own event, back from the hub.
    fn own_echo(&mut self, incoming: &Incoming) -> Result<Arrival, Error> {
        let ours = match (incoming.signature, incoming.prev, self.own_key) {
            (Some(signature), Some(prev), Some(key)) => {
                self.verified == Some(key)
                    || key.verifies(
                        &super::trust::event_message(
                            &self.me.shop,
                            &self.me.device,
                            incoming.seq,
                            &prev,
                            &incoming.hash,
                        ),
                        &signature,
                    )
            }
            // Sent before this till signed (or before it knew its key).
            (None, _, _) => {
                let legacy = self.members.get(&self.me.device).and_then(|m| m.legacy.as_ref());
                self.own_key.is_none() || legacy.is_some_and(|l| incoming.seq <= l.seq)
            }
            _ => false,
        };
        if !ours {
            return self.quarantine(
                incoming,
                Problem::Forged,
                format!("claims to be this till's event {}, but this till did not sign it", incoming.seq),
            );
        }
        // A retirement this till made takes effect where the hub has it.
        let pending: Vec<Member> = self
            .members
            .values()
            .filter(|m| m.retired.as_ref().is_some_and(|r| r.hub_seq.is_none() && r.own_seq == Some(incoming.seq)))
            .cloned()
            .collect();
        for mut member in pending {
            if let Some(retired) = &mut member.retired {
                retired.hub_seq = Some(incoming.hub_seq);
                retired.own_seq = None;
            }
            self.trust.set_member(&mut self.tables.log.puts, &member)?;
            self.members.insert(member.device.clone(), member);
        }
        Ok(Arrival::Duplicate)
    }
}

/// The roster entry a `device.admitted` makes.
pub(super) fn admitted(e: &crate::domain::DeviceAdmitted) -> Member {
    Member {
        device: e.device.clone(),
        till: e.till.clone(),
        key: e.key.clone(),
        fingerprint: PublicKey::from_hex(&e.key).map(|k| k.fingerprint()).unwrap_or_default(),
        by: e.by.clone(),
        admitted_at: e.at,
        legacy: e.legacy.clone(),
        retired: None,
    }
}
