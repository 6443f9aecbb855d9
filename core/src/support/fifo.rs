//! A first-in first-out queue on a `Vec`: the few operations the SDK's
//! queues need, without `VecDeque`'s ring buffer (its growth and slicing
//! code is instantiated for each element type, several KB of wasm in all).
//!
//! `pop_front` moves the rest down, which is cheap for the short queues it
//! is used for (effects, store operations, reports); the long ones (the
//! batcher's events) take many from the front at once with
//! [`Fifo::take_front`].

/// A first-in first-out queue.
#[derive(Clone, Debug, PartialEq)]
pub struct Fifo<T>(Vec<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(Vec::new())
    }
}

impl<T> Fifo<T> {
    /// Empty.
    pub const fn new() -> Fifo<T> {
        Fifo(Vec::new())
    }

    /// Adds at the back.
    pub fn push_back(&mut self, v: T) {
        self.0.push(v);
    }

    /// Adds at the front.
    pub fn push_front(&mut self, v: T) {
        self.0.insert(0, v);
    }

    /// Takes the front.
    pub fn pop_front(&mut self) -> Option<T> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0.remove(0))
        }
    }

    /// Takes the first `n` (or all there are), in order.
    pub fn take_front(&mut self, n: usize) -> std::vec::Drain<'_, T> {
        let n = n.min(self.0.len());
        self.0.drain(..n)
    }

    /// The front.
    pub fn front(&self) -> Option<&T> {
        self.0.first()
    }

    /// The back.
    pub fn back(&self) -> Option<&T> {
        self.0.last()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// None.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Oldest first, mutable.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }

    /// Keeps what `f` accepts.
    pub fn retain(&mut self, f: impl FnMut(&T) -> bool) {
        self.0.retain(f);
    }

    /// The `i`th, oldest first.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.0.get(i)
    }

    /// Removes the `i`th.
    pub fn remove(&mut self, i: usize) -> Option<T> {
        (i < self.0.len()).then(|| self.0.remove(i))
    }

    /// Everything, oldest first, emptying it.
    pub fn drain(&mut self) -> std::vec::Drain<'_, T> {
        self.0.drain(..)
    }
}

impl<T> FromIterator<T> for Fifo<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Fifo(iter.into_iter().collect())
    }
}

impl<'a, T> IntoIterator for &'a Fifo<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
