//! A fixed set of threads for password hashing, one per core, each reusing its own Argon2
//! memory.
//!
//! An Argon2id hash with this application's parameters fills 19 MiB. Allocated afresh for each
//! hash on tokio's blocking pool, those blocks made glibc's heaps grow by gigabytes under log-in
//! load, and every hash paid to fault its pages in (docs/benchmarks.md has the measurements).
//! Here each thread keeps one work area while log-ins come in, so memory is bounded by the
//! number of threads. A thread gives its area back to the system after [`RELEASE_AFTER`] without
//! work, so an idle server returns to its size at start.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Block;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

/// How long a thread keeps its work area without a hash to compute.
pub const RELEASE_AFTER: Duration = Duration::from_secs(10);

/// Blocks of 1 KiB that each thread keeps: the application's own m = 19,456 KiB. Hashes that
/// need more (Django's Argon2 default is 100 MiB) get a work area of their own, freed at once.
pub const KEPT_BLOCKS: usize = 19_456;

/// The capacity reserved for a kept work area, in blocks: 33 MiB, above the 32 MiB that glibc's
/// malloc raises its `mmap` threshold to at most on 64-bit systems (mallopt(3),
/// `M_MMAP_THRESHOLD`). glibc serves an allocation that large with a mapping of its own and
/// unmaps it when it is freed, so releasing it returns the memory to the system and does not
/// raise the threshold. Only the first [`KEPT_BLOCKS`] blocks are ever written, so only those
/// 19 MiB become resident.
const RESERVED_BLOCKS: usize = 33 * 1024;

/// The work area of one hashing thread.
#[derive(Default)]
pub struct HashMemory {
    blocks: Vec<Block>,
}

impl HashMemory {
    /// Runs `hash` with `count` zeroed-or-reused blocks. Argon2 overwrites every block it reads
    /// before reading it, so a block left over from another hash leaks nothing into this one.
    pub fn with_blocks<R>(&mut self, count: usize, hash: impl FnOnce(&mut [Block]) -> R) -> R {
        if count > KEPT_BLOCKS {
            let mut own = vec![Block::default(); count];
            return hash(&mut own);
        }
        if self.blocks.len() < KEPT_BLOCKS {
            let mut blocks = Vec::with_capacity(RESERVED_BLOCKS);
            blocks.resize(KEPT_BLOCKS, Block::default());
            self.blocks = blocks;
        }
        hash(&mut self.blocks[..count])
    }

    fn release(&mut self) {
        self.blocks = Vec::new();
    }

    /// Returns whether the work area is allocated now.
    pub fn is_kept(&self) -> bool {
        !self.blocks.is_empty()
    }
}

type Job = Box<dyn FnOnce(&mut HashMemory) + Send>;

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("too many password checks are waiting already")]
    Busy,
    #[error("the thread hashing a password failed")]
    Failed,
}

/// A handle to the hashing threads. The threads stop when the last handle is dropped.
#[derive(Clone)]
pub struct HashWorkers {
    jobs: Sender<Job>,
    /// Jobs running or waiting now, and the most there may be.
    admitted: Arc<AtomicUsize>,
    limit: usize,
    rejections: Arc<Rejections>,
}

/// Counts jobs rejected because the queue was full, and logs the count at most once per
/// [`REJECTIONS_LOGGED_EVERY`], so that a flood of log-ins does not flood the log too.
#[derive(Default)]
struct Rejections {
    count: AtomicU64,
    last_logged: Mutex<Option<Instant>>,
}

const REJECTIONS_LOGGED_EVERY: Duration = Duration::from_secs(10);

impl Rejections {
    fn record(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let Ok(mut last_logged) = self.last_logged.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last_logged.is_some_and(|at| now.duration_since(at) < REJECTIONS_LOGGED_EVERY) {
            return;
        }
        *last_logged = Some(now);
        let rejected = self.count.swap(0, Ordering::Relaxed);
        tracing::warn!(
            rejected,
            "the password hashing queue was full, so requests were rejected with 503"
        );
    }
}

/// One admitted job. Dropping it makes room for the next, whether the job finished, was skipped
/// or never ran.
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashWorkers {
    /// Starts `threads` threads, with room for `queue` jobs waiting for one of them.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, waiting) = crossbeam_channel::unbounded::<Job>();
        for number in 0..threads {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{number}"))
                .spawn(move || work(&waiting))?;
        }
        Ok(HashWorkers {
            jobs,
            admitted: Arc::new(AtomicUsize::new(0)),
            limit: threads + queue,
            rejections: Arc::default(),
        })
    }

    /// Returns how many jobs are running or waiting now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::SeqCst)
    }

    /// Returns [`WorkError::Busy`] when the queue is full now, so that a request can be
    /// rejected before it does other work. A later [`HashWorkers::run`] may still find the
    /// queue full.
    pub fn check_room(&self) -> Result<(), WorkError> {
        if self.admitted.load(Ordering::SeqCst) >= self.limit {
            self.rejections.record();
            return Err(WorkError::Busy);
        }
        Ok(())
    }

    /// Runs `job` on a hashing thread and waits for its result, or returns
    /// [`WorkError::Busy`] at once when the queue is full. A job whose caller has gone away
    /// (the client closed the connection) is skipped when its turn comes.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        if self.admitted.fetch_add(1, Ordering::SeqCst) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::SeqCst);
            self.rejections.record();
            return Err(WorkError::Busy);
        }
        let admission = Admission(Arc::clone(&self.admitted));

        let (reply, result) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |memory| {
            let _admission = admission;
            if reply.is_closed() {
                return;
            }
            let _entered = span.enter();
            let _ = reply.send(job(memory));
        });

        // Each thread keeps a receiver until every handle is dropped, and jobs run under
        // `catch_unwind`, so a failed send is not expected while `self` exists. The unsent job
        // is then dropped with its admission.
        self.jobs.send(job).map_err(|_| WorkError::Failed)?;
        result.await.map_err(|_| WorkError::Failed)
    }
}

fn work(jobs: &Receiver<Job>) {
    let mut memory = HashMemory::default();
    loop {
        match jobs.recv_timeout(RELEASE_AFTER) {
            Ok(job) => {
                // A panic drops the job's reply, which its caller sees as `WorkError::Failed`.
                // The thread carries on with a fresh work area.
                if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory))).is_err() {
                    tracing::error!("a password hash panicked");
                    memory = HashMemory::default();
                }
            }
            Err(RecvTimeoutError::Timeout) => memory.release(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_kept_for_fitting_hashes() {
        let mut memory = HashMemory::default();

        let small = memory.with_blocks(8, |blocks| blocks.len());
        assert_eq!(small, 8);
        assert!(memory.is_kept());

        memory.release();
        let large = memory.with_blocks(KEPT_BLOCKS + 1, |blocks| blocks.len());
        assert_eq!(large, KEPT_BLOCKS + 1);
        assert!(!memory.is_kept(), "a larger work area is not kept");
    }

    #[tokio::test]
    async fn workers_survive_panicking_job() {
        let workers = HashWorkers::start(1, 4).expect("threads start");

        let failed = workers.run(|_| -> u8 { panic!("test panic") }).await;
        let next = workers.run(|_| 7).await;

        assert!(matches!(failed, Err(WorkError::Failed)));
        assert_eq!(next.expect("the thread still runs"), 7);
    }

    #[tokio::test]
    async fn workers_skip_abandoned_jobs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        let workers = HashWorkers::start(1, 4).expect("threads start");
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let ran = Arc::new(AtomicUsize::new(0));

        // Occupy the only thread until `release`, then queue a job and drop its caller.
        let busy = tokio::spawn({
            let workers = workers.clone();
            async move { workers.run(move |_| hold.recv().ok()).await }
        });
        let counter = Arc::clone(&ran);
        let abandoned = tokio::spawn({
            let workers = workers.clone();
            async move {
                workers
                    .run(move |_| counter.fetch_add(1, Ordering::SeqCst))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        abandoned.abort();
        let _ = abandoned.await;
        release.send(()).expect("the first job waits");
        busy.await.expect("task").expect("job");
        let after = workers.run(|_| ()).await;

        assert!(after.is_ok());
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the abandoned job ran");
    }
}
