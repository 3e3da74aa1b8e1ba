//! The ceilings that `bench/run.sh` compares the application with, measured on the same machine
//! in the same run:
//!
//! - `bench-ceiling serve ADDRESS PAGE_BYTES` serves `GET /` from a bare actix-web handler that
//!   renders an askama page of at least PAGE_BYTES bytes, with no middleware, session or
//!   database. It runs until it is killed.
//! - `bench-ceiling argon2 SECONDS` hashes passwords with the application's Argon2id parameters
//!   (m = 19456 KiB, t = 2, p = 1) on one thread per core for SECONDS and prints the total rate.

use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use argon2::{Algorithm, Argon2, Params, Version};
use askama::Template;

#[derive(Template)]
#[template(path = "page.html")]
struct Page<'a> {
    title: &'a str,
    token: &'a str,
    lines: &'a [String],
}

/// A 43-character token, shaped like the application's CSRF tokens.
const TOKEN: &str = "q2Vx8bW1nF0tZ7cL4yR9pK3sD6hJ5mA2eT8uG1oI0wQ";

fn render(lines: &[String]) -> String {
    let page = Page {
        title: "Log in",
        token: TOKEN,
        lines,
    };
    page.render().expect("the page renders")
}

/// Builds the filler lines that make the page at least `target` bytes long.
fn lines_for(target: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while render(&lines).len() < target {
        lines.push(format!(
            "Line {}: text of the same kind as a form's labels, hints and links.",
            lines.len() + 1
        ));
    }
    lines
}

async fn page(lines: web::Data<Vec<String>>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(render(&lines))
}

fn serve(address: &str, page_bytes: usize) -> std::io::Result<()> {
    let lines = web::Data::new(lines_for(page_bytes));
    println!(
        "serving {} bytes per page on http://{address}/",
        render(&lines).len()
    );
    actix_web::rt::System::new().block_on(
        HttpServer::new(move || {
            App::new()
                .app_data(lines.clone())
                .route("/", web::get().to(page))
        })
        .bind(address)?
        .run(),
    )
}

/// Builds Argon2id with the application's parameters: m = 19456 KiB, t = 2, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_rate(seconds: u64) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let duration = Duration::from_secs(seconds);
    let start = Instant::now();
    let counts: Vec<u64> = (0..threads)
        .map(|thread| {
            std::thread::spawn(move || {
                let hasher = argon2();
                let mut output = [0u8; 32];
                let mut count: u64 = 0;
                while start.elapsed() < duration {
                    // A different 16-byte salt for every hash, as for real passwords.
                    let salt = format!("salt-{thread:02}-{count:09}");
                    hasher
                        .hash_password_into(
                            b"violet-lantern-88-orbit",
                            salt.as_bytes(),
                            &mut output,
                        )
                        .expect("hashing succeeds");
                    count += 1;
                }
                count
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("hashing thread"))
        .collect();
    let elapsed = start.elapsed().as_secs_f64();
    let total: u64 = counts.iter().sum();
    println!(
        "threads={threads} hashes={total} seconds={elapsed:.2} hashes_per_second={:.1}",
        total as f64 / elapsed
    );
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench-ceiling serve ADDRESS PAGE_BYTES | bench-ceiling argon2 SECONDS";
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", address, bytes] => {
            let bytes: usize = bytes.parse().expect("PAGE_BYTES is a number of bytes");
            serve(address, bytes)
        }
        ["argon2", seconds] => {
            hash_rate(seconds.parse().expect("SECONDS is a whole number"));
            Ok(())
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_reaches_target_size() {
        let lines = lines_for(5000);
        assert!(render(&lines).len() >= 5000);
        assert!(render(&lines[..lines.len() - 1]).len() < 5000);
    }

    #[test]
    fn argon2_parameters_match_application() {
        let params = argon2().params().clone();
        assert_eq!(params.m_cost(), 19_456);
        assert_eq!(params.t_cost(), 2);
        assert_eq!(params.p_cost(), 1);
    }
}
