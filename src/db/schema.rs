//! Diesel table definitions for the tables Django created and the application's own.

diesel::table! {
    auth_user (id) {
        id -> Integer,
        password -> Text,
        last_login -> Nullable<Timestamp>,
        is_superuser -> Bool,
        username -> Text,
        last_name -> Text,
        email -> Text,
        is_staff -> Bool,
        is_active -> Bool,
        date_joined -> Timestamp,
        first_name -> Text,
    }
}

diesel::table! {
    outlook_oauth_app_userprofile (id) {
        id -> Integer,
        bio -> Text,
        job_title -> Text,
        department -> Text,
        office_location -> Text,
        mobile_phone -> Text,
        time_zone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        user_id -> Integer,
    }
}

diesel::table! {
    outlook_oauth_app_outlookaccount (id) {
        id -> Integer,
        tenant_id -> Text,
        object_id -> Text,
        display_name -> Text,
        email -> Text,
        preferred_username -> Text,
        access_token -> Text,
        refresh_token -> Text,
        token_expires_at -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        user_id -> Integer,
    }
}

diesel::table! {
    outlook_oauth_app_session (session_key) {
        session_key -> Text,
        session_data -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expire_date -> Timestamp,
        user_id -> Nullable<Integer>,
    }
}

diesel::table! {
    outlook_oauth_app_loginfailure (id) {
        id -> Integer,
        login_key -> Text,
        failed_at -> Timestamp,
    }
}

diesel::joinable!(outlook_oauth_app_userprofile -> auth_user (user_id));
diesel::joinable!(outlook_oauth_app_outlookaccount -> auth_user (user_id));
diesel::joinable!(outlook_oauth_app_session -> auth_user (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    auth_user,
    outlook_oauth_app_userprofile,
    outlook_oauth_app_outlookaccount,
    outlook_oauth_app_session,
    outlook_oauth_app_loginfailure,
);
