//! Email addresses.

use std::fmt;

use super::{check_text, TextRule};

/// Django's `max_length` for `auth_user.email`.
pub const MAX_EMAIL_CHARS: usize = 254;

/// A syntactically valid address with its domain in lower case, as Django's
/// `normalize_email` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(value: &str) -> Result<EmailAddress, String> {
        let value = check_text(value, TextRule::line(MAX_EMAIL_CHARS).required())?;

        let valid = email_address::EmailAddress::parse_with_options(
            &value,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .is_ok();
        let Some((local, domain)) = value.rsplit_once('@').filter(|_| valid) else {
            return Err("Enter a valid email address, such as name@example.com.".into());
        };
        if !domain.contains('.') {
            return Err(
                "Enter an email address with a full domain, such as name@example.com.".into(),
            );
        }

        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    /// Parses an optional address: blank is allowed and stays blank.
    pub fn parse_optional(value: &str) -> Result<Option<EmailAddress>, String> {
        if value.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(value).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_lowercased() {
        let email = EmailAddress::parse(" Ann@Example.COM ").expect("valid");

        assert_eq!(email.as_str(), "Ann@example.com");
    }

    #[test]
    fn invalid_addresses_are_rejected() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "Ann <a@example.com>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn blank_optional_address_is_none() {
        assert_eq!(EmailAddress::parse_optional("  "), Ok(None));
    }
}
