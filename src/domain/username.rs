//! Usernames, with the rules of Django's `UnicodeUsernameValidator`.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::{check_text, TextRule};

/// Django's `max_length` for `auth_user.username`.
pub const MAX_USERNAME_CHARS: usize = 150;

/// A valid username: letters, digits and `@ . + - _`, at most 150 characters, in Unicode NFKC
/// form as Django stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Username, String> {
        // NFKC folds look-alike forms (fullwidth letters, ligatures) into one spelling, so that
        // two usernames that read the same are the same username.
        let normalized: String = value.trim().nfkc().collect();
        let checked = check_text(&normalized, TextRule::line(MAX_USERNAME_CHARS).required())?;

        if let Some(c) = checked.chars().find(|&c| !is_allowed(c)) {
            return Err(format!(
                "Usernames may contain only letters, digits and @ . + - _ (found {c:?})."
            ));
        }
        Ok(Username(checked))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Python's `\w` (letters, digits, connector punctuation such as `_`) plus `@ . + -`.
fn is_allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '+' | '-')
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_usernames_are_accepted() {
        for name in ["alice", "a.b+c-d_e@f", "Zoë", "用户", "x1"] {
            assert!(Username::parse(name).is_ok(), "{name} rejected");
        }
    }

    #[test]
    fn invalid_usernames_are_rejected() {
        for name in ["", "a b", "a/b", "a<b", "a;b", "a\u{200B}b"] {
            assert!(Username::parse(name).is_err(), "{name:?} accepted");
        }
    }

    #[test]
    fn username_limit_is_150_characters() {
        assert!(Username::parse(&"a".repeat(150)).is_ok());
        assert!(Username::parse(&"a".repeat(151)).is_err());
    }

    #[test]
    fn fullwidth_forms_are_normalized() {
        let name = Username::parse("ａｌｉｃｅ").expect("valid");

        assert_eq!(name.as_str(), "alice");
    }
}
