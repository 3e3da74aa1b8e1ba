-- The three tables of the Django application, with the columns and constraints that Django's
-- `migrate` creates on SQLite, so that either program can open a database made by the other.
CREATE TABLE IF NOT EXISTS "auth_user" (
    "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "password" varchar(128) NOT NULL,
    "last_login" datetime NULL,
    "is_superuser" bool NOT NULL,
    "username" varchar(150) NOT NULL UNIQUE,
    "last_name" varchar(150) NOT NULL,
    "email" varchar(254) NOT NULL,
    "is_staff" bool NOT NULL,
    "is_active" bool NOT NULL,
    "date_joined" datetime NOT NULL,
    "first_name" varchar(150) NOT NULL
);

-- The index that keeps usernames unique without regard to case is made after the migrations
-- (src/db/adopt.rs), because a database Django filled may hold usernames that differ only in
-- case, and then it has to be a plain index.

CREATE TABLE IF NOT EXISTS "outlook_oauth_app_userprofile" (
    "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "bio" text NOT NULL,
    "job_title" varchar(100) NOT NULL,
    "department" varchar(100) NOT NULL,
    "office_location" varchar(100) NOT NULL,
    "mobile_phone" varchar(32) NOT NULL,
    "time_zone" varchar(64) NOT NULL,
    "created_at" datetime NOT NULL,
    "updated_at" datetime NOT NULL,
    "user_id" integer NOT NULL UNIQUE
        REFERENCES "auth_user" ("id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE IF NOT EXISTS "outlook_oauth_app_outlookaccount" (
    "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "tenant_id" varchar(64) NOT NULL,
    "object_id" varchar(64) NOT NULL,
    "display_name" varchar(255) NOT NULL,
    "email" varchar(254) NOT NULL,
    "preferred_username" varchar(254) NOT NULL,
    "access_token" text NOT NULL,
    "refresh_token" text NOT NULL,
    "token_expires_at" text NOT NULL,
    "scopes" text NOT NULL,
    "created_at" datetime NOT NULL,
    "updated_at" datetime NOT NULL,
    "last_login_at" datetime NULL,
    "user_id" integer NOT NULL
        REFERENCES "auth_user" ("id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT "outlook_oauth_app_outlookaccount_tenant_object_uniq" UNIQUE ("tenant_id", "object_id")
);
CREATE INDEX IF NOT EXISTS "outlook_oauth_app_outlookaccount_user_id"
    ON "outlook_oauth_app_outlookaccount" ("user_id");

-- Server-side sessions. The cookie holds only `session_key`; `user_id` lets a password change
-- or a log-out end every session of one user.
CREATE TABLE IF NOT EXISTS "outlook_oauth_app_session" (
    "session_key" varchar(64) NOT NULL PRIMARY KEY,
    "session_data" text NOT NULL,
    "created_at" datetime NOT NULL,
    "updated_at" datetime NOT NULL,
    "expire_date" datetime NOT NULL,
    "user_id" integer NULL
        REFERENCES "auth_user" ("id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX IF NOT EXISTS "outlook_oauth_app_session_expire_date"
    ON "outlook_oauth_app_session" ("expire_date");
CREATE INDEX IF NOT EXISTS "outlook_oauth_app_session_user_id"
    ON "outlook_oauth_app_session" ("user_id");
