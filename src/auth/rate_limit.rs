//! Per-client rate limits on the routes that check passwords or start sign-ins.
//!
//! Each client address gets a token bucket per instance: `burst` requests at once, refilled at
//! `per_minute`. Past that the route answers 429 with `Retry-After`. The buckets live in memory,
//! so with several instances a client gets each instance's allowance; the per-account throttle
//! in [`super::throttle`] is the limit that holds across instances.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};

use crate::errors::AppError;
use crate::routes::paths;
use crate::startup::AppState;

/// Buckets untouched this long are full again and are dropped, which bounds the memory.
const IDLE_BUCKET: Duration = Duration::from_secs(600);

/// Most client addresses tracked at once; past this the oldest buckets are dropped first.
const MAX_CLIENTS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: 30,
            burst: 10,
        }
    }
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every client address.
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client`; `Err(seconds to wait)` when none is left.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let rate = f64::from(self.limit.per_minute.max(1)) / 60.0;
        let burst = f64::from(self.limit.burst.max(1));
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());

        if buckets.len() >= MAX_CLIENTS {
            buckets.retain(|_, bucket| now.duration_since(bucket.updated) < IDLE_BUCKET);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;

        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil();
            Err(wait.max(1.0) as u64)
        }
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case
/// `X-Forwarded-For` is read from the right, skipping the trusted proxies in it.
pub fn client_address(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }

    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.trim().parse::<IpAddr>().ok())
        .collect();
    let client = forwarded
        .iter()
        .rev()
        .find(|address| !trusted_proxies.contains(address))
        .copied();
    Some(client.unwrap_or(peer))
}

/// The requests that are limited: the posts that check a password or create an account, and
/// every step of sign-in with Outlook.
fn is_limited(method: &Method, path: &str) -> bool {
    let posts = [paths::LOGIN, paths::SIGNUP, paths::PASSWORD_CHANGE];
    let outlook = [
        paths::OUTLOOK_LOGIN,
        paths::OUTLOOK_CALLBACK,
        paths::OUTLOOK_DISCONNECT,
    ];
    (method == Method::POST && posts.contains(&path)) || outlook.contains(&path)
}

/// Middleware applying the limit.
pub async fn rate_limit<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if is_limited(req.method(), req.path()) {
        if let Some(state) = req.app_data::<web::Data<AppState>>() {
            let client = client_address(req.request(), &state.settings.trusted_proxies);
            if let Some(client) = client {
                if let Err(retry_after_secs) = state.rate_limiter.check(client, Instant::now()) {
                    tracing::info!(retry_after_secs, path = req.path(), "rate limit reached");
                    let error = AppError::RateLimited { retry_after_secs };
                    return Ok(req.error_response(error).map_into_right_body());
                }
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));

    #[test]
    fn burst_is_allowed_then_refused() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        let now = Instant::now();

        for _ in 0..3 {
            assert_eq!(limiter.check(CLIENT, now), Ok(()));
        }
        assert_eq!(limiter.check(CLIENT, now), Err(1));
    }

    #[test]
    fn tokens_refill_over_time() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 1,
        });
        let now = Instant::now();
        limiter.check(CLIENT, now).expect("first request");

        assert!(limiter.check(CLIENT, now).is_err());
        assert!(limiter.check(CLIENT, now + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn clients_have_their_own_buckets() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 1,
            burst: 1,
        });
        let now = Instant::now();
        let other: IpAddr = "198.51.100.1".parse().expect("address");

        assert!(limiter.check(CLIENT, now).is_ok());
        assert!(limiter.check(other, now).is_ok());
        assert!(limiter.check(CLIENT, now).is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.2".parse().expect("address");
        let request = |peer: &str| {
            TestRequest::default()
                .peer_addr(format!("{peer}:4000").parse().expect("socket address"))
                .insert_header(("x-forwarded-for", "198.51.100.9, 203.0.113.7, 10.0.0.2"))
                .to_http_request()
        };

        let through_proxy = client_address(&request("10.0.0.2"), &[proxy]);
        let direct = client_address(&request("192.0.2.50"), &[proxy]);

        assert_eq!(
            through_proxy,
            Some(CLIENT),
            "read from the right, skipping the proxy"
        );
        assert_eq!(direct, Some("192.0.2.50".parse().expect("address")));
    }
}
