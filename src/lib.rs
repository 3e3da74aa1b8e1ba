//! outlook-oauth-app: sign-up, sign-in with a password or a Microsoft account, and profile
//! pages, on the tables of the Django application it replaces.

pub mod accounts;
pub mod auth;
pub mod check;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod errors;
pub mod outlook;
pub mod routes;
pub mod startup;
pub mod superuser;
pub mod telemetry;
