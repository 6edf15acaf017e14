//! The `profiles` table: the company's one profile (seed 004), row id 1. Writes merge the
//! given fields into the current row (or the defaults) and upsert it, so the UI may save one
//! field at a time; run them in a write transaction so two merges never interleave.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{json_opt, new_uuid, to_json};
use crate::store::db::now;

#[derive(Clone, Debug, PartialEq)]
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
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// Null until the profile is first saved.
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl Default for Profile {
    /// The profile of a company that never saved one (the schema's defaults).
    fn default() -> Self {
        Profile {
            industry: None,
            location: None,
            target_year: None,
            renewable_percentage_increase: None,
            budget: None,
            historical_data_uploaded: false,
            total_consumption_kwh: None,
            current_renewable_percentage: None,
            sustainability_score: None,
            onboarding_completed: false,
            energy_mix_weight: 0.4,
            price_optimization_weight: 0.35,
            portfolio_decision_weight: 0.25,
            extra: None,
            created_at: None,
            updated_at: None,
        }
    }
}

impl Profile {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Profile {
            industry: row.get(0)?,
            location: row.get(1)?,
            target_year: row.get(2)?,
            renewable_percentage_increase: row.get(3)?,
            budget: row.get(4)?,
            historical_data_uploaded: row.get(5)?,
            total_consumption_kwh: row.get(6)?,
            current_renewable_percentage: row.get(7)?,
            sustainability_score: row.get(8)?,
            onboarding_completed: row.get(9)?,
            energy_mix_weight: row.get(10)?,
            price_optimization_weight: row.get(11)?,
            portfolio_decision_weight: row.get(12)?,
            extra: json_opt(row, 13)?,
            created_at: row.get(14)?,
            updated_at: row.get(15)?,
        })
    }
}

/// Changes to the profile: `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Clone, Debug, Default)]
pub struct ProfilePatch {
    pub industry: Option<Option<String>>,
    pub location: Option<Option<String>>,
    pub target_year: Option<Option<i64>>,
    pub renewable_percentage_increase: Option<Option<f64>>,
    pub budget: Option<Option<f64>>,
    pub total_consumption_kwh: Option<Option<f64>>,
    pub sustainability_score: Option<Option<f64>>,
    pub current_renewable_percentage: Option<Option<f64>>,
    pub historical_data_uploaded: Option<bool>,
    pub onboarding_completed: Option<bool>,
    pub energy_mix_weight: Option<f64>,
    pub price_optimization_weight: Option<f64>,
    pub portfolio_decision_weight: Option<f64>,
    pub extra: Option<Option<serde_json::Map<String, serde_json::Value>>>,
}

impl ProfilePatch {
    /// `p` with these changes merged in.
    pub fn apply(self, mut p: Profile) -> Profile {
        fn set<T>(field: &mut T, change: Option<T>) {
            if let Some(v) = change {
                *field = v;
            }
        }
        set(&mut p.industry, self.industry);
        set(&mut p.location, self.location);
        set(&mut p.target_year, self.target_year);
        set(
            &mut p.renewable_percentage_increase,
            self.renewable_percentage_increase,
        );
        set(&mut p.budget, self.budget);
        set(&mut p.total_consumption_kwh, self.total_consumption_kwh);
        set(&mut p.sustainability_score, self.sustainability_score);
        set(
            &mut p.current_renewable_percentage,
            self.current_renewable_percentage,
        );
        set(
            &mut p.historical_data_uploaded,
            self.historical_data_uploaded,
        );
        set(&mut p.onboarding_completed, self.onboarding_completed);
        set(&mut p.energy_mix_weight, self.energy_mix_weight);
        set(
            &mut p.price_optimization_weight,
            self.price_optimization_weight,
        );
        set(
            &mut p.portfolio_decision_weight,
            self.portfolio_decision_weight,
        );
        set(&mut p.extra, self.extra);
        p
    }
}

/// The stored profile, if one was ever saved.
pub fn get(conn: &Connection) -> rusqlite::Result<Option<Profile>> {
    conn.prepare_cached(
        "SELECT industry, location, target_year, renewable_percentage_increase, budget,
                historical_data_uploaded, total_consumption_kwh, current_renewable_percentage,
                sustainability_score, onboarding_completed, energy_mix_weight,
                price_optimization_weight, portfolio_decision_weight, extra, created_at, updated_at
         FROM profiles WHERE id = 1",
    )?
    .query_row([], Profile::from_row)
    .optional()
}

/// Writes `p` as the company's profile (insert or update of row 1).
pub fn upsert(conn: &Connection, p: &Profile) -> rusqlite::Result<()> {
    let ts = now();
    conn.prepare_cached(
        "INSERT INTO profiles (id, uuid, industry, location, target_year,
             renewable_percentage_increase, budget, historical_data_uploaded,
             total_consumption_kwh, current_renewable_percentage, sustainability_score,
             onboarding_completed, energy_mix_weight, price_optimization_weight,
             portfolio_decision_weight, extra, created_at, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)
         ON CONFLICT (id) DO UPDATE SET
             industry = excluded.industry, location = excluded.location,
             target_year = excluded.target_year,
             renewable_percentage_increase = excluded.renewable_percentage_increase,
             budget = excluded.budget,
             historical_data_uploaded = excluded.historical_data_uploaded,
             total_consumption_kwh = excluded.total_consumption_kwh,
             current_renewable_percentage = excluded.current_renewable_percentage,
             sustainability_score = excluded.sustainability_score,
             onboarding_completed = excluded.onboarding_completed,
             energy_mix_weight = excluded.energy_mix_weight,
             price_optimization_weight = excluded.price_optimization_weight,
             portfolio_decision_weight = excluded.portfolio_decision_weight,
             extra = excluded.extra, updated_at = excluded.updated_at",
    )?
    .execute(params![
        new_uuid(),
        p.industry,
        p.location,
        p.target_year,
        p.renewable_percentage_increase,
        p.budget,
        p.historical_data_uploaded,
        p.total_consumption_kwh,
        p.current_renewable_percentage,
        p.sustainability_score,
        p.onboarding_completed,
        p.energy_mix_weight,
        p.price_optimization_weight,
        p.portfolio_decision_weight,
        p.extra.as_ref().map(to_json),
        ts
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::testdb;

    #[test]
    fn upsert_keeps_one_row() {
        let db = testdb::open();
        let c = &db.conn;
        assert_eq!(get(c).unwrap(), None);
        let mut p = Profile {
            industry: Some("ITeS".into()),
            target_year: Some(2030),
            ..Default::default()
        };
        upsert(c, &p).unwrap();
        let first = get(c).unwrap().unwrap();
        assert_eq!(first.industry.as_deref(), Some("ITeS"));
        assert_eq!(first.energy_mix_weight, 0.4);
        p.location = Some("Pune".into());
        p.current_renewable_percentage = Some(42.5);
        upsert(c, &p).unwrap();
        let second = get(c).unwrap().unwrap();
        assert_eq!(second.location.as_deref(), Some("Pune"));
        assert_eq!(second.created_at, first.created_at);
        let rows: i64 = c
            .query_row("SELECT COUNT(*) FROM profiles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        // The schema refuses values out of range even if validation were bypassed.
        p.current_renewable_percentage = Some(120.0);
        assert!(upsert(c, &p).is_err());
    }
}
