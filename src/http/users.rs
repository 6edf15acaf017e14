//! The request and response shapes of user management, shared by the super-admin API (any
//! company) and the company-admin API (own company only), and what they become for
//! `service::accounts`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::service::accounts::{AccountChanges, NewAccount};
use crate::store::primary::users::User;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub email: String,
    pub username: String,
    pub full_name: Option<String>,
    pub role: String,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login: Option<String>,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        UserResponse {
            id: u.uuid,
            email: u.email,
            username: u.username,
            full_name: u.full_name,
            role: u.role,
            company_id: u.company_uuid,
            company_name: u.company_name,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login: u.last_login,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(pattern = "text:email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<String>,
    /// admin, analyst or viewer for a company user; super_admin for one without a company.
    #[schema(pattern = "^(admin|analyst|viewer|super_admin)$")]
    pub role: String,
    /// The company's id or slug (an unknown one answers 404).
    #[schema(min_length = 1, max_length = 100)]
    pub company_id: Option<String>,
}

/// A new user of the caller's own company (company admins: no company_id, no super admin).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompanyUser {
    #[schema(pattern = "text:email", max_length = 254)]
    pub email: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<String>,
    #[schema(pattern = "^(admin|analyst|viewer)$")]
    pub role: String,
}

impl CreateUser {
    /// The new account and the company it is for (id or slug).
    pub fn into_account(self) -> (NewAccount, Option<String>) {
        let account = NewAccount {
            email: self.email,
            password: self.password,
            full_name: self.full_name,
            role: self.role,
        };
        (account, self.company_id)
    }
}

impl From<CreateCompanyUser> for NewAccount {
    fn from(u: CreateCompanyUser) -> Self {
        NewAccount {
            email: u.email,
            password: u.password,
            full_name: u.full_name,
            role: u.role,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// null clears it.
    #[serde(default, deserialize_with = "super::validate::double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<Option<String>>,
    #[schema(pattern = "^(admin|analyst|viewer|super_admin)$")]
    pub role: Option<String>,
    pub is_active: Option<bool>,
    /// Only for the super-admin API.
    #[schema(min_length = 8, max_length = 256)]
    pub password: Option<String>,
}

/// What a company admin may change about a user of its company: not the password (the user
/// changes it, or a super admin sets one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCompanyUser {
    /// null clears it.
    #[serde(default, deserialize_with = "super::validate::double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 200)]
    pub full_name: Option<Option<String>>,
    #[schema(pattern = "^(admin|analyst|viewer)$")]
    pub role: Option<String>,
    pub is_active: Option<bool>,
}

impl From<UpdateUser> for AccountChanges {
    fn from(u: UpdateUser) -> Self {
        AccountChanges {
            full_name: u.full_name,
            role: u.role,
            is_active: u.is_active,
            password: u.password,
        }
    }
}

impl From<UpdateCompanyUser> for AccountChanges {
    fn from(u: UpdateCompanyUser) -> Self {
        AccountChanges {
            full_name: u.full_name,
            role: u.role,
            is_active: u.is_active,
            password: None,
        }
    }
}
