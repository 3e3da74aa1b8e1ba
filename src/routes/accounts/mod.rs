//! The account pages: sign-up, log-in, log-out, profile, password change.

pub mod login;
pub mod logout;
pub mod outlook;
pub mod password_change;
pub mod profile;
pub mod signup;
