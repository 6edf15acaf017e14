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
use crate::app::AppState;
use crate::identity::Actor;
use crate::store::company::profile::{self, Profile};
use crate::store::db::write_tx;
use crate::tenant::context;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_profile, update_profile))
}

/// The company profile.
#[utoipa::path(get, path = "/api/profile", tag = "profile",
    responses((status = 200, body = Profile), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_profile(actor: Actor) -> ApiResult<Json<Profile>> {
    actor.require("profile:read")?;
    let p = context::read(|conn| Ok::<_, Error>(profile::get(conn)?.unwrap_or_default())).await?;
    Ok(Json(p))
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

/// Applies the validated changes of `u` to `p`.
fn merge(mut p: Profile, u: UpdateProfile) -> ApiResult<Profile> {
    let num = |field: &str, v: Option<Option<f64>>, cur: Option<f64>| -> ApiResult<Option<f64>> {
        match v {
            None => Ok(cur),
            Some(None) => Ok(None),
            Some(Some(x)) => validate::non_negative(field, x).map(Some),
        }
    };
    if let Some(v) = u.industry {
        p.industry = validate::opt_text("industry", v.as_deref(), 100)?;
    }
    if let Some(v) = u.location {
        p.location = validate::opt_text("location", v.as_deref(), 200)?;
    }
    if let Some(v) = u.target_year {
        if v.is_some_and(|y| !(1900..=2200).contains(&y)) {
            return Err(Error::invalid(
                "target_year",
                "must be between 1900 and 2200",
            ));
        }
        p.target_year = v;
    }
    p.renewable_percentage_increase = num(
        "renewable_percentage_increase",
        u.renewable_percentage_increase,
        p.renewable_percentage_increase,
    )?;
    p.budget = num("budget", u.budget, p.budget)?;
    p.total_consumption_kwh = num(
        "total_consumption_kwh",
        u.total_consumption_kwh,
        p.total_consumption_kwh,
    )?;
    p.sustainability_score = num(
        "sustainability_score",
        u.sustainability_score,
        p.sustainability_score,
    )?;
    if let Some(v) = u.current_renewable_percentage {
        if v.is_some_and(|x| !(x.is_finite() && (0.0..=100.0).contains(&x))) {
            return Err(Error::invalid(
                "current_renewable_percentage",
                "must be between 0 and 100",
            ));
        }
        p.current_renewable_percentage = v;
    }
    if let Some(v) = u.historical_data_uploaded {
        p.historical_data_uploaded = v;
    }
    if let Some(v) = u.onboarding_completed {
        p.onboarding_completed = v;
    }
    if let Some(v) = u.energy_mix_weight {
        p.energy_mix_weight = validate::unit_interval("energy_mix_weight", v)?;
    }
    if let Some(v) = u.price_optimization_weight {
        p.price_optimization_weight = validate::unit_interval("price_optimization_weight", v)?;
    }
    if let Some(v) = u.portfolio_decision_weight {
        p.portfolio_decision_weight = validate::unit_interval("portfolio_decision_weight", v)?;
    }
    if let Some(v) = u.extra {
        if v.as_ref()
            .is_some_and(|m| serde_json::to_string(m).map_or(0, |s| s.len()) > 64 * 1024)
        {
            return Err(Error::invalid("extra", "must be at most 64 KiB of JSON"));
        }
        p.extra = v;
    }
    Ok(p)
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
    actor.require("profile:update")?;
    let saved = context::run(move |conn| {
        // Read, merge and write under one write lock: two concurrent saves of different
        // fields both survive.
        let tx = write_tx(conn)?;
        let merged = merge(profile::get(&tx)?.unwrap_or_default(), body)?;
        profile::upsert(&tx, &merged)?;
        let p = profile::get(&tx)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("profile vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(p)
    })
    .await?;
    Ok(Json(saved))
}
