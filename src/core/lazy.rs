//! A box allocated on first mutable use: state most servents never need (query routing
//! tables, searches, held walkers, dynamic queries) costs one pointer until it is used.
//! Reads before that see a shared empty value.

use std::ops::{Deref, DerefMut};

/// State with a shared empty value for reads before the first write.
pub(crate) trait Empty: Default + Sync + 'static {
    /// The value every unallocated [`Lazy`] reads as.
    const EMPTY: &'static Self;
}

/// `T`, boxed when first written (through `DerefMut`); reads before that see `T::EMPTY`.
/// Calls that only clean up should use [`Lazy::existing_mut`], which never allocates.
#[derive(Debug, Default)]
pub(crate) struct Lazy<T>(Option<Box<T>>);

impl<T> Lazy<T> {
    /// The state if it was ever written, without allocating it.
    pub(crate) fn existing_mut(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }

    /// Whether the state was allocated.
    pub(crate) fn is_allocated(&self) -> bool {
        self.0.is_some()
    }
}

impl<T: Empty> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or(T::EMPTY)
    }
}

impl<T: Empty> DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Counts(Vec<u32>);

    impl Empty for Counts {
        const EMPTY: &'static Counts = &Counts(Vec::new());
    }

    #[test]
    fn reads_do_not_allocate_and_writes_do() {
        let mut l: Lazy<Counts> = Lazy::default();
        assert!((*l).0.is_empty());
        assert!(!l.is_allocated());
        assert!(l.existing_mut().is_none());
        (*l).0.push(3);
        assert!(l.is_allocated());
        assert_eq!(l.existing_mut().map(|c| c.0.len()), Some(1));
    }
}
