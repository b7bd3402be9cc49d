//! The one error shape every command returns: `{ code, message }`.
//!
//! `code` is stable and is what the UI acts on; `message` is shown to the person as it is (it
//! names the problem and the fix, see `countertop_core::Rejection`).

use serde::Serialize;

#[derive(Clone, Debug, Serialize, ts_rs::TS)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError { code: code.to_owned(), message: message.into() }
    }

    /// Input the shell could not even turn into a command (a number field holding letters…).
    pub fn input(message: impl Into<String>) -> ApiError {
        ApiError::new("invalid_input", message)
    }
}

impl From<countertop_core::Error> for ApiError {
    fn from(e: countertop_core::Error) -> ApiError {
        ApiError { code: e.code().to_owned(), message: e.to_string() }
    }
}

impl From<countertop_core::Rejection> for ApiError {
    fn from(e: countertop_core::Rejection) -> ApiError {
        ApiError { code: e.code().to_owned(), message: e.to_string() }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
