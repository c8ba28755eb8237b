//! `Exclusive<T>`: a value that is `Sync` because it is only ever reached through `&mut`.
//!
//! A `Response` holds a connection (`Box<dyn Transport>`, `Send` but not `Sync`) for
//! body handles and streamed bodies. Nothing reads those through `&Response`, so sharing
//! a `&Response` between threads can never touch them. Without `unsafe` the way to say
//! so is a `Mutex`, which is `Sync` for any `Send` value; it is never locked (`get_mut`
//! and `into_inner` need no lock), so it costs nothing at run time and cannot be poisoned.

use std::sync::{Mutex, PoisonError};

/// A value reachable only by its owner; `Sync` whenever `T: Send`.
pub(crate) struct Exclusive<T>(Mutex<T>);

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    /// The value, through the owner's `&mut` (no locking).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value itself.
    pub(crate) fn into_inner(self) -> T {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> std::fmt::Debug for Exclusive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exclusive(..)")
    }
}
