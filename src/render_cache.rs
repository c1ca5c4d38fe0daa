//! A small bounded cache of rendered charts, keyed by their ETag: twenty
//! people watching one job cost one render per change of the job.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Most renders kept.
const MAX_ENTRIES: usize = 32;
/// Largest render kept, in bytes; bigger ones are drawn each time.
const MAX_ENTRY_BYTES: usize = 4 * 1024 * 1024;

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
        if entries.len() >= MAX_ENTRIES {
            entries.pop_front();
        }
        entries.push_back((etag, png));
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
    }
}
