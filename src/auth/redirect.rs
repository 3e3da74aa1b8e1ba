//! Where to send a person after sign-in: only to a path on this site.

/// Returns `next` when it is a local path (`/accounts/profile/?tab=1`), and `None` for anything
/// a browser could read as another site: `//evil.example`, `/\evil.example`, `https://…`, or
/// text with control characters (browsers drop tabs and newlines inside URLs).
pub fn safe_next(next: &str) -> Option<&str> {
    let mut chars = next.chars();
    let local = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2048;
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for next in ["/", "/accounts/profile/", "/a?b=c&d=/e", "/a#b"] {
            assert_eq!(safe_next(next), Some(next));
        }
    }

    #[test]
    fn other_sites_are_refused() {
        for next in [
            "",
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/a\\b",
        ] {
            assert_eq!(safe_next(next), None, "{next:?} accepted");
        }
    }
}
