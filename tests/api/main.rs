//! Integration tests: the real application on a random port, driven over HTTP.

mod helpers;
pub mod idp;

mod browser;
mod concurrency;
mod django;
mod faults;
mod health;
mod hostile;
mod login;
mod logout;
mod outlook;
mod password_change;
mod profile;
mod security;
mod session_store;
mod sessions;
mod signup;
mod throttle;
