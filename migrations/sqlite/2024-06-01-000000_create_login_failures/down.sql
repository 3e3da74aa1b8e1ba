DROP TABLE IF EXISTS "outlook_oauth_app_loginfailure";
