//! Rules for a new password, after Django's default password validators.

use secrecy::{ExposeSecret, SecretString};
use zxcvbn::feedback::Warning;
use zxcvbn::{zxcvbn, Score};

/// Django's `MinimumLengthValidator` default.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longer passwords are refused: hashing cost does not depend on length, but a megabyte
/// "password" is not one, and it keeps the similarity check cheap.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Django's `UserAttributeSimilarityValidator` default: a password this similar to the username
/// or email address is rejected.
const MAX_SIMILARITY: f64 = 0.7;

/// What a new password is checked against.
pub struct PasswordRules<'a> {
    pub username: &'a str,
    pub email: &'a str,
}

/// Checks a new password and its confirmation together; returns one message naming the rule
/// that failed. Forms use [`check_password_rules`] and [`check_confirmation`] instead, so each
/// message appears beside its own field.
pub fn check_new_password(
    password: &SecretString,
    confirmation: &SecretString,
    rules: &PasswordRules<'_>,
) -> Result<(), String> {
    check_password_rules(password, rules)?;
    check_confirmation(password, confirmation)
}

/// Checks that the confirmation field repeats the new password; returns the message to show
/// beside the confirmation field. A blank new password is reported by
/// [`check_password_rules`], so it is not also called a mismatch here.
pub fn check_confirmation(
    password: &SecretString,
    confirmation: &SecretString,
) -> Result<(), String> {
    let password = password.expose_secret();
    let confirmation = confirmation.expose_secret();
    if confirmation.is_empty() {
        return Err("This field is required.".into());
    }
    if !password.is_empty() && password != confirmation {
        return Err("The two password fields do not match.".into());
    }
    Ok(())
}

/// Checks a new password against the length, similarity and strength rules; returns the message
/// to show beside the new-password field, naming the rule that failed.
pub fn check_password_rules(
    password: &SecretString,
    rules: &PasswordRules<'_>,
) -> Result<(), String> {
    let password = password.expose_secret();
    let length = password.chars().count();

    if password.is_empty() {
        return Err("This field is required.".into());
    }
    if length < MIN_PASSWORD_CHARS {
        return Err(format!(
            "This password is too short. It must contain at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(format!(
            "This password is too long. Use at most {MAX_PASSWORD_CHARS} characters."
        ));
    }
    if password.chars().all(|c| c.is_numeric()) {
        return Err("This password is entirely numeric.".into());
    }

    let local_part = rules.email.split('@').next().unwrap_or_default();
    for (attribute, label) in [(rules.username, "username"), (local_part, "email address")] {
        if is_too_similar(password, attribute) {
            return Err(format!("This password is too similar to your {label}."));
        }
    }

    match weakness(password, &[rules.username, rules.email]) {
        Some(message) => Err(message),
        None => Ok(()),
    }
}

/// Compares case-insensitively by the ratio 2·M / (len a + len b), where M is the length of the
/// longest common subsequence, as Python's `SequenceMatcher.ratio` estimates it.
fn is_too_similar(password: &str, attribute: &str) -> bool {
    let password: Vec<char> = password.to_lowercase().chars().collect();
    let attribute: Vec<char> = attribute.to_lowercase().chars().collect();
    if attribute.len() < 3 {
        return false;
    }
    let joined: String = password.iter().collect();
    let attribute_text: String = attribute.iter().collect();
    if joined.contains(&attribute_text) || attribute_text.contains(&joined) {
        return true;
    }

    let common = longest_common_subsequence(&password, &attribute);
    let ratio = 2.0 * common as f64 / (password.len() + attribute.len()) as f64;
    ratio >= MAX_SIMILARITY
}

fn longest_common_subsequence(a: &[char], b: &[char]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for &x in a {
        for (j, &y) in b.iter().enumerate() {
            current[j + 1] = if x == y {
                previous[j] + 1
            } else {
                current[j].max(previous[j + 1])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Returns why zxcvbn rates the password as easy to guess: it is (or is close to) one of the
/// most used passwords, or it would fall to the first guesses of an attacker.
fn weakness(password: &str, user_inputs: &[&str]) -> Option<String> {
    let entropy = zxcvbn(password, user_inputs);
    let warning = entropy.feedback().and_then(|feedback| feedback.warning());

    let listed = matches!(
        warning,
        Some(
            Warning::ThisIsATop10Password
                | Warning::ThisIsATop100Password
                | Warning::ThisIsACommonPassword
                | Warning::ThisIsSimilarToACommonlyUsedPassword
        )
    );
    if listed && entropy.score() < Score::Two {
        return Some("This password is too common. Choose one that is harder to guess.".into());
    }
    if entropy.score() == Score::Zero {
        let reason = warning.map(|w| format!(" {w}")).unwrap_or_default();
        return Some(format!("This password is too easy to guess.{reason}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str) -> Result<(), String> {
        let secret = SecretString::from(password.to_owned());
        let rules = PasswordRules {
            username: "margaret",
            email: "maggie.smith@example.com",
        };
        check_new_password(&secret, &secret.clone(), &rules)
    }

    #[test]
    fn strong_password_is_accepted() {
        assert_eq!(check("correct horse battery staple"), Ok(()));
    }

    #[test]
    fn mismatched_confirmation_is_rejected() {
        let rules = PasswordRules {
            username: "a",
            email: "",
        };
        let result = check_new_password(
            &SecretString::from("tangerine-orbit-92".to_owned()),
            &SecretString::from("tangerine-orbit-93".to_owned()),
            &rules,
        );

        assert!(result.expect_err("mismatch").contains("do not match"));
    }

    #[test]
    fn confirmation_is_checked_on_its_own() {
        let password = SecretString::from("tangerine-orbit-92".to_owned());
        let blank = SecretString::from(String::new());

        assert_eq!(check_confirmation(&password, &password.clone()), Ok(()));
        assert_eq!(
            check_confirmation(&password, &blank),
            Err("This field is required.".into())
        );
        assert_eq!(
            check_confirmation(&blank, &password),
            Ok(()),
            "blank password is not a mismatch"
        );
    }

    #[test]
    fn each_rule_names_itself() {
        let cases = [
            ("ab1!", "too short"),
            ("4815162342007", "entirely numeric"),
            ("margaret1974", "similar to your username"),
            ("maggie.smith!", "similar to your email"),
            ("password123", "too common"),
            ("qwertyuiop", "too common"),
        ];
        for (password, expected) in cases {
            let message = check(password).expect_err(password);
            assert!(message.contains(expected), "{password}: {message}");
        }
    }

    #[test]
    fn similarity_uses_subsequence_ratio() {
        assert!(is_too_similar("margarett", "margaret"));
        assert!(!is_too_similar("violet-lantern-88", "margaret"));
    }
}
