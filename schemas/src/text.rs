//! Text a person wrote, as the server and the published schemas both judge it: one definition
//! of "blank" and of the control characters refused, and the JSON Schema patterns that say the
//! same (checked character by character over all of Unicode by `schema_agreement`).

/// What "blank" means, once for the server and the schema: Unicode `White_Space` (what Rust's
/// `trim` removes) and U+FEFF (which JavaScript's `\s` counts and `trim` does not). A text of
/// only blank characters is empty.
pub fn is_blank(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

/// Control characters a text may not hold: C0 other than tab, line feed and carriage return,
/// DEL, and C1. They are never what a person typed, and some databases and viewers choke on them.
pub fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// JSON Schema `pattern` (ECMA-262, also valid for Rust's `regex`) for the same rule as
/// [`refusal`] for multi-line text: no refused control character, and at least one character that is not blank. Its
/// two character classes are checked against [`is_blank`] and [`is_refused_control`] by a test.
pub const TEXT_PATTERN: &str = concat!(
    "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*",
    "[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF]",
    "[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"
);

/// The same for one line (a name, a purpose, a registration number): no control character at
/// all, and at least one character that is not blank.
pub const LINE_PATTERN: &str = concat!(
    "^[^\\u0000-\\u001F\\u007F-\\u009F]*",
    "[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF]",
    "[^\\u0000-\\u001F\\u007F-\\u009F]*$"
);

/// Why a text is refused, if it is: blank, too long (in characters, as JSON Schema counts), or
/// holding a control character (`multiline` allows tab, line feed and carriage return).
pub fn refusal(value: &str, max: usize, multiline: bool) -> Option<String> {
    let refused = |c: char| {
        if multiline {
            is_refused_control(c)
        } else {
            c.is_control()
        }
    };
    if let Some(c) = value.chars().find(|c| refused(*c)) {
        return Some(format!(
            "must not contain control characters (U+{:04X})",
            c as u32
        ));
    }
    if value.chars().all(is_blank) {
        return Some("must not be empty".into());
    }
    let len = value.chars().count();
    if len > max {
        return Some(format!("must be at most {max} characters (got {len})"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn which_rule_refuses() {
        assert_eq!(refusal("Alice O'Brien – HR", 200, false), None);
        assert_eq!(refusal("I agree.\r\nSigned,\tAlice", 200, true), None);
        for (text, multiline) in [("a\u{0}b", false), ("a\nb", false), ("a\u{1b}[31m", true)] {
            assert!(
                refusal(text, 200, multiline).is_some_and(|why| why.contains("control")),
                "{text:?}"
            );
        }
        for blank in ["", " ", "\u{FEFF}", "\u{3000}\t\n"] {
            assert_eq!(
                refusal(blank, 200, true).as_deref(),
                Some("must not be empty")
            );
        }
        assert_eq!(refusal("ab", 2, false), None);
        assert!(refusal("abc", 2, false).is_some_and(|why| why.contains("at most 2")));
    }
}
