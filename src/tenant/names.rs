//! Validation of company names and slugs, and the path checks that keep every company file
//! inside the data directory. Slugs become directory names, so they match a strict allowlist.

use std::path::{Component, Path, PathBuf};

/// A validated company display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompanyName(String);

/// A validated slug: `^[a-z0-9][a-z0-9_-]{0,62}$`, safe as a single path component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

/// Why a name or slug was refused; `field` says which one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct NameError {
    pub field: &'static str,
    pub message: String,
}

fn name_error(field: &'static str, message: impl Into<String>) -> NameError {
    NameError {
        field,
        message: message.into(),
    }
}

pub const MAX_NAME_CHARS: usize = 100;

/// Characters a company name may not hold besides the forbidden ones of [`crate::text`]:
/// path separators, URL syntax, percent escapes, shell and quoting characters.
const NAME_SPECIALS: &str = "/\\?#%<>\"`|*:";

/// The JSON Schema pattern of a company name as [`CompanyName::parse`] accepts it (after
/// trimming): 1 to 100 characters, no forbidden or special one, not starting with a dot.
pub fn name_pattern() -> String {
    let specials = NAME_SPECIALS.replace('\\', "\\\\");
    crate::text::line_pattern(true, MAX_NAME_CHARS, &specials, ".")
}

pub const MAX_SLUG_CHARS: usize = 63;

impl CompanyName {
    /// Accepts ordinary business names ("Acme, Inc.", "Café Müller & Söhne") and refuses
    /// what only an attack or a mistake would send: path separators, URL syntax, percent
    /// escapes, control characters, a leading dot, empty or overlong names.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = crate::text::normalize(raw);
        let name = name.as_str();
        if name.is_empty() {
            return Err(name_error("name", "must not be empty"));
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(name_error(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if name.starts_with('.') {
            return Err(name_error("name", "must not start with a dot"));
        }
        if let Some(reason) = crate::text::forbidden_in(name) {
            return Err(name_error("name", reason));
        }
        if let Some(c) = name.chars().find(|c| NAME_SPECIALS.contains(*c)) {
            return Err(name_error("name", format!("must not contain {c:?}")));
        }
        Ok(CompanyName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug derived from this name: ASCII letters and digits kept, lower-cased, every
    /// other run of characters becomes one '-'.
    pub fn to_slug(&self) -> Result<Slug, NameError> {
        let mut slug = String::new();
        for c in self.0.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug: String = slug
            .trim_end_matches('-')
            .chars()
            .take(MAX_SLUG_CHARS)
            .collect();
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            return Err(name_error(
                "name",
                "must contain an ASCII letter or digit (or give a slug)",
            ));
        }
        Slug::parse(slug)
    }
}

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let ok_first = raw
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ok_rest = raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if raw.is_empty() || raw.len() > MAX_SLUG_CHARS || !ok_first || !ok_rest {
            return Err(name_error(
                "slug",
                format!(
                    "must be 1-{MAX_SLUG_CHARS} characters of a-z, 0-9, '-' or '_', \
                     starting with a letter or digit"
                ),
            ));
        }
        Ok(Slug(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Resolves a company path stored in primary.db (relative to the data directory) and checks
/// it stays inside: only plain components, and no symlink on the way leads out.
pub fn resolve_inside(data_dir: &Path, relative: &str) -> Result<PathBuf, String> {
    let rel = Path::new(relative);
    if relative.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(format!(
            "company path {relative:?} is not a plain relative path"
        ));
    }
    let joined = data_dir.join(rel);
    // The file itself may not exist yet; its directory must resolve inside the data dir.
    let parent = joined
        .parent()
        .ok_or_else(|| format!("company path {relative:?} has no parent"))?;
    if let Ok(real) = parent.canonicalize() {
        let root = data_dir
            .canonicalize()
            .map_err(|e| format!("data directory: {e}"))?;
        if !real.starts_with(&root) {
            return Err(format!(
                "company path {relative:?} resolves outside the data directory"
            ));
        }
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_and_derive_slugs() {
        let name = CompanyName::parse("  Acme, Inc.  ").unwrap();
        assert_eq!(name.as_str(), "Acme, Inc.");
        assert_eq!(name.to_slug().unwrap().as_str(), "acme-inc");
        let name = CompanyName::parse("Café Müller & Söhne").unwrap();
        assert_eq!(name.to_slug().unwrap().as_str(), "caf-m-ller-s-hne");
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "", "   ", "..", ".x", "a/b", "a\\b", "%2e%2e", "a?b", "a#b", "a\0b", "x\ny",
        ] {
            assert!(
                CompanyName::parse(bad).is_err(),
                "{bad:?} was accepted as a name"
            );
        }
        assert!(CompanyName::parse(&"a".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(CompanyName::parse(&"a".repeat(MAX_NAME_CHARS)).is_ok());
        // A name with no ASCII letter or digit cannot give a slug.
        assert_eq!(
            CompanyName::parse("---")
                .unwrap()
                .to_slug()
                .unwrap_err()
                .field,
            "name"
        );
    }

    #[test]
    fn hostile_slugs_are_refused() {
        for bad in [
            "", "..", ".x", "a/b", "%2e%2e", "a?b", "a#b", "-a", "_a", "A", "a b", "é",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} was accepted as a slug");
        }
        assert!(Slug::parse(&"a".repeat(64)).is_err());
        for good in ["a", "acme", "acme-inc", "acme_2", "0day"] {
            assert!(Slug::parse(good).is_ok(), "{good:?} was refused");
        }
    }

    #[test]
    fn stored_paths_must_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        assert!(resolve_inside(dir.path(), "companies/acme/company.db").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x.db",
            "companies/../../x.db",
            "./x.db",
        ] {
            assert!(resolve_inside(dir.path(), bad).is_err(), "{bad:?} resolved");
        }
        // A symlink inside the data dir pointing out is caught.
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        assert!(resolve_inside(dir.path(), "link/company.db").is_err());
    }
}
