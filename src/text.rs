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
}
