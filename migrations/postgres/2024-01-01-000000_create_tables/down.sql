DROP TABLE IF EXISTS "outlook_oauth_app_session";
DROP TABLE IF EXISTS "outlook_oauth_app_outlookaccount";
DROP TABLE IF EXISTS "outlook_oauth_app_userprofile";
DROP INDEX IF EXISTS "outlook_oauth_app_user_username_ci";
DROP INDEX IF EXISTS "outlook_oauth_app_user_username_lower";
DROP FUNCTION IF EXISTS casefold(text);
DROP TABLE IF EXISTS "auth_user";
