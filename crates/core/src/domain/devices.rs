//! Which devices belong to the shop: a till is admitted with its public key by a till already
//! in the shop (`device.admitted`), and a lost one retired from any other (`device.retired`).
//!
//! These events are the shop's roster. They change nothing a sale, a report or a decision
//! reads: what they mean — which signatures a till believes — is the sync layer's
//! (`store/trust.rs`), which keeps the roster beside the log. They are events all the same, so
//! that who let whom in, and when, is in the audit trail and travels to every till signed by
//! the till that did it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A device let into the shop, with the key its events must be signed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAdmitted {
    /// The device's id (its events' subject on the hub).
    pub device: String,
    /// Its till code (`B`).
    pub till: String,
    /// Its ed25519 public key, hex.
    pub key: String,
    /// The device that admitted it (itself, for the shop's first key).
    pub by: String,
    /// For a till that synced before tills signed their events: how far its unsigned events go
    /// (sequence and hash, hex). Those are taken unsigned, as the hub holds them, when they
    /// end in exactly this hash; everything after must be signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<LegacyTip>,
    pub at: DateTime<Utc>,
}

/// The end of a device's unsigned history (see [`DeviceAdmitted::legacy`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTip {
    pub seq: u64,
    pub hash: String,
}

/// A device no longer trusted (lost, stolen, replaced): its events after this one on the hub
/// are refused on every till.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRetired {
    pub device: String,
    pub till: String,
    /// The device that retired it.
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}
