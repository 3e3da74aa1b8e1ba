//! Form values parsed into checked domain types. Each `parse` returns the value or a message
//! fit to show beside the form field, so the rules can be tested without HTTP.

mod email;
mod password;
mod profile;
mod text;
mod username;

use std::collections::BTreeMap;

pub use email::EmailAddress;
pub use password::{check_confirmation, check_new_password, check_password_rules, PasswordRules};
pub use profile::{ProfileForm, ProfileInput};
pub use text::{check_text, TextRule};
pub use username::Username;

/// Messages for each form field, in field order of first error.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(BTreeMap<&'static str, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_default().push(message.into());
    }

    /// Records the error of `result`, if any, and returns its value.
    pub fn take<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The messages for one field; empty when it has none. Templates call this.
    pub fn get(&self, field: &str) -> &[String] {
        self.0.get(field).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.keys().copied()
    }
}
