//! A small bounded cache of rendered charts, keyed by their ETag: twenty
//! people watching one job cost one render per change of the job.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Most renders kept.
const MAX_ENTRIES: usize = 32;
/// Most bytes kept in all; the oldest renders go first past it.
const MAX_TOTAL_BYTES: usize = 24 * 1024 * 1024;
/// Largest render kept, in bytes; bigger ones are drawn each time.
const MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;

/// Recent renders, newest last.
#[derive(Default)]
pub struct RenderCache {
    entries: Mutex<VecDeque<(String, Arc<Vec<u8>>)>>,
}

impl RenderCache {
    /// The render with this ETag, if it is still kept.
    pub fn get(&self, etag: &str) -> Option<Arc<Vec<u8>>> {
        // A poisoned lock means a panic mid-update of a plain list; the list
        // is still usable.
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .find(|(tag, _)| tag == etag)
            .map(|(_, png)| Arc::clone(png))
    }

    /// Keeps a render, dropping the oldest past the limit.
    pub fn put(&self, etag: String, png: Arc<Vec<u8>>) {
        if png.len() > MAX_ENTRY_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(tag, _)| *tag != etag);
        entries.push_back((etag, png));
        let mut total: usize = entries.iter().map(|(_, png)| png.len()).sum();
        while entries.len() > MAX_ENTRIES || total > MAX_TOTAL_BYTES {
            match entries.pop_front() {
                Some((_, oldest)) => total -= oldest.len(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_entries() {
        let cache = RenderCache::default();
        for i in 0..(MAX_ENTRIES + 3) {
            cache.put(format!("e{i}"), Arc::new(vec![i as u8]));
        }
        assert!(cache.get("e0").is_none());
        assert!(cache.get("e2").is_none());
        assert_eq!(cache.get("e3").as_deref(), Some(&vec![3u8]));
        assert_eq!(
            cache.get(&format!("e{}", MAX_ENTRIES + 2)).map(|p| p[0]),
            Some((MAX_ENTRIES + 2) as u8)
        );
        cache.put("big".into(), Arc::new(vec![0; MAX_ENTRY_BYTES + 1]));
        assert!(cache.get("big").is_none());
        // The byte budget: four of the largest renders do not fit together.
        for i in 0..4 {
            cache.put(format!("large{i}"), Arc::new(vec![0; MAX_ENTRY_BYTES]));
        }
        assert!(cache.get("large0").is_none());
        assert!((1..4).all(|i| cache.get(&format!("large{i}")).is_some()));
    }
}
