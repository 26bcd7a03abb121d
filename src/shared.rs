//! One copy of each repeated value for as long as it is kept: computer and provider names within a
//! file, field values and hit lists across a whole run. Every set is bounded, because a hostile or
//! merely unusual log can make every value new: past the bound, or for a value its owner does not
//! want kept, each caller gets a copy of its own, as it would without sharing.

use rustc_hash::FxHashSet;
use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

pub struct Shared<T: ?Sized> {
    set: FxHashSet<Arc<T>>,
    max: usize,
}

impl<T: ?Sized + Hash + Eq> Shared<T> {
    pub fn bounded(max: usize) -> Self {
        Shared {
            set: FxHashSet::default(),
            max,
        }
    }

    /// The kept copy of `value`; otherwise `value` itself, kept when there is room and `keep`
    /// allows it.
    pub fn share<V>(&mut self, value: V, keep: impl FnOnce(&T) -> bool) -> Arc<T>
    where
        V: Borrow<T> + Into<Arc<T>>,
    {
        if let Some(found) = self.set.get(value.borrow()) {
            return found.clone();
        }
        let value: Arc<T> = value.into();
        if self.set.len() < self.max && keep(&value) {
            self.set.insert(value.clone());
        }
        value
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_bounded_and_only_what_is_wanted() {
        let mut shared: Shared<str> = Shared::bounded(100);
        let a = shared.share("MSExchangeIS", |_| true);
        let b = shared.share("MSExchangeIS", |_| true);
        assert!(Arc::ptr_eq(&a, &b));

        let refused = |v: &str| v.len() < 10;
        let l1 = shared.share("a long value", refused);
        let l2 = shared.share("a long value", refused);
        assert_eq!(l1, l2);
        assert!(!Arc::ptr_eq(&l1, &l2), "a refused value is not kept");

        for i in 0..150 {
            let v = shared.share(format!("v{i}").as_str(), |_| true);
            assert_eq!(&*v, format!("v{i}"));
        }
        assert_eq!(shared.len(), 100);
        let past = shared.share("v149", |_| true);
        assert!(!Arc::ptr_eq(&past, &shared.share("v149", |_| true)));

        let mut lists: Shared<[u32]> = Shared::bounded(10);
        let x = lists.share(vec![1, 2, 3], |_| true);
        assert!(Arc::ptr_eq(&x, &lists.share(vec![1, 2, 3], |_| true)));
    }
}
