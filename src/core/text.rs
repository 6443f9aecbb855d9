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

/// Sorts a short slice, stably, by `less` (insertion sort).
///
/// Why not `slice::sort_by`: the standard stable sort is about 3 KB of wasm
/// per element type. The lists sorted with this are short (object keys, a
/// slot's rules), where insertion sort is as fast.
pub fn sort_small<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
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

    #[test]
    fn sorts_stably() {
        let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        sort_small(&mut v, |a, b| a.0 < b.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        let mut e: [u8; 0] = [];
        sort_small(&mut e, |a, b| a < b);
    }
}
