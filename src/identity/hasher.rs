//! Dedicated threads for password hashing, run at a lower CPU priority (nice 10).
//!
//! An argon2 hash is ~18 ms of pure CPU. On the blocking pool it competes as an equal with
//! the request workers, and on a small machine every login then stretches the latency of
//! the reads running beside it. At nice 10 the scheduler lets request threads preempt it;
//! hashing still uses all the CPU they leave idle.

use std::sync::Mutex;
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

pub struct Hasher {
    jobs: Mutex<mpsc::Sender<Job>>,
}

/// The nice value of hashing threads.
const NICE: libc::c_int = 10;

impl Hasher {
    /// Starts `threads` hashing threads.
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("silo-hash-{i}"))
                .spawn(move || {
                    // SAFETY: setpriority on this thread's own id; failure only means the
                    // thread keeps the default priority.
                    unsafe {
                        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                        libc::setpriority(libc::PRIO_PROCESS, tid, NICE);
                    }
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // The app is gone.
                        }
                    }
                })
                .expect("spawning a hashing thread");
        }
        Hasher {
            jobs: Mutex::new(tx),
        }
    }

    /// Runs `f` on a hashing thread and waits for its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        });
        self.jobs.lock().ok()?.send(job).ok()?;
        result.await.ok()?.ok()
    }
}
