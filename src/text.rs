//! What a one-line human text (a name, a title, a tag) may contain, shared by every layer
//! that accepts one: company names, user names, document and report titles, tags.
//!
//! Such texts are shown in lists and consoles next to other tenants' and users' texts, so
//! characters that change how *other* text looks are refused: control characters, and the
//! invisible format characters of Unicode category Cf (bidi overrides and isolates such as
//! U+202E, zero-width spaces and joiners, the BOM, soft hyphens). What is kept is stored in
//! Unicode normalisation form C, so "é" typed two ways is one name.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a text was refused, as a sentence fragment for `"<field>: <reason>"`.
pub type Refusal = String;

/// A character no one-line text may hold: control (Cc) or format (Cf).
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// The first forbidden character of `text`, described for an error message.
pub fn forbidden_in(text: &str) -> Option<Refusal> {
    text.chars().find(|c| is_forbidden(*c)).map(describe)
}

/// Same as [`forbidden_in`], but newlines and tabs are allowed (multi-line texts).
pub fn forbidden_in_multiline(text: &str) -> Option<Refusal> {
    text.chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .map(describe)
}

fn describe(c: char) -> Refusal {
    if c.is_control() {
        format!("must not contain control characters (U+{:04X})", c as u32)
    } else {
        format!(
            "must not contain invisible formatting characters such as bidi controls or \
             zero-width characters (U+{:04X})",
            c as u32
        )
    }
}

/// `text` trimmed and in NFC.
pub fn normalize(text: &str) -> String {
    text.trim().nfc().collect()
}

/// A regular expression (JSON Schema `pattern`: the subset ECMA-262, Python and Rust's
/// regex share, with `\uXXXX` and `\UXXXXXXXX` escapes) that matches exactly the texts the
/// checks above accept: no forbidden character (newlines and tabs allowed when `multiline`),
/// and, when `nonblank`, at least one character that is not whitespace. Generated from
/// [`is_forbidden`] itself, so the published contract cannot drift from the server's rule.
pub fn pattern(multiline: bool, nonblank: bool) -> String {
    let forbidden = forbidden_class(multiline);
    if nonblank {
        format!("^[^{forbidden}]*[^\\s{forbidden}][^{forbidden}]*$")
    } else {
        format!("^[^{forbidden}]*$")
    }
}

/// The pattern of a one-line text as the server takes it, trimmed: whitespace around it is
/// allowed (it is dropped); inside, no forbidden character nor any of `also_forbidden`; at
/// most `max` characters from the first non-space one to the last (the length limit lives
/// in the pattern, since `maxLength` would count the whitespace the server drops); the
/// first may not be one of `first_not`; and none at all is allowed unless `nonblank`.
pub fn line_pattern(nonblank: bool, max: usize, also_forbidden: &str, first_not: &str) -> String {
    let f = format!("{}{also_forbidden}", forbidden_class(false));
    let first = format!("[^\\s{f}{first_not}]");
    let core = if max <= 1 {
        first
    } else {
        format!("{first}(?:[^{f}]{{0,{}}}[^\\s{f}])?", max - 2)
    };
    let core = if nonblank {
        core
    } else {
        format!("(?:{core})?")
    };
    format!("^\\s*{core}\\s*$")
}

/// The JSON Schema pattern of an email address as accounts accept it: one `@` between two
/// non-empty parts, no whitespace or forbidden character.
pub fn email_pattern() -> String {
    let f = forbidden_class(false);
    format!("^\\s*[^\\s@{f}]+@[^\\s@{f}]+\\s*$")
}

/// The forbidden characters as the inside of a character class, in ranges (computed once:
/// it walks every code point).
fn forbidden_class(multiline: bool) -> &'static str {
    static ONE_LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static MULTI_LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let cell = if multiline { &MULTI_LINE } else { &ONE_LINE };
    cell.get_or_init(|| compute_forbidden_class(multiline))
}

fn compute_forbidden_class(multiline: bool) -> String {
    let allowed_anyway = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    let mut ranges: Vec<(char, char)> = Vec::new();
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        if !is_forbidden(c) || allowed_anyway(c) {
            continue;
        }
        match ranges.last_mut() {
            Some((_, end)) if *end as u32 + 1 == c as u32 => *end = c,
            _ => ranges.push((c, c)),
        }
    }
    let esc = |c: char| {
        if (c as u32) < 0x10000 {
            format!("\\u{:04X}", c as u32)
        } else {
            format!("\\U{:08X}", c as u32)
        }
    };
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                esc(a)
            } else {
                format!("{}-{}", esc(a), esc(b))
            }
        })
        .collect()
}

/// A rough token count (≈ 4 characters a token for English text), for the documents'
/// `num_tokens` and chunks' `token_count` until an embedder supplies a real tokenizer.
pub fn estimate_tokens(text: &str) -> i64 {
    (text.chars().count() as i64 + 3) / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_control_characters_are_refused_and_text_is_nfc() {
        for spoof in [
            "invoice\u{202E}fdp.exe",
            "a\u{200B}b",
            "a\u{200D}b",
            "\u{FEFF}bom",
            "iso\u{2066}late",
            "soft\u{AD}hyphen",
            "bell\u{7}",
        ] {
            assert!(forbidden_in(spoof).is_some(), "{spoof:?} passed");
        }
        assert!(forbidden_in("Café Müller & Söhne, 株式会社 — ok").is_none());
        assert!(forbidden_in_multiline("line one\nline\ttwo").is_none());
        assert!(forbidden_in_multiline("a\u{0}b").is_some());
        let decomposed = "Cafe\u{301}";
        assert_eq!(normalize(decomposed), "Café");
        assert_eq!(normalize(" x "), "x");
    }

    #[test]
    fn the_published_pattern_is_the_rule() {
        let one_line = pattern(false, true);
        assert!(
            one_line.starts_with("^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD"),
            "{one_line}"
        );
        assert!(
            one_line.contains("\\U000E0001"),
            "astral format characters: {one_line}"
        );
        assert!(pattern(true, false).starts_with("^[^\\u0000-\\u0008\\u000B-\\u000C\\u000E-"));
    }
}
