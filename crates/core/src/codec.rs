//! How large stored values are packed: JSON, compressed with zstd when it is long enough for
//! that to pay.
//!
//! Events, the write side's state rows and the read side's rows are JSON (field names are part
//! of the file format; schema versions and upcasting work on JSON). An order of thirty lines is
//! ~4 KB of it, mostly repeated field names and decimals as text, so it is stored compressed:
//! one tag byte, [`ZSTD`], then a zstd frame that records its content size. JSON never begins
//! with that byte, so values written before compression (plain JSON) read as before and a
//! store holds both kinds side by side; nothing has to be rewritten to open an old folder.
//!
//! Short values stay plain: below [`PACK_FROM`] bytes zstd's frame header costs about what it
//! saves. zstd level 1 compressed the Online Retail export's events, state rows and views
//! 3.5–3.9×, level 3 no better (25.1 and 25.0 MB for the 87.8 MB of events, in a throwaway
//! comparison over that store's rows), and level 1 is the faster; contexts are kept per thread,
//! since creating one costs more than compressing a row.

use std::borrow::Cow;
use std::cell::RefCell;

/// The tag of a zstd-compressed value.
pub(crate) const ZSTD: u8 = 0x01;

/// JSON shorter than this is stored as it is.
pub(crate) const PACK_FROM: usize = 160;

/// The largest value a stored frame may claim to unpack to. No row comes near it (an order is
/// bounded by `MAX_LINES`); a frame claiming more is damaged, not allocated.
const MAX_UNPACKED: u64 = 64 << 20;

const LEVEL: i32 = 1;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The stored form of `json`: the same bytes when short, else [`ZSTD`] and a zstd frame.
pub(crate) fn pack(json: Vec<u8>) -> Vec<u8> {
    if json.len() < PACK_FROM {
        return json;
    }
    let packed = COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(c) => c,
            None => slot.insert(zstd::bulk::Compressor::new(LEVEL).ok()?),
        };
        // The frame goes straight after the tag: one buffer, no copy.
        let mut out = vec![0u8; 1 + zstd::zstd_safe::compress_bound(json.len())];
        out[0] = ZSTD;
        let written = compressor.compress_to_buffer(&json, &mut out[1..]).ok()?;
        out.truncate(1 + written);
        Some(out)
    });
    // Compression cannot fail on a sized buffer; if it ever did, plain JSON is still a valid
    // stored value.
    match packed {
        Some(out) if out.len() < json.len() => out,
        _ => json,
    }
}

/// The JSON of a stored value (borrowed when it was stored plain). The error says what is
/// wrong with the bytes, for the caller to name the row.
pub(crate) fn unpack(stored: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    let Some((&ZSTD, frame)) = stored.split_first() else {
        return Ok(Cow::Borrowed(stored));
    };
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size <= MAX_UNPACKED => size,
        Ok(Some(size)) => return Err(format!("its compressed frame claims {size} bytes")),
        Ok(None) | Err(_) => return Err("its compressed frame has no readable header".to_owned()),
    };
    DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(d) => d,
            None => slot.insert(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?),
        };
        let json = decompressor
            .decompress(frame, size as usize)
            .map_err(|e| format!("its compressed frame does not decompress: {e}"))?;
        if json.len() as u64 != size {
            return Err(format!("its compressed frame held {} bytes, not {size}", json.len()));
        }
        Ok(Cow::Owned(json))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_json_is_packed_short_json_is_kept_and_both_unpack() {
        let long =
            serde_json::to_vec(&vec![serde_json::json!({"name": "WHITE HANGING HEART", "quantity": 6}); 20]).unwrap();
        let packed = pack(long.clone());
        assert_eq!(packed[0], ZSTD);
        assert!(packed.len() * 3 < long.len(), "{} of {}", packed.len(), long.len());
        assert_eq!(unpack(&packed).unwrap(), long.as_slice());

        let short = br#"{"name":"mug"}"#.to_vec();
        assert_eq!(pack(short.clone()), short);
        assert!(matches!(unpack(&short).unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn a_damaged_frame_is_an_error_not_a_panic_or_a_huge_allocation() {
        let long = serde_json::to_vec(&vec!["CREAM CUPID HEARTS COAT HANGER"; 40]).unwrap();
        let packed = pack(long);
        assert!(unpack(&packed[..packed.len() / 2]).is_err());
        assert!(unpack(&[ZSTD]).is_err());
        assert!(unpack(&[ZSTD, 1, 2, 3, 4, 5, 6]).is_err());
        // A frame header claiming 2^40 bytes.
        let mut huge = vec![ZSTD];
        huge.extend_from_slice(&[0x28, 0xB5, 0x2F, 0xFD, 0xC0, 0, 0, 0, 0, 0, 1, 0, 0]);
        let e = unpack(&huge).unwrap_err();
        assert!(e.contains("claims") || e.contains("header"), "{e}");
        for cut in 0..packed.len() {
            let mut bytes = packed.clone();
            bytes[cut] ^= 0x5a;
            let _ = unpack(&bytes);
        }
    }
}
