//! Integration tests: the real application on a random port, driven over HTTP.

mod helpers;

mod health;
mod login;
mod logout;
mod password_change;
mod profile;
mod security;
mod signup;
