//! A stable sort for short lists.
//!
//! Why not `slice::sort_by`: the standard stable sort is about 3 KB of wasm
//! per element type.

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
    fn sorts_stably() {
        let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        sort_small(&mut v, |a, b| a.0 < b.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        let mut e: [u8; 0] = [];
        sort_small(&mut e, |a, b| a < b);
    }
}
