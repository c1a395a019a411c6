//! Positions in text files: the 1-based line of a byte offset, so that errors in TOML files (layouts,
//! templates) name the line a user has to fix.

/// The 1-based line that byte `offset` of `text` is on (offsets past the end count as the last line).
pub fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::line_at;

    #[test]
    fn lines_count_from_one() {
        let text = "a = 1\nb = 2\n\nc = 3";
        assert_eq!(line_at(text, 0), 1);
        assert_eq!(line_at(text, 5), 1);
        assert_eq!(line_at(text, 6), 2);
        assert_eq!(line_at(text, 13), 4);
        assert_eq!(line_at(text, 999), 4);
    }
}
