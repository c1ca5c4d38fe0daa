// progressd: the server's budget for answers kept in memory for clients
// that have not read them yet. Each open connection may hold one such
// answer until its response deadline; without a budget, fifty clients that
// never read a 43 MB page made the server hold over 2 GB.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The answers that threads of their own are still sending, and the bytes
/// they hold, against a limit on those bytes for the whole server.
#[derive(Debug)]
pub(crate) struct UnsentBudget {
    answers: AtomicUsize,
    bytes: AtomicUsize,
    max_bytes: usize,
}

impl UnsentBudget {
    /// A budget of `max_bytes` (None: no limit).
    pub(crate) fn new(max_bytes: Option<usize>) -> UnsentBudget {
        UnsentBudget {
            answers: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            max_bytes: max_bytes.unwrap_or(usize::MAX),
        }
    }

    /// Answers being sent now.
    pub(crate) fn answers(&self) -> usize {
        self.answers.load(Ordering::SeqCst)
    }

    /// Bytes those answers hold now.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// The limit on `bytes`.
    pub(crate) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Takes `bytes` from the budget for one more answer; None, and
    /// nothing taken, when they do not fit.
    pub(crate) fn take(self: &Arc<Self>, bytes: usize) -> Option<BudgetShare> {
        if !self.take_bytes(bytes) {
            return None;
        }
        self.answers.fetch_add(1, Ordering::SeqCst);
        Some(BudgetShare {
            budget: Arc::clone(self),
            bytes,
        })
    }

    fn take_bytes(&self, bytes: usize) -> bool {
        self.bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                held.checked_add(bytes).filter(|&n| n <= self.max_bytes)
            })
            .is_ok()
    }
}

/// One answer's share of the budget: it counts as an answer being sent,
/// holding `bytes`, until it is dropped, whichever way its sending ends
/// (sent, failed, timed out, or a panic).
#[derive(Debug)]
pub(crate) struct BudgetShare {
    budget: Arc<UnsentBudget>,
    bytes: usize,
}

impl BudgetShare {
    /// The bytes this share holds.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes `more` bytes too; false, and nothing taken, when they do not
    /// fit.
    pub(crate) fn grow(&mut self, more: usize) -> bool {
        let taken = self.budget.take_bytes(more);
        if taken {
            self.bytes += more;
        }
        taken
    }

    /// Gives back all but `bytes` (no more than it holds).
    pub(crate) fn shrink_to(&mut self, bytes: usize) {
        let spare = self.bytes.saturating_sub(bytes);
        self.budget.bytes.fetch_sub(spare, Ordering::SeqCst);
        self.bytes -= spare;
    }
}

impl Drop for BudgetShare {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.bytes, Ordering::SeqCst);
        self.budget.answers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::UnsentBudget;
    use std::sync::Arc;

    #[test]
    fn shares_past_the_budget_are_refused_and_dropped_shares_given_back() {
        let budget = Arc::new(UnsentBudget::new(Some(100)));
        let mut first = budget.take(60).expect("fits");
        assert!(budget.take(41).is_none(), "past the budget");
        assert_eq!((budget.answers(), budget.bytes()), (1, 60));
        let second = budget.take(40).expect("fits exactly");
        assert!(!first.grow(1), "past the budget");
        assert_eq!((budget.answers(), budget.bytes()), (2, 100));
        first.shrink_to(10);
        assert_eq!((first.bytes(), budget.bytes()), (10, 50));
        assert!(first.grow(50));
        drop(second);
        assert_eq!((budget.answers(), budget.bytes()), (1, 60));
        drop(first);
        assert_eq!((budget.answers(), budget.bytes()), (0, 0));
        // Without a limit, nothing is refused and nothing overflows.
        let unlimited = Arc::new(UnsentBudget::new(None));
        let _all = unlimited.take(usize::MAX).expect("no limit");
        assert!(unlimited.take(1).is_none(), "would overflow the count");
    }
}
