//! The company profile as the API shows it.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::company::profile;

// The company's one profile (its defaults until first saved).
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub industry: Option<String>,
    pub location: Option<String>,
    /// Year of the renewable transition target.
    pub target_year: Option<i64>,
    /// Targeted increase of the renewable share, in percent.
    pub renewable_percentage_increase: Option<f64>,
    pub budget: Option<f64>,
    pub historical_data_uploaded: bool,
    pub total_consumption_kwh: Option<f64>,
    /// 0 to 100.
    pub current_renewable_percentage: Option<f64>,
    pub sustainability_score: Option<f64>,
    pub onboarding_completed: bool,
    pub energy_mix_weight: f64,
    pub price_optimization_weight: f64,
    pub portfolio_decision_weight: f64,
    /// Further profile fields, a JSON object.
    #[schema(value_type = Option<Object>)]
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// Null until the profile is first saved.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl From<profile::Profile> for Profile {
    fn from(p: profile::Profile) -> Self {
        Profile {
            industry: p.industry,
            location: p.location,
            target_year: p.target_year,
            renewable_percentage_increase: p.renewable_percentage_increase,
            budget: p.budget,
            historical_data_uploaded: p.historical_data_uploaded,
            total_consumption_kwh: p.total_consumption_kwh,
            current_renewable_percentage: p.current_renewable_percentage,
            sustainability_score: p.sustainability_score,
            onboarding_completed: p.onboarding_completed,
            energy_mix_weight: p.energy_mix_weight,
            price_optimization_weight: p.price_optimization_weight,
            portfolio_decision_weight: p.portfolio_decision_weight,
            extra: p.extra,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}
