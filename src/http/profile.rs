//! /api/profile: the company's one profile (seed 004). GET answers the defaults until a
//! profile is saved; PUT merges: fields left out keep their value, `null` clears a
//! nullable field, so a form may save one field at a time.

use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::ApiJson;
use super::openapi::ErrorBody;
use super::validate::{self, double_option};
use super::views::profile::Profile;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::profile as service;
use crate::store::company::profile::ProfilePatch;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile, update_profile))
}

/// The company profile.
#[utoipa::path(get, path = "/api/profile", tag = "profile",
    responses((status = 200, body = Profile), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_profile(actor: Actor) -> ApiResult<Json<Profile>> {
    Ok(Json(service::get(actor).await?.into()))
}

macro_rules! nullable {
    ($($(#[$m:meta])* $name:ident: $t:ty),* $(,)?) => {
        /// Profile changes. Every field is optional; `null` clears a nullable one.
        #[derive(Deserialize, ToSchema, Default)]
        #[serde(deny_unknown_fields)]
        pub struct UpdateProfile {
            $(
                #[serde(default, deserialize_with = "double_option")]
                #[schema(value_type = Option<$t>)]
                $(#[$m])*
                pub $name: Option<Option<$t>>,
            )*
            pub historical_data_uploaded: Option<bool>,
            pub onboarding_completed: Option<bool>,
            /// 0 to 1.
            #[schema(minimum = 0.0, maximum = 1.0)]
            pub energy_mix_weight: Option<f64>,
            /// 0 to 1.
            #[schema(minimum = 0.0, maximum = 1.0)]
            pub price_optimization_weight: Option<f64>,
            /// 0 to 1.
            #[schema(minimum = 0.0, maximum = 1.0)]
            pub portfolio_decision_weight: Option<f64>,
            /// Further fields, a JSON object (null clears).
            #[serde(default, deserialize_with = "double_option")]
            #[schema(value_type = Option<Object>)]
            pub extra: Option<Option<serde_json::Map<String, serde_json::Value>>>,
        }
    };
}

nullable! {
    #[schema(pattern = "text:line", max_length = 100)]
    industry: String,
    #[schema(pattern = "text:line", max_length = 200)]
    location: String,
    #[schema(minimum = 1900, maximum = 2200)]
    target_year: i64,
    #[schema(minimum = 0.0)]
    renewable_percentage_increase: f64,
    #[schema(minimum = 0.0)]
    budget: f64,
    #[schema(minimum = 0.0)]
    total_consumption_kwh: f64,
    #[schema(minimum = 0.0, maximum = 100.0)]
    current_renewable_percentage: f64,
    #[schema(minimum = 0.0)]
    sustainability_score: f64,
}

/// The checked changes of `u`: absent fields stay absent, `null` clears.
fn patch(u: UpdateProfile) -> ApiResult<ProfilePatch> {
    let num = |field: &str, v: Option<Option<f64>>| -> ApiResult<Option<Option<f64>>> {
        v.map(|v| v.map(|x| validate::non_negative(field, x)).transpose())
            .transpose()
    };
    let weight = |field: &str, v: Option<f64>| -> ApiResult<Option<f64>> {
        v.map(|v| validate::unit_interval(field, v)).transpose()
    };
    let industry = validate::patch_text("industry", u.industry, 100)?;
    let location = validate::patch_text("location", u.location, 200)?;
    if u.target_year
        .flatten()
        .is_some_and(|y| !(1900..=2200).contains(&y))
    {
        return Err(Error::invalid(
            "target_year",
            "must be between 1900 and 2200",
        ));
    }
    let renewable_percentage_increase = num(
        "renewable_percentage_increase",
        u.renewable_percentage_increase,
    )?;
    let budget = num("budget", u.budget)?;
    let total_consumption_kwh = num("total_consumption_kwh", u.total_consumption_kwh)?;
    let sustainability_score = num("sustainability_score", u.sustainability_score)?;
    if u.current_renewable_percentage
        .flatten()
        .is_some_and(|x| !(x.is_finite() && (0.0..=100.0).contains(&x)))
    {
        return Err(Error::invalid(
            "current_renewable_percentage",
            "must be between 0 and 100",
        ));
    }
    let energy_mix_weight = weight("energy_mix_weight", u.energy_mix_weight)?;
    let price_optimization_weight =
        weight("price_optimization_weight", u.price_optimization_weight)?;
    let portfolio_decision_weight =
        weight("portfolio_decision_weight", u.portfolio_decision_weight)?;
    if u.extra
        .as_ref()
        .and_then(Option::as_ref)
        .is_some_and(|m| serde_json::to_string(m).map_or(0, |s| s.len()) > 64 * 1024)
    {
        return Err(Error::invalid("extra", "must be at most 64 KiB of JSON"));
    }
    Ok(ProfilePatch {
        industry,
        location,
        target_year: u.target_year,
        renewable_percentage_increase,
        budget,
        total_consumption_kwh,
        sustainability_score,
        current_renewable_percentage: u.current_renewable_percentage,
        historical_data_uploaded: u.historical_data_uploaded,
        onboarding_completed: u.onboarding_completed,
        energy_mix_weight,
        price_optimization_weight,
        portfolio_decision_weight,
        extra: u.extra,
    })
}

/// Saves (creates or changes) the company profile.
#[utoipa::path(put, path = "/api/profile", tag = "profile", request_body = UpdateProfile,
    responses((status = 200, body = Profile), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_profile(
    actor: Actor,
    ApiJson(body): ApiJson<UpdateProfile>,
) -> ApiResult<Json<Profile>> {
    let saved = service::save(actor, patch(body)?).await?;
    Ok(Json(saved.into()))
}
