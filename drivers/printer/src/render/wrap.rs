//! Word wrapping of encoded text (one byte = one printed column).
//!
//! Wrapping works on the encoded bytes, not on the Unicode text, because a replacement can
//! be wider than the character it replaces (`€` → `EUR` on PC852).

/// The lines of `text` wrapped at `width` columns.
///
/// Breaks at spaces (which are dropped at the break); a word longer than a line is broken
/// hard. Leading spaces of the text are kept (indentation), trailing ones dropped (they
/// would push centered or right-aligned text off its place). Empty text is one empty line.
pub(crate) fn wrap(text: &[u8], width: usize) -> Lines<'_> {
    Lines {
        rest: text,
        width: width.max(1),
        first: true,
    }
}

/// Iterator returned by [`wrap`].
pub(crate) struct Lines<'a> {
    rest: &'a [u8],
    width: usize,
    first: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if !self.first {
            // Spaces at a break belong to neither line.
            let skip = self.rest.iter().take_while(|&&b| b == b' ').count();
            self.rest = &self.rest[skip..];
            if self.rest.is_empty() {
                return None;
            }
        }
        self.first = false;

        let rest = self.rest;
        if rest.len() <= self.width {
            self.rest = &[];
            return Some(trim_end(rest));
        }
        // A space at index `width` is a perfect break: the line is exactly full.
        let window = &rest[..=self.width];
        let indent = rest.iter().take_while(|&&b| b == b' ').count();
        let cut = match window.iter().rposition(|&b| b == b' ') {
            Some(space) if space > indent => space,
            _ => self.width,
        };
        self.rest = &rest[cut..];
        Some(trim_end(&rest[..cut]))
    }
}

/// `line` without trailing spaces.
fn trim_end(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &line[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str, width: usize) -> Vec<String> {
        wrap(text.as_bytes(), width)
            .map(|l| String::from_utf8(l.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn short_text_is_one_line() {
        assert_eq!(lines("Milch", 32), ["Milch"]);
        assert_eq!(lines("", 32), [""]);
    }

    #[test]
    fn breaks_at_the_last_space_that_fits() {
        assert_eq!(
            lines("Vielen Dank für Ihren Einkauf", 12),
            ["Vielen Dank", "für Ihren", "Einkauf"]
        );
    }

    #[test]
    fn a_line_may_be_exactly_full() {
        assert_eq!(lines("abcd efgh", 4), ["abcd", "efgh"]);
        assert_eq!(lines("abc defg", 7), ["abc", "defg"]);
    }

    #[test]
    fn long_words_are_broken_hard() {
        assert_eq!(
            lines("Donaudampfschifffahrt ok", 8),
            ["Donaudam", "pfschiff", "fahrt ok"]
        );
    }

    #[test]
    fn spaces_at_breaks_are_dropped_but_indentation_is_kept() {
        assert_eq!(lines("  ab   cd  ", 4), ["  ab", "cd"]);
        // Indentation wider than the line leaves that line empty.
        assert_eq!(lines("      abcdef", 4), ["", "abcd", "ef"]);
    }

    #[test]
    fn width_zero_is_treated_as_one() {
        assert_eq!(lines("ab", 0), ["a", "b"]);
    }
}
