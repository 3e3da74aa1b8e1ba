-- One row per failed log-in, keyed by the login as typed (case-folded), so that throttling
-- holds across every instance that shares the database. Successful log-ins delete the key's
-- rows; rows older than the window are purged.
CREATE TABLE IF NOT EXISTS "outlook_oauth_app_loginfailure" (
    "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "login_key" varchar(254) NOT NULL,
    "failed_at" datetime NOT NULL
);
CREATE INDEX IF NOT EXISTS "outlook_oauth_app_loginfailure_key_time"
    ON "outlook_oauth_app_loginfailure" ("login_key", "failed_at");
