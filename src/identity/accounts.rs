//! Checks of account input shared by the API and the command line: email, full name, and
//! which role fits which kind of account.

/// An invalid input field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Roles a company user may have (super_admin belongs to no company).
pub const COMPANY_ROLES: [&str; 3] = ["admin", "analyst", "viewer"];

/// Lower-cases and checks an email address.
pub fn parse_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || crate::text::is_forbidden(c))
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if !valid {
        return Err(invalid("email", "must be an email address"));
    }
    Ok(email)
}

/// Trims a display name; empty means none.
pub fn parse_full_name(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(name) = raw.map(crate::text::normalize).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > 200 {
        return Err(invalid("full_name", "must be at most 200 characters"));
    }
    if let Some(reason) = crate::text::forbidden_in(&name) {
        return Err(invalid("full_name", reason));
    }
    Ok(Some(name))
}

/// A super admin belongs to no company; every other role needs one.
pub fn check_role(role: &str, has_company: bool) -> Result<(), FieldError> {
    match (role, has_company) {
        ("super_admin", false) => Ok(()),
        ("super_admin", true) => Err(invalid("role", "super_admin users belong to no company")),
        (r, true) if COMPANY_ROLES.contains(&r) => Ok(()),
        (r, false) if COMPANY_ROLES.contains(&r) => {
            Err(invalid("company_id", "is required for company roles"))
        }
        _ => Err(invalid(
            "role",
            "must be one of admin, analyst, viewer, super_admin",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_roles_and_names() {
        assert_eq!(parse_email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@x", "ann@", "a b@x", "a@b@c"] {
            assert_eq!(parse_email(bad).unwrap_err().field, "email", "{bad:?}");
        }
        assert_eq!(parse_full_name(Some("  ")).unwrap(), None);
        assert!(parse_full_name(Some("a\nb")).is_err());
        assert!(check_role("admin", true).is_ok() && check_role("super_admin", false).is_ok());
        assert_eq!(check_role("admin", false).unwrap_err().field, "company_id");
        assert_eq!(check_role("super_admin", true).unwrap_err().field, "role");
        assert_eq!(check_role("wizard", true).unwrap_err().field, "role");
    }
}
