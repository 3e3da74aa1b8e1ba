//! Password hashes in Django's format, computed off the async workers.
//!
//! New hashes are Argon2id in the format of Django's `Argon2PasswordHasher`:
//! `argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`. A hash that starts with `!` marks a
//! user without a usable password and never verifies. So that users of the Django application
//! keep their passwords, the hashes of these Django hashers verify too:
//!
//! | Django hasher | stored hash |
//! | --- | --- |
//! | `PBKDF2PasswordHasher` (Django's default) | `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` |
//! | `PBKDF2SHA1PasswordHasher` | `pbkdf2_sha1$<iterations>$<salt>$<base64 hash>` |
//! | `Argon2PasswordHasher` | `argon2$argon2id$v=19$m=102400,t=2,p=8$…`, or `argon2$argon2i$…` from older versions |
//! | `BCryptSHA256PasswordHasher` | `bcrypt_sha256$$2b$12$…`, bcrypt of the hex SHA-256 of the password |
//! | `BCryptPasswordHasher` | `bcrypt$$2b$12$…` |
//! | `ScryptPasswordHasher` | `scrypt$<N>$<salt>$<r>$<p>$<base64 hash>`, 64 bytes |
//!
//! Any other format never verifies. [`needs_rehash`] marks every hash but Argon2id with this
//! application's parameters, so that the user gets a new hash at their next log-in.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::hash_workers::{HashMemory, HashWorkers, WorkError};

/// Django's prefix for hashes made by its `Argon2PasswordHasher`, followed by a PHC string.
const DJANGO_ARGON2_PREFIX: &str = "argon2";

/// Django's prefix of an unusable password.
const UNUSABLE_PASSWORD_PREFIX: char = '!';

/// Argon2id with m = 19 MiB, t = 2, p = 1: OWASP's recommended minimum. Django's
/// `Argon2PasswordHasher` uses m = 100 MiB, t = 2, p = 8 (Django 5.2,
/// django/contrib/auth/hashers.py), and such hashes verify here too, because verification reads
/// the parameters from the hash.
const ARGON2_M_COST: u32 = 19_456;
const ARGON2_T_COST: u32 = 2;
const ARGON2_P_COST: u32 = 1;

// Upper bounds on the costs read from a stored hash. A hash above them is rejected without
// computing it, so that a crafted hash in the table cannot occupy a core for minutes at each
// log-in attempt. Each allows about ten times the work of Django 5.2's default for that hasher.

/// 10 × the 1,000,000 iterations of Django 5.2's PBKDF2 hashers.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// 8 × the work of Django's default cost 12, because each step of the cost doubles the work.
const MAX_BCRYPT_COST: u32 = 15;
/// N · r · p, 10 × Django 5.2's N = 2^14, r = 8, p = 5.
const MAX_SCRYPT_WORK: u64 = 6_553_600;
/// 32 MiB, the memory limit of OpenSSL's scrypt that Django's `hashlib.scrypt(maxmem=0)` call
/// keeps, so Django cannot verify a hash that needs more either.
const MAX_SCRYPT_MEMORY: u64 = 32 * 1024 * 1024;
/// 256 MiB in KiB, 2.5 × Django 5.2's m = 102,400.
const MAX_ARGON2_M_COST: u32 = 262_144;
/// m · t in KiB, 10 × Django 5.2's m = 102,400, t = 2.
const MAX_ARGON2_WORK: u64 = 2_048_000;

/// The length of Django's scrypt hash (`dklen=64`).
const SCRYPT_HASH_LEN: usize = 64;

fn argon2_params() -> Params {
    Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None)
        .expect("the Argon2 parameters are valid constants")
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("the thread hashing a password failed")]
    WorkerFailed,
    #[error("too many password checks are waiting already")]
    Busy,
}

impl From<WorkError> for PasswordError {
    fn from(err: WorkError) -> Self {
        match err {
            WorkError::Busy => PasswordError::Busy,
            WorkError::Failed => PasswordError::WorkerFailed,
        }
    }
}

/// How many hashes may wait for a free core, per core. Past that a request is refused at once
/// rather than queued: at tens of milliseconds per hash, a longer queue would only hold
/// requests past any client's patience, each with its sockets and buffers.
const MAX_WAITING_PER_THREAD: usize = 32;

/// Hashes and verifies passwords of every format above on a fixed set of threads, one per core
/// (see [`super::hash_workers`]). One hash can take 100 MiB of memory (Django's Argon2 default)
/// and tens to hundreds of milliseconds of CPU in a release build.
#[derive(Clone)]
pub struct Passwords {
    workers: HashWorkers,
    /// A real hash of a random password, verified when the user does not exist, so that an
    /// unknown username takes as long to reject as a wrong password.
    dummy_hash: Arc<str>,
}

impl Passwords {
    /// Starts `threads` hashing threads, with room for 32 waiting hashes per thread.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut random = [0u8; 24];
        OsRng.fill_bytes(&mut random);
        let dummy_password = BASE64.encode(random);
        let dummy_hash =
            hash_blocking(&dummy_password).expect("hashing a random password succeeds");
        Self::with_queue(threads, threads.max(1) * MAX_WAITING_PER_THREAD, dummy_hash)
    }

    pub(crate) fn with_queue(
        threads: usize,
        max_waiting: usize,
        dummy_hash: String,
    ) -> std::io::Result<Self> {
        Ok(Passwords {
            workers: HashWorkers::start(threads, max_waiting)?,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Starts one hashing thread per core.
    pub fn for_this_machine() -> std::io::Result<Self> {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Returns [`PasswordError::Busy`] when the hashing queue is full now. Requests that will
    /// hash call it first, so that a flood of them is rejected before any database work.
    pub fn check_room(&self) -> Result<(), PasswordError> {
        Ok(self.workers.check_room()?)
    }

    /// Occupies one hashing thread until the returned sender is dropped or sent to, and waits
    /// until the job has been admitted.
    #[cfg(test)]
    pub(crate) async fn occupy_one_thread(&self) -> std::sync::mpsc::Sender<()> {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let workers = self.workers.clone();
        let before = self.workers.admitted();
        tokio::spawn(async move { workers.run(move |_| hold.recv().ok()).await });
        while self.workers.admitted() == before {
            tokio::task::yield_now().await;
        }
        release
    }

    /// Hashes a new password in Django's Argon2 format.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        self.workers
            .run(move |memory| hash_with(memory, password.expose_secret()))
            .await?
    }

    /// Checks `password` against a stored Django hash. With `None` (no such user) it checks a
    /// dummy hash and returns false, taking the same time as a wrong password.
    // NOTE: a hash that Django made takes a different time to check than the Argon2 dummy, so
    // a user with such a hash stays distinguishable by timing until their first log-in.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        let dummy = Arc::clone(&self.dummy_hash);
        let verified = self
            .workers
            .run(move |memory| {
                let (hash, real) = match stored.as_deref() {
                    Some(hash) if !hash.starts_with(UNUSABLE_PASSWORD_PREFIX) => {
                        (hash.to_owned(), true)
                    }
                    _ => (dummy.to_string(), false),
                };
                // Verify first and then look at `real`, so the dummy hash costs the full time.
                let matches = verify_with(memory, password.expose_secret(), &hash);
                real && matches
            })
            .await?;
        Ok(verified)
    }
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    hash_with(&mut HashMemory::default(), password)
}

/// Hashes `password` with a new salt, in `memory`, as the argon2 crate's `hash_password` would.
fn hash_with(memory: &mut HashMemory, password: &str) -> Result<String, PasswordError> {
    let params = argon2_params();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buffer)
        .map_err(|err| PasswordError::Hash(err.to_string()))?;

    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        memory,
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password.as_bytes(),
        salt_bytes,
        &mut out,
    )
    .map_err(|err| PasswordError::Hash(err.to_string()))?;

    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|err| PasswordError::Hash(err.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|err| PasswordError::Hash(err.to_string()))?),
    };
    Ok(format!("{DJANGO_ARGON2_PREFIX}{phc}"))
}

/// Computes an Argon2 output of `out.len()` bytes with `memory` as the work area.
fn argon2_into(
    memory: &mut HashMemory,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    memory.with_blocks(blocks, |blocks| {
        argon2.hash_password_into_with_memory(password, salt, out, blocks)
    })
}

/// Returns whether `hash` should be replaced at the next log-in, when the password is known.
/// That is every hash but Argon2id version 1.3 with this application's parameters and output
/// length, as Django rehashes when its preferred hasher or its parameters change. An unusable
/// password (`!…`) returns false, because there is no password to hash again.
pub fn needs_rehash(hash: &str) -> bool {
    if hash.starts_with(UNUSABLE_PASSWORD_PREFIX) {
        return false;
    }
    !is_current_argon2(hash)
}

fn is_current_argon2(hash: &str) -> bool {
    let Some(phc) = hash.strip_prefix(DJANGO_ARGON2_PREFIX) else {
        return false;
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && params.m_cost() == ARGON2_M_COST
        && params.t_cost() == ARGON2_T_COST
        && params.p_cost() == ARGON2_P_COST
        && parsed.hash.map(|output| output.len()) == Some(Params::DEFAULT_OUTPUT_LEN)
}

/// Returns the name of the Django hasher that made `hash` (`pbkdf2_sha256`, `argon2`, …), the
/// text before the first `$`, for logs. An unusable password returns `unusable`.
pub fn hasher_name(hash: &str) -> &str {
    if hash.starts_with(UNUSABLE_PASSWORD_PREFIX) {
        return "unusable";
    }
    hash.split_once('$').map_or("unknown", |(name, _)| name)
}

/// Verifies `password` against a hash made by one of the Django hashers listed in the module
/// documentation, with Argon2's work in `memory`. Unknown formats, malformed hashes and costs
/// above the bounds return false.
fn verify_with(memory: &mut HashMemory, password: &str, django_hash: &str) -> bool {
    let Some((algorithm, encoded)) = django_hash.split_once('$') else {
        return false;
    };
    match algorithm {
        "pbkdf2_sha256" => verify_pbkdf2(Pbkdf2Digest::Sha256, password, django_hash),
        "pbkdf2_sha1" => verify_pbkdf2(Pbkdf2Digest::Sha1, password, django_hash),
        // The PHC string keeps its leading `$`.
        DJANGO_ARGON2_PREFIX => verify_argon2(memory, password, &django_hash[algorithm.len()..]),
        // Django hashes first, so that bcrypt does not cut passwords at 72 bytes, and passes
        // the SHA-256 digest to bcrypt as 64 lowercase hex digits.
        "bcrypt_sha256" => {
            let digest = format!("{:x}", Sha256::digest(password.as_bytes()));
            verify_bcrypt(digest.as_bytes(), encoded)
        }
        "bcrypt" => verify_bcrypt(password.as_bytes(), encoded),
        "scrypt" => verify_scrypt(password, django_hash),
        _ => false,
    }
}

#[derive(Clone, Copy)]
enum Pbkdf2Digest {
    Sha256,
    Sha1,
}

/// Verifies `<algorithm>$<iterations>$<salt>$<base64 hash>`. Django derives as many bytes as
/// the digest has (32 for SHA-256, 20 for SHA-1) from the UTF-8 password and salt, and accepts
/// only the exact string it would write, so this rebuilds that string and compares the two.
fn verify_pbkdf2(digest: Pbkdf2Digest, password: &str, stored: &str) -> bool {
    let mut parts = stored.splitn(4, '$');
    let (Some(algorithm), Some(iterations), Some(salt), Some(_)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Some(iterations) = parse_canonical::<u32>(iterations) else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return false;
    }

    let (password, salt_bytes) = (password.as_bytes(), salt.as_bytes());
    let derived = match digest {
        Pbkdf2Digest::Sha256 => {
            let mut out = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt_bytes, iterations, &mut out);
            BASE64.encode(out)
        }
        Pbkdf2Digest::Sha1 => {
            let mut out = [0u8; 20];
            pbkdf2::pbkdf2_hmac::<Sha1>(password, salt_bytes, iterations, &mut out);
            BASE64.encode(out)
        }
    };
    let expected = format!("{algorithm}${iterations}${salt}${derived}");
    expected.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Verifies a PHC string of any Argon2 variant, with the parameters it names. A string without
/// a `v=` part is Argon2 version 1.0, written before version 1.3 of the algorithm existed, and
/// the Argon2 reference library that Django calls through argon2-cffi reads it so too.
fn verify_argon2(memory: &mut HashMemory, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAX_ARGON2_M_COST || work > MAX_ARGON2_WORK {
        return false;
    }
    let (Ok(algorithm), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.salt,
        parsed.hash,
    ) else {
        return false;
    };
    let Ok(version) = Version::try_from(parsed.version.unwrap_or(Version::V0x10.into())) else {
        return false;
    };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };

    let mut out = vec![0u8; expected.len()];
    if argon2_into(
        memory,
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        &mut out,
    )
    .is_err()
    {
        return false;
    }
    out.as_slice().ct_eq(expected.as_bytes()).into()
}

/// Verifies a bcrypt hash (`$2b$<cost>$<salt and hash>`, also `$2a$` and `$2y$`). Passwords
/// longer than 72 bytes are cut to 72, as bcrypt libraries did when Django's `bcrypt$` hashes
/// were made; Django 5.2 with bcrypt 5.0 raises an error for them instead.
fn verify_bcrypt(password: &[u8], hash: &str) -> bool {
    let Ok(parts) = hash.parse::<bcrypt::HashParts>() else {
        return false;
    };
    if parts.get_cost() > MAX_BCRYPT_COST {
        return false;
    }
    // The crate compares the outputs in constant time.
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// Verifies `scrypt$<N>$<salt>$<r>$<p>$<base64 hash>`, Django's format, with a 64-byte hash of
/// the UTF-8 password and salt. Like [`verify_pbkdf2`] it compares the whole string that Django
/// would write.
fn verify_scrypt(password: &str, stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [algorithm, n, salt, r, p, _] = parts.as_slice() else {
        return false;
    };

    let (Some(n), Some(r), Some(p)) = (
        parse_canonical::<u64>(n),
        parse_canonical::<u32>(r),
        parse_canonical::<u32>(p),
    ) else {
        return false;
    };
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
        return false;
    }
    // In u128 none of these products overflow: N < 2^64 and r, p < 2^32.
    let (n128, r128, p128) = (u128::from(n), u128::from(r), u128::from(p));
    // OpenSSL's count: N + 2 blocks of 128 · r bytes for the work area, and p for the input.
    let memory = 128 * r128 * (n128 + 2) + 128 * r128 * p128;
    let work = n128 * r128 * p128;
    if memory > u128::from(MAX_SCRYPT_MEMORY) || work > u128::from(MAX_SCRYPT_WORK) {
        return false;
    }

    let Ok(log_n) = u8::try_from(n.trailing_zeros()) else {
        return false;
    };
    let Ok(params) = scrypt::Params::new(log_n, r, p, SCRYPT_HASH_LEN) else {
        return false;
    };
    let mut out = [0u8; SCRYPT_HASH_LEN];
    if scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut out).is_err() {
        return false;
    }

    let expected = format!("{algorithm}${n}${salt}${r}${p}${}", BASE64.encode(out));
    expected.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// Parses a number written as Django writes it (`%d`: no sign, no leading zeros). Django
/// rejects any other spelling because it compares whole hash strings, so rejecting it here
/// saves computing a hash that cannot match.
fn parse_canonical<T: std::str::FromStr + ToString>(text: &str) -> Option<T> {
    let number = text.parse::<T>().ok()?;
    (number.to_string() == text).then_some(number)
}

/// Django's unusable password: `!` followed by random characters, never matched by any input.
pub fn unusable_password() -> String {
    let mut random = [0u8; 30];
    OsRng.fill_bytes(&mut random);
    let text = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, random);
    format!("{UNUSABLE_PASSWORD_PREFIX}{text}")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    /// The password of the Django vectors below.
    const DJANGO_PASSWORD: &str = "Köln-lantern-42";

    /// Hashes of [`DJANGO_PASSWORD`] that Django 5.2.19 made with its default parameters, printed
    /// by tests/fixtures/django/print_test_vectors.py, which also checks each with Django's
    /// `check_password`.
    const DJANGO_HASHES: &[(&str, &str)] = &[
        (
            "pbkdf2_sha256",
            "pbkdf2_sha256$1000000$emJSnfxtrqB0lk32qym1Kx$wWhpH4sRaXL7uw4p3+y9lI8MMk5e7nx3xvVBeI+45zI=",
        ),
        (
            "pbkdf2_sha1",
            "pbkdf2_sha1$1000000$Vu3BUETpSWBsgyndgkcxfw$ARaVLGNNNb2ZIAAGUNV0NuVrA+w=",
        ),
        (
            "argon2id",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$Y3ZSeWpqZ1VIaVVJQ2dldWtzSG10Qw$5xYFc7P4xpdtQ1Oye1h0A3a98wUnEHQuJHmVL10uJ3s",
        ),
        (
            "bcrypt_sha256",
            "bcrypt_sha256$$2b$12$WPWCQAVMs1SvoS8vK4qYFuXT0BIqoAriSnLuWMl4MKAAnt.zab0Ui",
        ),
        (
            "bcrypt",
            "bcrypt$$2b$12$tl1l8UIPpuhbcOXxOqpxcuSZOdGhlS7Xreq7h..CvlmAT/6viFiYS",
        ),
        (
            "scrypt",
            "scrypt$16384$uhaINYIU2yOixpkL57kG08$8$5$3PKORh1Ja7dbfUVLTxZnzukYcbAmr9cPTrfNfxJ+qy9DYU0FerQG8Y972mSyALn6Jj0GrpB4vjQrGkPY9DcO9g==",
        ),
        // Made by the fixture's Argon2iPasswordHasher, Django's hasher with the Argon2i variant
        // and parameters of older Django versions.
        (
            "argon2i",
            "argon2$argon2i$v=19$m=512,t=2,p=2$ODFIQTA0OWZ5c085dEdqUk1aUTRLWA$AydiI1ScqzLpA+lXmoOBkNCCPyxmwI7bpRCarwNhEs4",
        ),
        // Argon2 version 1.0 without a `v=` part, as Argon2 libraries wrote it before version
        // 1.3 of the algorithm. Made by argon2-cffi 25.1 with version 0x10 and the `v=16` part
        // removed; Django's `check_password` accepts it.
        (
            "argon2i version 1.0",
            "argon2$argon2i$m=512,t=2,p=2$MjFNRHQxUnkxaG1uVHRDbmZRNmQ5RA$EcJpXeI9Y5dbstAdFoTxrg",
        ),
    ];

    /// Django's `bcrypt_sha256` hash of a 102-byte password, [`DJANGO_PASSWORD`] and a dash
    /// six times, made like [`DJANGO_HASHES`].
    const DJANGO_BCRYPT_SHA256_LONG: &str =
        "bcrypt_sha256$$2b$12$oTbSmX8OTiDtjdsfKAJBtuUx1c8FNq0JG6E2pSuEAwxT0.or2gF.q";

    fn django_hash(label: &str) -> &'static str {
        DJANGO_HASHES
            .iter()
            .find(|(name, _)| *name == label)
            .map(|(_, hash)| *hash)
            .expect("a vector with this label")
    }

    /// Replaces the last character of `hash` with another one of the same alphabet.
    fn tamper_last(hash: &str) -> String {
        let mut tampered = hash.trim_end_matches('=').to_owned();
        let last = tampered.pop().expect("non-empty hash");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        tampered.push_str(&hash[hash.trim_end_matches('=').len()..]);
        tampered
    }

    fn verify_blocking(password: &str, hash: &str) -> bool {
        verify_with(&mut HashMemory::default(), password, hash)
    }

    /// Runs `verify_blocking` and asserts that it returned within `limit`.
    fn verify_within(limit: Duration, password: &str, hash: &str) -> bool {
        let started = Instant::now();
        let verified = verify_blocking(password, hash);
        let elapsed = started.elapsed();
        assert!(elapsed < limit, "took {elapsed:?} on {hash}");
        verified
    }

    #[tokio::test]
    async fn hash_is_in_django_argon2_format() {
        let passwords = Passwords::new(1).expect("threads start");

        let hash = passwords
            .hash(secret("violet-lantern-88"))
            .await
            .expect("hash");

        assert!(
            hash.starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(hash.split('$').count(), 6);
    }

    /// The hashes made in a reused work area are the argon2 crate's own, in both directions.
    #[test]
    fn hashes_match_the_argon2_crate() {
        use argon2::{PasswordHasher, PasswordVerifier};

        let crate_argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params());
        let mut memory = HashMemory::default();
        let ours = hash_with(&mut memory, "violet-lantern-88").expect("hash");
        let salt = SaltString::generate(&mut OsRng);
        let theirs = crate_argon2
            .hash_password(b"violet-lantern-88", &salt)
            .expect("hash")
            .to_string();
        let parsed = PasswordHash::new(&ours[DJANGO_ARGON2_PREFIX.len()..]).expect("PHC string");

        assert!(crate_argon2
            .verify_password(b"violet-lantern-88", &parsed)
            .is_ok());
        assert!(crate_argon2
            .verify_password(b"violet-lantern-89", &parsed)
            .is_err());
        assert!(verify_with(
            &mut memory,
            "violet-lantern-88",
            &format!("argon2{theirs}")
        ));
        assert!(!verify_with(
            &mut memory,
            "violet-lantern-89",
            &format!("argon2{theirs}")
        ));
        assert!(memory.is_kept(), "the work area is kept for the next hash");
    }

    #[tokio::test]
    async fn right_password_verifies_and_wrong_does_not() {
        let passwords = Passwords::new(1).expect("threads start");
        let hash = passwords
            .hash(secret("violet-lantern-88"))
            .await
            .expect("hash");

        let right = passwords
            .verify(secret("violet-lantern-88"), Some(hash.clone()))
            .await;
        let wrong = passwords
            .verify(secret("violet-lantern-89"), Some(hash))
            .await;

        assert!(right.expect("verify"));
        assert!(!wrong.expect("verify"));
    }

    #[tokio::test]
    async fn unknown_user_and_unusable_password_never_verify() {
        let passwords = Passwords::new(1).expect("threads start");

        let unknown = passwords
            .verify(secret("anything"), None)
            .await
            .expect("verify");
        let unusable = passwords
            .verify(secret("anything"), Some(unusable_password()))
            .await
            .expect("verify");

        assert!(!unknown);
        assert!(!unusable);
    }

    #[tokio::test]
    async fn django_hashes_verify_through_passwords() {
        let passwords = Passwords::new(2).expect("threads start");

        for (label, hash) in DJANGO_HASHES {
            let right = passwords
                .verify(secret(DJANGO_PASSWORD), Some((*hash).to_owned()))
                .await
                .expect("verify");
            let wrong = passwords
                .verify(secret("Koln-lantern-42"), Some((*hash).to_owned()))
                .await
                .expect("verify");

            assert!(right, "{label}: the right password was rejected");
            assert!(!wrong, "{label}: a wrong password was accepted");
        }
    }

    #[test]
    fn tampered_django_hashes_do_not_verify() {
        for (label, hash) in DJANGO_HASHES {
            let tampered = tamper_last(hash);
            assert_ne!(&tampered, hash, "{label}");

            assert!(
                !verify_blocking(DJANGO_PASSWORD, &tampered),
                "{label}: a changed hash verified: {tampered}"
            );
        }
    }

    #[test]
    fn pbkdf2_changed_parameters_do_not_verify() {
        let hash = django_hash("pbkdf2_sha256");
        let fewer = hash.replace("$1000000$", "$999999$");
        let padded = hash.replace("$1000000$", "$01000000$");
        let plus = hash.replace("$1000000$", "$+1000000$");
        let other_digest = hash.replacen("pbkdf2_sha256", "pbkdf2_sha1", 1);

        assert!(!verify_blocking(DJANGO_PASSWORD, &fewer));
        // Django compares the whole string, so another spelling of the count fails there too.
        assert!(!verify_blocking(DJANGO_PASSWORD, &padded));
        assert!(!verify_blocking(DJANGO_PASSWORD, &plus));
        assert!(!verify_blocking(DJANGO_PASSWORD, &other_digest));
    }

    #[test]
    fn pbkdf2_matches_hashlib_vector() {
        // PBKDF2-HMAC-SHA256 of "password" with salt "salt" and 4096 iterations, as Python's
        // hashlib.pbkdf2_hmac computes it, in Django's format.
        let derived =
            hex_to_bytes("c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
        let hash = format!("pbkdf2_sha256$4096$salt${}", BASE64.encode(derived));

        assert!(verify_blocking("password", &hash));
        assert!(!verify_blocking("Password", &hash));
    }

    fn hex_to_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
            .collect()
    }

    #[test]
    fn django_pbkdf2_hash_verifies() {
        let hash = "pbkdf2_sha256$1000$hJ3kQv9Zt2XcWm8rNpL4aB$bcjFiEv01dGZnpY6kmoNX/4ppLvXcSHBHLQk6zdTeeE=";

        assert!(verify_blocking("violet-lantern-88-orbit", hash));
        assert!(!verify_blocking("violet-lantern-88-orbiT", hash));
        assert!(!verify_blocking(
            "violet-lantern-88-orbit",
            "pbkdf2_sha256$0$salt$AAAA"
        ));
        assert!(!verify_blocking(
            "violet-lantern-88-orbit",
            "pbkdf2_sha256$1000$salt"
        ));
        assert!(needs_rehash(hash));
    }

    #[test]
    fn bcrypt_sha256_hashes_long_passwords_whole() {
        let long = DJANGO_PASSWORD.to_owned() + "-";
        let long = long.repeat(6);
        assert_eq!(long.len(), 102);
        // Differs from `long` only after byte 72, which plain bcrypt would not read.
        let changed_at_end = format!("{}X", &long[..long.len() - 1]);

        assert!(verify_blocking(&long, DJANGO_BCRYPT_SHA256_LONG));
        assert!(!verify_blocking(&changed_at_end, DJANGO_BCRYPT_SHA256_LONG));
    }

    #[test]
    fn bcrypt_hash_is_not_a_bcrypt_sha256_hash() {
        let plain = django_hash("bcrypt");
        let sha256 = django_hash("bcrypt_sha256");
        let plain_as_sha256 = plain.replacen("bcrypt$", "bcrypt_sha256$", 1);
        let sha256_as_plain = sha256.replacen("bcrypt_sha256$", "bcrypt$", 1);

        assert!(!verify_blocking(DJANGO_PASSWORD, &plain_as_sha256));
        assert!(!verify_blocking(DJANGO_PASSWORD, &sha256_as_plain));
    }

    #[test]
    fn scrypt_changed_parameters_do_not_verify() {
        let hash = django_hash("scrypt");
        let other_n = hash.replacen("$16384$", "$8192$", 1);
        let other_p = hash.replacen("$8$5$", "$8$4$", 1);
        let extra_part = format!("{hash}$extra");
        let not_power_of_two = hash.replacen("$16384$", "$16383$", 1);

        assert!(!verify_blocking(DJANGO_PASSWORD, &other_n));
        assert!(!verify_blocking(DJANGO_PASSWORD, &other_p));
        assert!(!verify_blocking(DJANGO_PASSWORD, &extra_part));
        assert!(!verify_blocking(DJANGO_PASSWORD, &not_power_of_two));
    }

    #[test]
    fn costs_above_bounds_are_rejected_at_once() {
        let limit = Duration::from_secs(1);
        let pbkdf2 = django_hash("pbkdf2_sha256").replacen("$1000000$", "$4294967295$", 1);
        let pbkdf2_sha1 = django_hash("pbkdf2_sha1").replacen("$1000000$", "$10000001$", 1);
        let bcrypt = django_hash("bcrypt").replacen("$12$", "$31$", 1);
        let bcrypt_sha256 = django_hash("bcrypt_sha256").replacen("$12$", "$16$", 1);
        // 128 MiB of memory.
        let scrypt_memory = django_hash("scrypt").replacen("$16384$", "$1048576$", 1);
        // 16 MiB of memory, but 200 times the work of Django's default.
        let scrypt_work = django_hash("scrypt").replacen("$8$5$", "$8$1000$", 1);
        // 4 GiB of memory.
        let argon2_memory = django_hash("argon2id").replacen("m=102400", "m=4194304", 1);
        // 100 MiB, 1000 passes.
        let argon2_passes = django_hash("argon2id").replacen("t=2", "t=1000", 1);

        for hash in [
            &pbkdf2,
            &pbkdf2_sha1,
            &bcrypt,
            &bcrypt_sha256,
            &scrypt_memory,
            &scrypt_work,
            &argon2_memory,
            &argon2_passes,
        ] {
            assert!(!verify_within(limit, DJANGO_PASSWORD, hash), "{hash}");
        }
    }

    #[test]
    fn unknown_and_malformed_hashes_never_verify() {
        for hash in [
            "",
            "$",
            "argon2",
            "argon2$",
            "pbkdf2_sha256",
            "pbkdf2_sha256$$$",
            "bcrypt$",
            "bcrypt_sha256$$2b$12$",
            "scrypt$16384$salt$8$5$",
            // Hashers that Django still has but that the application does not accept.
            "md5$salt$2b4ab4ba0e2a1a3a5c9c0e5fb6e2f3c1",
            "unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99",
            "sha1$salt$0123456789abcdef0123456789abcdef01234567",
            // A bare PHC string, without Django's `argon2` prefix.
            "$argon2id$v=19$m=512,t=2,p=2$ODFIQTA0OWZ5c085dEdqUk1aUTRLWA$AydiI1ScqzLpA+lXmoOBkNCCPyxmwI7bpRCarwNhEs4",
        ] {
            assert!(!verify_blocking(DJANGO_PASSWORD, hash), "{hash:?}");
        }
    }

    #[tokio::test]
    async fn only_current_argon2id_needs_no_rehash() {
        let hash = Passwords::new(1)
            .expect("threads start")
            .hash(secret("violet-lantern-88"))
            .await
            .expect("hash");
        // Argon2id with this application's parameters but a 16-byte output.
        let short_output =
            "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

        assert!(!needs_rehash(&hash));
        assert!(!needs_rehash(&unusable_password()));
        assert!(needs_rehash(short_output));
        for (label, django) in DJANGO_HASHES {
            assert!(needs_rehash(django), "{label}");
        }
        assert!(needs_rehash("md5$salt$2b4ab4ba0e2a1a3a5c9c0e5fb6e2f3c1"));
    }

    #[test]
    fn hasher_name_is_the_algorithm() {
        assert_eq!(hasher_name(django_hash("pbkdf2_sha256")), "pbkdf2_sha256");
        assert_eq!(hasher_name(django_hash("argon2i")), "argon2");
        assert_eq!(hasher_name(django_hash("bcrypt_sha256")), "bcrypt_sha256");
        assert_eq!(hasher_name(&unusable_password()), "unusable");
        assert_eq!(hasher_name("plain"), "unknown");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_refuses_at_once() {
        let dummy = hash_blocking("dummy-password-for-test").expect("hash");
        let passwords = Passwords::with_queue(1, 2, dummy).expect("threads start");

        let attempts = (0..8).map(|_| {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.hash(secret("violet-lantern-88")).await })
        });
        let mut busy = 0;
        let mut hashed = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            match attempt.await.expect("task") {
                Ok(_) => hashed += 1,
                Err(PasswordError::Busy) => busy += 1,
                Err(other) => panic!("unexpected error: {other}"),
            }
        }

        assert!(
            hashed >= 3,
            "one running and two waiting must finish, got {hashed}"
        );
        assert!(busy >= 1, "a full queue must refuse");
        assert_eq!(hashed + busy, 8);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn check_room_rejects_when_full() {
        let passwords = Passwords::with_queue(1, 1, unusable_password()).expect("threads start");

        let first = passwords.occupy_one_thread().await;
        let room_with_one_waiting = passwords.check_room();
        let second = passwords.occupy_one_thread().await;
        let room_when_full = passwords.check_room();
        drop((first, second));

        assert!(room_with_one_waiting.is_ok());
        assert!(matches!(room_when_full, Err(PasswordError::Busy)));
    }

    #[test]
    fn unusable_password_starts_with_bang() {
        assert!(unusable_password().starts_with('!'));
        assert_ne!(unusable_password(), unusable_password());
    }
}
