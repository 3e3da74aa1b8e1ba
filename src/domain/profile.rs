//! The profile form: the user's names and email address, and the profile fields.

use std::str::FromStr;

use serde::Deserialize;

use super::{check_text, EmailAddress, FieldErrors, TextRule};
use crate::db::models::{ProfileChanges, UserChanges};

const NAME: TextRule = TextRule::line(150);
const BIO: TextRule = TextRule::line(500).multiline();
const SHORT: TextRule = TextRule::line(100);
const PHONE: TextRule = TextRule::line(32);
const TIME_ZONE: TextRule = TextRule::line(64);

/// The profile form's fields as posted. Missing fields read as empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub bio: String,
    pub job_title: String,
    pub department: String,
    pub office_location: String,
    pub mobile_phone: String,
    pub time_zone: String,
}

/// A checked profile form, split into the two tables it changes.
#[derive(Debug, Clone)]
pub struct ProfileForm {
    pub user: UserChanges,
    pub profile: ProfileChanges,
}

impl ProfileForm {
    pub fn parse(input: &ProfileInput) -> Result<ProfileForm, FieldErrors> {
        let mut errors = FieldErrors::new();

        let first_name = errors.take("first_name", check_text(&input.first_name, NAME));
        let last_name = errors.take("last_name", check_text(&input.last_name, NAME));
        let email = errors.take(
            "email",
            EmailAddress::parse_optional(&input.email)
                .map(|email| email.map(EmailAddress::into_inner).unwrap_or_default()),
        );
        let bio = errors.take("bio", check_text(&input.bio, BIO));
        let job_title = errors.take("job_title", check_text(&input.job_title, SHORT));
        let department = errors.take("department", check_text(&input.department, SHORT));
        let office_location =
            errors.take("office_location", check_text(&input.office_location, SHORT));
        let mobile_phone = errors.take("mobile_phone", parse_phone(&input.mobile_phone));
        let time_zone = errors.take("time_zone", parse_time_zone(&input.time_zone));

        match (
            first_name,
            last_name,
            email,
            bio,
            job_title,
            department,
            office_location,
            mobile_phone,
            time_zone,
        ) {
            (
                Some(first_name),
                Some(last_name),
                Some(email),
                Some(bio),
                Some(job_title),
                Some(department),
                Some(office_location),
                Some(mobile_phone),
                Some(time_zone),
            ) if errors.is_empty() => Ok(ProfileForm {
                user: UserChanges {
                    first_name,
                    last_name,
                    email,
                },
                profile: ProfileChanges {
                    bio,
                    job_title,
                    department,
                    office_location,
                    mobile_phone,
                    time_zone,
                },
            }),
            _ => Err(errors),
        }
    }
}

/// Digits with the usual separators and an optional leading `+`.
fn parse_phone(value: &str) -> Result<String, String> {
    let phone = check_text(value, PHONE)?;
    let valid_chars = phone.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')') || (c == '+' && i == 0)
    });
    if !phone.is_empty() && (!valid_chars || phone.chars().filter(char::is_ascii_digit).count() < 3)
    {
        return Err("Enter a phone number of digits, such as +1 425 555 0100.".into());
    }
    Ok(phone)
}

/// An IANA time zone name; blank means UTC.
fn parse_time_zone(value: &str) -> Result<String, String> {
    let name = check_text(value, TIME_ZONE)?;
    if name.is_empty() {
        return Ok("UTC".to_owned());
    }
    chrono_tz::Tz::from_str(&name)
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            format!("{name:?} is not a known time zone. Use an IANA name such as Europe/Paris or America/New_York.")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProfileInput {
        ProfileInput {
            first_name: "Ada".into(),
            email: "ada@example.com".into(),
            time_zone: "Europe/London".into(),
            mobile_phone: "+44 20 7946 0958".into(),
            ..ProfileInput::default()
        }
    }

    #[test]
    fn valid_profile_is_split_by_table() {
        let form = ProfileForm::parse(&input()).expect("valid");

        assert_eq!(form.user.first_name, "Ada");
        assert_eq!(form.profile.time_zone, "Europe/London");
    }

    #[test]
    fn unknown_time_zone_is_rejected() {
        let errors = ProfileForm::parse(&ProfileInput {
            time_zone: "Mars/Olympus".into(),
            ..input()
        })
        .expect_err("invalid");

        assert!(errors.has("time_zone"));
    }

    #[test]
    fn blank_time_zone_means_utc() {
        let form = ProfileForm::parse(&ProfileInput {
            time_zone: String::new(),
            ..input()
        })
        .expect("valid");

        assert_eq!(form.profile.time_zone, "UTC");
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let errors = ProfileForm::parse(&ProfileInput {
            first_name: "x".repeat(151),
            email: "not-an-address".into(),
            bio: "y".repeat(501),
            mobile_phone: "call me".into(),
            ..input()
        })
        .expect_err("invalid");

        for field in ["first_name", "email", "bio", "mobile_phone"] {
            assert!(errors.has(field), "{field} not reported");
        }
    }
}
