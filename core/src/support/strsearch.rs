//! Substring search for code that ships in the wasm.
//!
//! Why not `str::contains(&str)`, `find(&str)` or `split_once(&str)`: they
//! use `core`'s two-way searcher, whose code carries panicking slice paths
//! and with them `char`'s `Debug` formatting: about 5 KB of wasm for the
//! short strings the SDK searches (media names, URLs). A plain byte window
//! search is a few dozen bytes and fast enough here. Searching for a `char`
//! (`find('/')`) is fine as it is.

/// Byte offset of the first `needle` in `hay`.
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(0);
    }
    // A match of valid UTF-8 starts on a char boundary.
    hay.as_bytes().windows(n.len()).position(|w| w == n)
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// `hay` split around the first `needle`.
pub fn split_once<'a>(hay: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let i = find(hay, needle)?;
    Some((hay.get(..i)?, hay.get(i + needle.len()..)?))
}

/// Searching for one `char` (or a `char` predicate) is cheap: the two-way
/// searcher is only for string needles. These are the only char searches
/// the core uses, so that clippy can refuse the `&str` ones everywhere else
/// (`clippy.toml`).
pub trait CharSearch {
    /// `split_once` around the first `c`.
    fn split_at_char(&self, c: char) -> Option<(&str, &str)>;
    /// The byte offset of the first `c`.
    fn find_char(&self, c: char) -> Option<usize>;
    /// Whether some char satisfies `f` (or equals a given char).
    fn has_char(&self, f: impl FnMut(char) -> bool) -> bool;
}

#[allow(clippy::disallowed_methods)]
impl CharSearch for str {
    fn split_at_char(&self, c: char) -> Option<(&str, &str)> {
        self.split_once(c)
    }

    fn find_char(&self, c: char) -> Option<usize> {
        self.find(c)
    }

    fn has_char(&self, f: impl FnMut(char) -> bool) -> bool {
        self.contains(f)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // std is the oracle
mod tests {
    use super::*;

    #[test]
    fn finds_like_std() {
        for (h, n) in [
            ("https://x", "://"),
            ("", ""),
            ("abc", ""),
            ("a", "ab"),
            ("ééé€x", "€x"),
            ("cpc", "cp"),
            ("xx", "y"),
        ] {
            assert_eq!(find(h, n), h.find(n), "{h:?} {n:?}");
            assert_eq!(split_once(h, n), h.split_once(n), "{h:?} {n:?}");
            assert_eq!(contains(h, n), h.contains(n));
        }
    }
}
