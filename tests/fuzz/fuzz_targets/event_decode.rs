//! Any bytes as a stored event (32-byte hash ‖ envelope JSON), and any JSON as any event
//! type's payload at any schema version: decoding and upcasting answer with a typed error or
//! an event — never a panic — and a decoded event survives a round trip unchanged.
#![no_main]

use countertop_core::{EVENT_TYPES, Event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = countertop_core::fuzzing::decode_stored_event(data);

    let Some((&[kind, version], payload)) = data.split_first_chunk::<2>() else { return };
    let Some(&(event_type, _)) = EVENT_TYPES.get(usize::from(kind) % EVENT_TYPES.len()) else { return };
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(payload) else { return };
    if let Ok(event) = Event::from_payload(event_type, u16::from(version % 4), payload) {
        let again = Event::from_payload(event.type_name(), event.schema_version(), event.to_payload());
        assert_eq!(again.ok().as_ref(), Some(&event), "a decoded event must round-trip");
    }
});
