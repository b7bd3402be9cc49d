//! Checks for the text people type: trimming, length limits, control characters, SKUs,
//! ids, emails and phone numbers.
//!
//! Limits (in characters, after trimming leading and trailing white space):
//!
//! | field                               | limit |
//! |-------------------------------------|-------|
//! | shop, product, customer, item names | 200   |
//! | SKU                                 | 64    |
//! | customer id, order number           | 32    |
//! | email                               | 254   |
//! | phone                               | 32    |
//! | country, carrier, payment method    | 64    |
//! | tracking number                     | 64    |
//! | image path                          | 1024  |
//! | reason (cancel, refund)             | 500   |
//! | order note                          | 2000 (may span lines) |

use super::Rejection;

pub const NAME_MAX: usize = 200;
pub const SKU_MAX: usize = 64;
pub const ID_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;
pub const PHONE_MAX: usize = 32;
pub const SHORT_MAX: usize = 64;
pub const PATH_MAX: usize = 1024;
pub const REASON_MAX: usize = 500;
pub const NOTE_MAX: usize = 2000;

/// A required single-line text: trimmed, non-empty, at most `max` characters, no control
/// characters.
pub(crate) fn required(field: &'static str, hint: &'static str, text: &str, max: usize) -> Result<String, Rejection> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Rejection::Empty { field, hint });
    }
    checked(field, trimmed, max, false)
}

/// An optional single-line text: blank means absent.
pub(crate) fn optional(field: &'static str, text: Option<&str>, max: usize) -> Result<Option<String>, Rejection> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(trimmed) => checked(field, trimmed, max, false).map(Some),
    }
}

/// An optional text that may span lines (notes).
pub(crate) fn optional_multiline(
    field: &'static str,
    text: Option<&str>,
    max: usize,
) -> Result<Option<String>, Rejection> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(trimmed) => checked(field, trimmed, max, true).map(Some),
    }
}

fn checked(field: &'static str, trimmed: &str, max: usize, multiline: bool) -> Result<String, Rejection> {
    let length = trimmed.chars().count();
    if length > max {
        return Err(Rejection::TooLong { field, length, max });
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\t' || c == '\r');
    if let Some(c) = trimmed.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(Rejection::ControlCharacter { field, code: u32::from(c) });
    }
    if let Some(c) = trimmed.chars().find(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')) {
        return Err(Rejection::DirectionControl { field, code: u32::from(c) });
    }
    Ok(trimmed.to_owned())
}

/// A SKU: 1–64 characters, no white space or control characters. Case is kept as given.
pub(crate) fn sku(text: &str) -> Result<String, Rejection> {
    let sku = required("SKU", "the product's stock code", text, SKU_MAX)?;
    if sku.chars().any(char::is_whitespace) {
        return Err(Rejection::SkuWhitespace { given: sku });
    }
    Ok(sku)
}

/// A customer id or order number: 1–32 of `A-Z a-z 0-9 - _ .`.
pub(crate) fn id(field: &'static str, text: &str) -> Result<String, Rejection> {
    let id = required(field, "letters and digits", text, ID_MAX)?;
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(Rejection::BadId { field, given: id });
    }
    Ok(id)
}

/// An email address: one `@`, a non-empty local part, a domain with a dot and no empty
/// labels, no white space. Deliverability is not our business; typos like `jo@gmail` are.
pub(crate) fn email(text: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(email) = optional("email", text, EMAIL_MAX)? else {
        return Ok(None);
    };
    let bad = || Rejection::BadEmail { given: email.clone() };
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.') && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !domain_ok || domain.contains('@') || email.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(Some(email))
}

/// A phone number: digits, spaces and `+-()./`, with at least one digit.
pub(crate) fn phone(text: Option<&str>) -> Result<Option<String>, Rejection> {
    let Some(phone) = optional("phone", text, PHONE_MAX)? else {
        return Ok(None);
    };
    let allowed = |c: char| c.is_ascii_digit() || " +-()./".contains(c);
    if !phone.chars().all(allowed) || !phone.chars().any(|c| c.is_ascii_digit()) {
        return Err(Rejection::BadPhone { given: phone });
    }
    Ok(Some(phone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_limited() {
        assert_eq!(required("name", "a name", "  Mug  ", NAME_MAX).unwrap(), "Mug");
        assert_eq!(
            required("product name", "a name", "   ", NAME_MAX).unwrap_err().to_string(),
            "product name is empty; enter a name"
        );
        let long = "é".repeat(201);
        assert_eq!(
            required("product name", "a name", &long, NAME_MAX).unwrap_err().to_string(),
            "product name is 201 characters long; shorten it to at most 200"
        );
        // Right-to-left marks, emoji and markup are text like any other.
        assert!(required("name", "a name", "\u{200F}שלום 🎉 <script>", NAME_MAX).is_ok());
        assert_eq!(
            required("name", "a name", "a\u{7}b", NAME_MAX).unwrap_err().to_string(),
            "name contains a control character (U+0007); remove it"
        );
        // An override (U+202E) in "invoice<U+202E>fdp.exe" shows it as "invoiceexe.pdf": refused.
        assert_eq!(
            required("customer name", "a name", "invoice\u{202E}fdp.exe", NAME_MAX).unwrap_err().to_string(),
            "customer name contains an invisible text-direction control (U+202E) that can make it display differently from what it says; remove it"
        );
        assert!(optional_multiline("note", Some("a \u{2067}b"), NOTE_MAX).is_err());
        assert!(optional_multiline("note", Some("line one\nline two"), NOTE_MAX).is_ok());
        assert!(optional("carrier", Some("DHL\nExpress"), SHORT_MAX).is_err());
    }

    #[test]
    fn emails() {
        let check = |input: &str, ok: bool| assert_eq!(email(Some(input)).is_ok(), ok, "{input}");
        check("jo@example.com", true);
        check("jo.smith+shop@mail.example.co.uk", true);
        check("", true);
        check("jo@gmail", false);
        check("jo@@example.com", false);
        check("@example.com", false);
        check("jo@example..com", false);
        check("jo smith@example.com", false);
        check("jo.example.com", false);
    }

    #[test]
    fn phones_skus_and_ids() {
        assert!(phone(Some("+44 (0)20 7946-0958")).is_ok());
        assert!(phone(Some("call me")).is_err());
        assert!(phone(Some("+-")).is_err());
        assert!(sku("85123A").is_ok());
        assert!(sku("DOT COM").is_err());
        assert!(id("order number", "536365").is_ok());
        assert!(id("customer id", "CG-12520").is_ok());
        assert!(id("customer id", "a/b").is_err());
    }
}
