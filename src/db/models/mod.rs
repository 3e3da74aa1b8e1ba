//! One module per table: the row struct, the insert and change structs, and the queries.

pub mod login_failure;
pub mod outlook_account;
pub mod profile;
pub mod session;
pub mod user;

pub use outlook_account::{AccountRefresh, NewOutlookAccount, OutlookAccount};
pub use profile::{NewProfile, ProfileChanges, UserProfile};
pub use session::SessionRow;
pub use user::{NewUser, User, UserChanges};

diesel::define_sql_function! {
    /// SQL `lower()`. SQLite's folds ASCII letters only, which is what the unique index on
    /// usernames uses; see [`casefold`] for the full comparison.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// Unicode lower case, for comparisons without regard to case. On SQLite it is a function
    /// the pool registers on every connection (Rust's `str::to_lowercase`), because SQLite's own
    /// `lower()` leaves letters such as `É` unchanged.
    fn casefold(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
