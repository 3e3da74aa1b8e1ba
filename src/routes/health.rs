use actix_web::{web, HttpResponse};

use crate::startup::AppState;

/// 200 when the database answers a query, 503 otherwise; for load balancers and monitors.
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(error) => {
            tracing::warn!(error = %error, "health check: database unavailable");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n")
        }
    }
}
