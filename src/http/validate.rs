//! Checks of request fields shared by the company-data handlers. Each returns a 422 naming
//! the field, with a sentence saying what is expected.

use serde::{Deserialize, Deserializer};

use crate::error::Error;
use crate::store::company::{DEFAULT_LIMIT, MAX_LIMIT, Page};

/// For PATCH bodies: tells "absent" (`None`) from "null" (`Some(None)`). Use with
/// `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `?limit=&offset=` as received; [`PageQuery::page`] checks it.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub offset: Option<u32>,
}

impl PageQuery {
    pub fn page(self) -> Result<Page, Error> {
        page(self.limit, self.offset)
    }
}

/// A page from `?limit=&offset=` (default 50, 1 to 200).
pub fn page(limit: Option<u32>, offset: Option<u32>) -> Result<Page, Error> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(Page {
        limit,
        offset: offset.unwrap_or(0),
    })
}

/// A required one-line text: trimmed, in NFC, non-empty, at most `max` characters, no
/// control or invisible formatting characters ([`crate::text`]).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let v = crate::text::normalize(value);
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if let Some(reason) = crate::text::forbidden_in(&v) {
        return Err(Error::invalid(field, reason));
    }
    Ok(v)
}

/// An optional one-line text; empty after trimming counts as absent.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, Error> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => text(field, v, max).map(Some),
        None => Ok(None),
    }
}

/// A PATCH field of [`opt_text`]: absent (unchanged), null or blank (cleared), or a text.
pub fn patch_text(
    field: &str,
    value: Option<Option<String>>,
    max: usize,
) -> Result<Option<Option<String>>, Error> {
    value
        .map(|v| opt_text(field, v.as_deref(), max))
        .transpose()
}

/// An optional [`long_text`] where blank means absent.
pub fn opt_long_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, Error> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| long_text(field, v, max, false))
        .transpose()
}

/// A count in `0..=max` (tokens and the like).
pub fn count(field: &str, value: i64, max: i64) -> Result<i64, Error> {
    if (0..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be between 0 and {max}"),
        ))
    }
}

/// A multi-line text (descriptions, message contents): newlines and tabs allowed.
pub fn long_text(field: &str, value: &str, max: usize, allow_empty: bool) -> Result<String, Error> {
    if !allow_empty && value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if let Some(reason) = crate::text::forbidden_in_multiline(value) {
        return Err(Error::invalid(field, reason));
    }
    Ok(value.to_string())
}

/// The schema of one tag in the OpenAPI document (see [`tags`]).
pub struct Tag;

impl utoipa::PartialSchema for Tag {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("text:line!"))
            .max_length(Some(100))
            .into()
    }
}

impl utoipa::ToSchema for Tag {}

/// Tags: at most 50, each a one-line text of at most 100 characters; duplicates dropped.
pub fn tags(field: &str, values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > 50 {
        return Err(Error::invalid(field, "must have at most 50 tags"));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let t = text(&format!("{field}[{i}]"), v, 100)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// A value in 0.0..=1.0 (confidences).
pub fn unit_interval(field: &str, v: f64) -> Result<f64, Error> {
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(Error::invalid(field, "must be between 0 and 1"))
    }
}

/// A finite, non-negative number.
pub fn non_negative(field: &str, v: f64) -> Result<f64, Error> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::invalid(field, "must be a number >= 0"))
    }
}

/// A public id in canonical form, or 404: a string that is not a UUID names nothing.
pub fn id(what: &str, raw: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Error::not_found(what))
}

/// A public id given in a body or query field: 422 naming the field when malformed.
pub fn id_field(field: &str, raw: &str) -> Result<String, Error> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| Error::invalid(field, "must be a UUID"))
}

/// A list of at most `max` ids: each a UUID (canonical form; a bad one is named
/// `field[i]`), duplicates dropped, order kept.
pub fn ids(field: &str, ids: &[String], max: usize) -> Result<Vec<String>, Error> {
    if ids.len() > max {
        return Err(Error::invalid(
            field,
            format!("must have at most {max} ids"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let id = id_field(&format!("{field}[{i}]"), id)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// One of a fixed set of values.
pub fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<String, Error> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(Error::invalid(
            field,
            format!("must be one of: {}", allowed.join(", ")),
        ))
    }
}

/// An RFC 3339 time (or a plain date, meaning its midnight UTC), in the stored canonical
/// form, so string comparison with stored timestamps is time comparison. `end_of_day`
/// turns a plain date into the next midnight (for inclusive `to` dates).
pub fn timestamp(field: &str, raw: &str, end_of_day: bool) -> Result<String, Error> {
    use chrono::{DateTime, NaiveDate, Utc};
    let raw = raw.trim();
    let parsed = if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        t.with_timezone(&Utc)
    } else if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
    } else {
        return Err(Error::invalid(
            field,
            "must be an RFC 3339 time or a YYYY-MM-DD date",
        ));
    };
    // Stored times compare as text, which holds only for four-digit years.
    if !(1..9999).contains(&chrono::Datelike::year(&parsed)) {
        return Err(Error::invalid(
            field,
            "must be between the years 0001 and 9998",
        ));
    }
    Ok(crate::store::db::timestamp(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_canonical() {
        assert_eq!(
            timestamp("from", "2025-01-31", false).unwrap(),
            "2025-01-31T00:00:00.000Z"
        );
        assert_eq!(
            timestamp("to", "2025-01-31", true).unwrap(),
            "2025-02-01T00:00:00.000Z"
        );
        assert_eq!(
            timestamp("to", "2025-01-31T12:00:00+02:00", true).unwrap(),
            "2025-01-31T10:00:00.000Z"
        );
        assert!(timestamp("to", "yesterday", false).is_err());
        assert!(timestamp("to", "9999-12-31", true).is_err());
        assert!(timestamp("from", "0000-01-01", false).is_err());
    }

    #[test]
    fn texts_and_ids() {
        assert_eq!(text("t", "  a ", 5).unwrap(), "a");
        assert!(text("t", "abcdef", 5).is_err());
        assert!(text("t", "a\u{0}b", 5).is_err());
        assert_eq!(
            tags("tags", &["a".into(), "a".into(), "b".into()]).unwrap(),
            vec!["a", "b"]
        );
        assert!(id("document", "nope").is_err());
        assert_eq!(
            id("d", "6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap(),
            "6f9619ff-8b86-d011-b42d-00c04fc964ff"
        );
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(201), None).is_err());
        assert_eq!(page(None, None).unwrap().limit, 50);
    }
}
