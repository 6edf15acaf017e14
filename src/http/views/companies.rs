//! What the super-admin API shows of companies.

use serde::Serialize;
use utoipa::ToSchema;

use crate::service::companies::Stats;
use crate::store::company::stats::DataStats;
use crate::store::primary::companies;

/// A company as stored in primary.db.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub industry: Option<String>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// When an integrity check last ran on the company's database.
    pub integrity_checked_at: Option<String>,
    /// When the database was found damaged (writes are refused until it is restored).
    pub damaged_at: Option<String>,
    /// What the check found.
    pub damage: Option<String>,
}

impl From<companies::Company> for Company {
    fn from(c: companies::Company) -> Self {
        Company {
            id: c.uuid,
            name: c.name,
            slug: c.slug,
            industry: c.industry,
            is_active: c.is_active,
            created_at: c.created_at,
            updated_at: c.updated_at,
            integrity_checked_at: c.integrity_checked_at,
            damaged_at: c.damaged_at,
            damage: c.damage,
        }
    }
}

/// A company, whether its database is open now, and (from GET /api/admin/companies/{id}
/// only) its statistics.
#[derive(Serialize, ToSchema)]
pub struct CompanyResponse {
    #[serde(flatten)]
    pub company: Company,
    pub open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = CompanyStats, required = false)]
    pub stats: Option<CompanyStats>,
}

impl CompanyResponse {
    pub fn new(company: companies::Company, open: bool, stats: Option<Stats>) -> Self {
        CompanyResponse {
            company: company.into(),
            open,
            stats: stats.map(CompanyStats::from),
        }
    }
}

/// The company's numbers. The data counts (documents, chunks, conversations, messages,
/// tokens, estimated_cost) are present only when its database could be opened; otherwise
/// `unavailable` says why.
#[derive(Serialize, Default, ToSchema)]
pub struct CompanyStats {
    pub users: u64,
    #[serde(flatten)]
    #[schema(value_type = DataCounts)]
    pub data: Option<DataCounts>,
    pub db_bytes: u64,
    pub index_bytes: u64,
    pub schema_version: Option<i64>,
    pub pending_migrations: Vec<String>,
    pub open: bool,
    /// Why the data counts are missing, when the database could not be opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl From<Stats> for CompanyStats {
    fn from(s: Stats) -> Self {
        CompanyStats {
            users: s.users,
            data: s.data.map(DataCounts::from),
            db_bytes: s.db_bytes,
            index_bytes: s.index_bytes,
            schema_version: s.schema_version,
            pending_migrations: s.pending_migrations,
            open: s.open,
            unavailable: s.unavailable,
        }
    }
}

/// The company's data counts, present when its database could be opened.
#[derive(Serialize, ToSchema)]
pub struct DataCounts {
    #[schema(required = false)]
    documents: u64,
    #[schema(required = false)]
    chunks: u64,
    #[schema(required = false)]
    conversations: u64,
    #[schema(required = false)]
    messages: u64,
    /// Chat and embedding tokens metered.
    #[schema(required = false)]
    tokens: u64,
    #[schema(required = false)]
    estimated_cost: f64,
}

impl From<DataStats> for DataCounts {
    fn from(d: DataStats) -> Self {
        DataCounts {
            documents: d.documents,
            chunks: d.chunks,
            conversations: d.conversations,
            messages: d.messages,
            tokens: d.tokens,
            estimated_cost: d.estimated_cost,
        }
    }
}
