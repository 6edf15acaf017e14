//! Benchmark of the web console's heaviest pages with many companies: the overview and the
//! companies list (first page, a search, a page deep in the keyset), each rendered through
//! the real router with a logged-in console session, timed end to end (p50/p95/max).
//!
//! cargo run --release --example bench_console -- [--companies 10000] [--requests 200]
//!
//! Setup provisions one company for real and copies its database for the rest, with three
//! users in every tenth company.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use silo::app::{App, AppOptions};
use silo::tenant::provision::{self, NewCompany};
use tower::ServiceExt;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn send(router: &axum::Router, req: Request<Body>) -> (u16, Vec<String>, String) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let cookies = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 26)
        .await
        .unwrap();
    (status, cookies, String::from_utf8_lossy(&body).into_owned())
}

fn main() -> anyhow::Result<()> {
    let n: usize = common::arg("--companies", "10000").parse()?;
    let requests: usize = common::arg("--requests", "200").parse()?;
    let dir = tempfile::tempdir()?;
    let app = App::open(&dir.path().join("data"), AppOptions::default())?;
    let setup = Instant::now();
    let template = provision::create_company(
        &app.primary,
        &app.data_dir,
        &NewCompany {
            name: "Bench 00000".into(),
            slug: Some("bench-00000".into()),
            industry: None,
        },
    )?;
    let template_db = app.data_dir.join(&template.db_path);
    {
        let mut conn = app.primary.get()?;
        let tx = conn.transaction()?;
        for i in 1..n {
            common::add_copied_company(&tx, &app.data_dir, i, &template_db)?;
        }
        let role: i64 = tx.query_row("SELECT id FROM roles WHERE name = 'viewer'", [], |r| {
            r.get(0)
        })?;
        for (k, id) in (1..=n as i64).step_by(10).enumerate() {
            for u in 0..3 {
                tx.execute(
                    "INSERT INTO users (uuid, email, username, hashed_password, company_id, role_id)
                     VALUES (?1, ?2, ?2, 'x', ?3, ?4)",
                    rusqlite::params![uuid::Uuid::new_v4().to_string(), format!("u{k}-{u}@bench.test"), id, role],
                )?;
            }
        }
        tx.commit()?;
    }
    eprintln!(
        "{n} companies set up in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let app = Arc::new(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        silo::service::accounts::ensure_super_admin(
            &app,
            "root@bench.test",
            Some("bench-password-1"),
        )
        .await?;
        let router = silo::web::router(app.clone());
        // Log in as a browser would: the form's token and cookie, then the session cookie.
        let (_, cookies, html) =
            send(&router, Request::get("/admin/login").body(Body::empty())?).await;
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        let form = format!(
            "email=root%40bench.test&password=bench-password-1&csrf={}",
            &html[at..at + 64]
        );
        let login = Request::post("/admin/login")
            .header(header::COOKIE, cookies.join("; "))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))?;
        let (status, cookies, _) = send(&router, login).await;
        anyhow::ensure!(status == 303, "login answered {status}");
        let session = cookies
            .into_iter()
            .find(|c| c.starts_with("silo_console="))
            .unwrap();
        let deep = format!(
            "/admin/companies?q=&sort=name&after_name=Bench+{:05}&after_id={}",
            n * 9 / 10,
            n * 9 / 10 + 1
        );
        println!("| page ({n} companies) | p50 ms | p95 ms | max ms |");
        println!("| --- | ---: | ---: | ---: |");
        for (label, path) in [
            ("overview /admin", "/admin".to_string()),
            ("companies, first page", "/admin/companies".to_string()),
            (
                "companies, search \"00\"",
                "/admin/companies?q=00".to_string(),
            ),
            ("companies, page at 90 % (keyset)", deep),
            (
                "companies, newest first",
                "/admin/companies?sort=newest".to_string(),
            ),
        ] {
            let mut times = Vec::with_capacity(requests);
            for _ in 0..requests {
                let req = Request::get(path.as_str())
                    .header(header::COOKIE, &session)
                    .body(Body::empty())?;
                let started = Instant::now();
                let (status, _, body) = send(&router, req).await;
                times.push(started.elapsed());
                anyhow::ensure!(
                    status == 200 && body.contains("</html>"),
                    "{path} answered {status}"
                );
            }
            times.sort();
            println!(
                "| {label} | {:.2} | {:.2} | {:.2} |",
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                percentile(&times, 1.0)
            );
        }
        anyhow::Ok(())
    })
}
