//! The fast path's per-thread caches.

use crate::event::Interner;
use crate::input::template::PlanCache;

/// The fast path's caches of the chunk a thread is reading, kept by the thread from one chunk to
/// the next and emptied for each: a fresh set per chunk made the allocator set up new pages for
/// every chunk (15% of a read of real chunks, issue 24). The interner is bounded and its strings
/// are any chunk's, as are plans by shape (bounded too); plans by offset and strings are emptied,
/// being the chunk's own.
#[derive(Default)]
pub(super) struct ChunkCache {
    pub(super) plans: PlanCache,
    pub(super) interner: Interner,
}

thread_local! {
    static CHUNK_CACHE: std::cell::Cell<Option<Box<ChunkCache>>> = const { std::cell::Cell::new(None) };
}

impl ChunkCache {
    /// This thread's cache, emptied; given back when the guard drops.
    pub(super) fn take() -> CacheGuard {
        let mut cache = CHUNK_CACHE.with(|c| c.take()).unwrap_or_default();
        cache.plans.clear();
        CacheGuard(cache)
    }
}

pub(super) struct CacheGuard(Box<ChunkCache>);

impl std::ops::Deref for CacheGuard {
    type Target = ChunkCache;
    fn deref(&self) -> &ChunkCache {
        &self.0
    }
}

impl std::ops::DerefMut for CacheGuard {
    fn deref_mut(&mut self) -> &mut ChunkCache {
        &mut self.0
    }
}

impl Drop for CacheGuard {
    fn drop(&mut self) {
        let cache = std::mem::take(&mut self.0);
        CHUNK_CACHE.with(|c| c.set(Some(cache)));
    }
}
