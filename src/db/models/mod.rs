//! One module per table: the row struct, the insert and change structs, and the queries.

pub mod outlook_account;
pub mod profile;
pub mod session;
pub mod user;

pub use outlook_account::{AccountRefresh, NewOutlookAccount, OutlookAccount};
pub use profile::{NewProfile, ProfileChanges, UserProfile};
pub use session::SessionRow;
pub use user::{NewUser, User, UserChanges};

diesel::define_sql_function! {
    /// SQL `lower()`, for comparisons without regard to case.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
