//! A bounded pool of scoped worker threads over a slice of jobs. Results come back to the
//! calling thread as they finish (for progress output) and in input order at the end. A
//! panicking job becomes a result of its own via `on_panic`: one bad company must never
//! take the others down with it.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `work` on every item with at most `concurrency` threads. `on_result` is called on
/// the calling thread for each finished item, in completion order.
pub fn run_pool<T, R, W, P, D>(
    items: &[T],
    concurrency: usize,
    work: W,
    on_panic: P,
    mut on_result: D,
) -> Vec<R>
where
    T: Sync,
    R: Send,
    W: Fn(&T) -> R + Sync,
    P: Fn(&T, String) -> R + Sync,
    D: FnMut(&T, &R),
{
    let threads = concurrency.clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, R)>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, work, on_panic) = (&next, &work, &on_panic);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = catch_unwind(AssertUnwindSafe(|| work(item)))
                        .unwrap_or_else(|panic| on_panic(item, panic_message(&panic)));
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, result) in rx {
            on_result(&items[i], &result);
            results[i] = Some(result);
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every job reports exactly once"))
        .collect()
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_reports_once_in_order_even_when_one_panics() {
        let items: Vec<u32> = (0..100).collect();
        let mut seen = 0;
        let results = run_pool(
            &items,
            3,
            |&i| {
                if i == 42 {
                    panic!("bad company {i}");
                }
                Ok(i * 2)
            },
            |&i, msg| Err(format!("{i}: {msg}")),
            |_, _| seen += 1,
        );
        assert_eq!(seen, 100);
        assert_eq!(results[41], Ok(82));
        assert_eq!(results[43], Ok(86));
        assert_eq!(results[42], Err("42: panicked: bad company 42".to_string()));
    }
}
