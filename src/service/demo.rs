//! The demo company, so that a new install shows a working company at once: "Alder &
//! Finch Outdoor Supply" (slug `demo`) with an admin, an analyst and a viewer (passwords
//! generated, returned once), the twelve documents of `demo/documents/` (text, Markdown,
//! HTML, CSV, JSON, PDF and DOCX, self-written) ingested through the same upload and
//! pipeline as any upload, a conversation, usage rows over the last 30 days and a saved
//! report.
//!
//! Everything goes through the services as the users themselves (they log in), so the
//! demo exercises the same rules as the API; only the company, its accounts and the
//! backdated usage rows are made by the operator.

use std::time::Duration;

use crate::app::AppState;
use crate::error::Error;
use crate::identity::{Actor, password};
use crate::ingest::uploads::StagedFile;
use crate::service::accounts::{self, NewAccount};
use crate::service::documents::{self, UploadMeta};
use crate::service::{conversations, reports, sessions};
use crate::store::company::conversations::NewConversation;
use crate::store::company::messages::NewMessage;
use crate::store::company::reports::NewReport;
use crate::store::company::usage::{self, NewUsage};
use crate::store::primary::companies::Company;
use crate::tenant::provision::{self, NewCompany, ProvisionError, UPLOADS_DIR};
use crate::tenant::{TenantCtx, context};

/// The demo company's slug.
pub const SLUG: &str = "demo";
const NAME: &str = "Alder & Finch Outdoor Supply";

/// The documents, as shipped in the repository (built into the binary).
pub const DOCUMENTS: [(&str, &[u8]); 12] = [
    (
        "employee-handbook.md",
        include_bytes!("../../demo/documents/employee-handbook.md"),
    ),
    (
        "travel-expense-policy.txt",
        include_bytes!("../../demo/documents/travel-expense-policy.txt"),
    ),
    (
        "product-catalog.csv",
        include_bytes!("../../demo/documents/product-catalog.csv"),
    ),
    (
        "q3-sales-report.pdf",
        include_bytes!("../../demo/documents/q3-sales-report.pdf"),
    ),
    (
        "onboarding-checklist.docx",
        include_bytes!("../../demo/documents/onboarding-checklist.docx"),
    ),
    (
        "it-security-policy.html",
        include_bytes!("../../demo/documents/it-security-policy.html"),
    ),
    (
        "returns-and-warranty.txt",
        include_bytes!("../../demo/documents/returns-and-warranty.txt"),
    ),
    (
        "supplier-agreement-summary.pdf",
        include_bytes!("../../demo/documents/supplier-agreement-summary.pdf"),
    ),
    (
        "leadership-meeting-notes.md",
        include_bytes!("../../demo/documents/leadership-meeting-notes.md"),
    ),
    (
        "warehouse-safety-guide.docx",
        include_bytes!("../../demo/documents/warehouse-safety-guide.docx"),
    ),
    (
        "customer-faq.md",
        include_bytes!("../../demo/documents/customer-faq.md"),
    ),
    (
        "price-list.json",
        include_bytes!("../../demo/documents/price-list.json"),
    ),
];

/// The accounts: (email, full name, role).
const USERS: [(&str, &str, &str); 3] = [
    ("admin@demo.example", "Dana Okafor", "admin"),
    ("analyst@demo.example", "Priya Raman", "analyst"),
    ("viewer@demo.example", "Tom Becker", "viewer"),
];

/// How long the demo waits for its documents to be processed.
const INGEST_TIMEOUT: Duration = Duration::from_secs(300);

/// A demo account and its generated password.
#[derive(Clone, Debug)]
pub struct DemoUser {
    pub email: String,
    pub password: String,
    pub role: String,
}

/// What [`create`] made.
#[derive(Debug)]
pub struct Demo {
    pub company: Company,
    pub users: Vec<DemoUser>,
    /// Documents processed, and of those the ones that failed (none, normally).
    pub documents: usize,
    pub failed: usize,
}

/// Creates the demo company (a conflict when one with its slug exists).
pub async fn create(app: &AppState) -> Result<Demo, Error> {
    let input = NewCompany {
        name: NAME.into(),
        slug: Some(SLUG.into()),
        industry: Some("Outdoor retail".into()),
    };
    let app2 = app.clone();
    let company = tokio::task::spawn_blocking(move || {
        provision::create_company(&app2.primary, &app2.data_dir, &input)
    })
    .await?
    .map_err(|e| match e {
        ProvisionError::Conflict(_) => {
            Error::Conflict(format!("a demo company (slug {SLUG:?}) already exists"))
        }
        ProvisionError::Invalid(e) => Error::invalid(e.field, e.message),
        ProvisionError::Failed(e) => Error::internal(e),
    })?;
    let mut users = Vec::new();
    let mut actors = Vec::new();
    for (email, name, role) in USERS {
        let secret = password::generate();
        let account = NewAccount {
            email: email.into(),
            password: secret.clone(),
            full_name: Some(name.into()),
            role: role.into(),
        };
        accounts::create_by_operator(app, account, Some(company.id)).await?;
        let session = sessions::login(app, email, secret.clone(), "demo").await?;
        actors.push(sessions::authenticate(app, &session.access_token).await?);
        users.push(DemoUser {
            email: email.into(),
            password: secret,
            role: role.into(),
        });
    }
    let (admin, analyst) = (actors[0].clone(), actors[1].clone());
    let db = app.registry.get(company.id).await?;
    let (documents, failed) = context::scope(
        TenantCtx::new(db.clone(), Some(admin.clone())),
        upload_all(app, &admin, db.dir()),
    )
    .await?;
    context::scope(TenantCtx::new(db, Some(analyst.clone())), async {
        converse(app, &analyst).await?;
        report(&analyst).await?;
        usage_history(app, &actors).await
    })
    .await?;
    Ok(Demo {
        company,
        users,
        documents,
        failed,
    })
}

/// Uploads every document as `actor` and waits until all are processed. Returns
/// (processed, failed).
async fn upload_all(
    app: &AppState,
    actor: &Actor,
    company_dir: &std::path::Path,
) -> Result<(usize, usize), Error> {
    let mut ids = Vec::new();
    for (name, bytes) in DOCUMENTS {
        let staged = StagedFile::from_bytes(&company_dir.join(UPLOADS_DIR), name, bytes)
            .await
            .map_err(Error::internal)?;
        let meta = UploadMeta {
            title: None,
            description: None,
            category: None,
            tags: vec!["demo".into()],
            scope: "company".into(),
        };
        ids.push(
            documents::upload(app, actor, staged, meta)
                .await?
                .document
                .uuid,
        );
    }
    let failed = documents::wait_processed(actor, &ids, INGEST_TIMEOUT).await?;
    Ok((ids.len(), failed))
}

/// A conversation of the analyst's about the sales report, with a sourced answer.
async fn converse(app: &AppState, analyst: &Actor) -> Result<(), Error> {
    let conversation = conversations::start(
        app,
        analyst.clone(),
        NewConversation {
            title: Some("Ridgeline 2 stock for the spring season".into()),
            llm_provider: None,
            llm_model: None,
            selected_document_ids: None,
        },
    )
    .await?;
    let turns = [
        (
            "user",
            "Did we run out of the Ridgeline 2 tent last quarter?",
        ),
        (
            "assistant",
            "Yes. The Ridgeline 2 sold 1,940 units in the third quarter, twice the forecast, \
             and was out of stock for nine days in August (Q3 sales report). The leadership \
             meeting decided to order 1,000 extra tents for the spring season.",
        ),
    ];
    for (role, content) in turns {
        let message = NewMessage {
            role: role.into(),
            content: content.into(),
            retrieved_documents: None,
            sources: (role == "assistant").then(|| {
                serde_json::json!([{"document": "q3-sales-report.pdf", "page": 1},
                                   {"document": "leadership-meeting-notes.md"}])
            }),
            confidence_score: (role == "assistant").then_some(0.91),
            reasoning_chain: None,
            grounding_evidence: None,
            agents_involved: None,
        };
        conversations::add_message(analyst.clone(), conversation.uuid.clone(), message).await?;
    }
    Ok(())
}

/// A saved report of the analyst's.
async fn report(analyst: &Actor) -> Result<(), Error> {
    let new = NewReport {
        title: "Third quarter at a glance".into(),
        report_type: "summary".into(),
        report_data: serde_json::json!({
            "revenue_usd": 4_820_000,
            "growth_percent": 11,
            "online_share_percent": 41,
            "gross_margin_percent": 40.2,
            "top_product": "Ridgeline 2 tent",
            "risks": ["Ridgeline 2 stock for October"],
        }),
        tags: vec!["sales".into(), "q3".into()],
        confidence: Some(0.88),
    };
    reports::create(analyst.clone(), new).await?;
    Ok(())
}

/// Chat and embedding usage of each user on each of the last 30 days (a fixed pattern,
/// priced with the install's price table: the default one prices the "custom" provider),
/// so the usage summary has a history to show.
async fn usage_history(app: &AppState, actors: &[Actor]) -> Result<(), Error> {
    let prices = app.workspace.prices.clone();
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for day in 0..30i64 {
        for (i, actor) in actors.iter().enumerate() {
            let calls = 1 + (day * 7 + i as i64 * 3) % 4;
            for call in 0..calls {
                let at = now - chrono::Duration::days(day) - chrono::Duration::minutes(call * 37);
                let mut row = NewUsage::new(&actor.user_uuid, "custom", "deepseek-chat", "chat");
                row.prompt_tokens = 600 + (day * 131 + call * 71) % 900;
                row.completion_tokens = 120 + (day * 53 + call * 29) % 400;
                row.created_at = crate::store::db::timestamp(at);
                rows.push(row.priced(&prices));
            }
        }
    }
    context::run(move |conn| {
        let tx = crate::store::db::write_tx(conn)?;
        for row in &rows {
            usage::insert(&tx, row)?;
        }
        tx.commit()?;
        Ok::<_, Error>(())
    })
    .await
}
