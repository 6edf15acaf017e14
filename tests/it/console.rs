//! The web console through the real router (`silo::web::router`): login (double-submit
//! CSRF, only super admins, the API's rate limit), the session cookie tied to the API
//! session (logout and a password change end it), CSRF on every change (nothing changes
//! without the token), escaping, the security headers, and the companies pages with search,
//! keyset pagination, create, deactivate and delete with the slug typed, each audited.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::*;

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value a Set-Cookie of this response gives `name` ("" when it clears it).
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v[name.len() + 1..].split(';').next().unwrap().to_string())
    }

    /// The hidden csrf field of the page's first form.
    fn csrf(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.html[at..at + 64].to_string()
    }
}

struct Browser {
    router: axum::Router,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(test: &TestApp) -> Browser {
        Browser {
            router: silo::web::router(test.app.clone()),
            cookies: Vec::new(),
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !jar.is_empty() {
            req = req.header(header::COOKIE, jar.join("; "));
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let body = match form {
            Some(fields) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded::to_string(fields).unwrap())
            }
            None => Body::empty(),
        };
        let res = self
            .router
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap();
        let page = Page {
            status: parts.status,
            headers: parts.headers,
            html: String::from_utf8_lossy(&bytes).into_owned(),
        };
        for name in ["silo_console", "silo_console_login"] {
            if let Some(value) = page.cookie(name) {
                self.cookies.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value));
                }
            }
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    /// Logs in as `email`; returns the last page.
    async fn login(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let csrf = form.csrf();
        self.post(
            "/admin/login",
            &[("email", email), ("password", password), ("csrf", &csrf)],
        )
        .await
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_string()
}

fn audited(test: &TestApp, action: &str) -> i64 {
    let conn = test.app.primary.get().unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM audit_log WHERE action = ?1",
        [action],
        |r| r.get(0),
    )
    .unwrap()
}

fn company_count(test: &TestApp) -> i64 {
    let conn = test.app.primary.get().unwrap();
    conn.query_row("SELECT COUNT(*) FROM companies", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_for_super_admins_with_a_session_tied_to_the_api_session() {
    let test = TestApp::spawn().await;
    let acme = test.create_company("Acme").await;
    let (admin, _) = test
        .create_user(acme["id"].as_str().unwrap(), "admin")
        .await;
    let mut b = Browser::new(&test);

    // Not logged in: every page sends to the login page; the login page has the headers.
    let page = b.get("/admin").await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
    let form = b.get("/admin/login").await;
    let csp = form.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(form.headers["x-frame-options"], "DENY");
    let login_cookie = form.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"),
        "{login_cookie}"
    );
    assert!(
        !login_cookie.contains("Secure"),
        "plain HTTP: {login_cookie}"
    );

    // The login form's token must match its cookie.
    let page = b
        .post(
            "/admin/login",
            &[
                ("email", ROOT_EMAIL),
                ("password", ROOT_PASSWORD),
                ("csrf", "0"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(b.cookies.iter().all(|(k, _)| k != "silo_console"));
    // Wrong password: the API's answer, on the form again.
    let page = b.login(ROOT_EMAIL, "wrong-password").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(
        page.html.contains("wrong email or password"),
        "{}",
        page.html
    );
    // A company admin is refused, and the API session the login opened is ended.
    let sessions_before = test.app.console_sessions.len();
    let page = b.login(admin["email"].as_str().unwrap(), PASSWORD).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.html.contains("for super admins"), "{}", page.html);
    assert_eq!(test.app.console_sessions.len(), sessions_before);

    // The super admin gets in; the cookie is HttpOnly and SameSite=Strict.
    let page = b.login(ROOT_EMAIL, ROOT_PASSWORD).await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin"),
        "{}",
        page.html
    );
    let set = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        set.iter().any(|c| c.starts_with("silo_console=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.contains("Path=/admin")),
        "{set:?}"
    );
    let overview = b.get("/admin").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.html);
    assert!(overview.html.contains("active companies") && overview.html.contains(ROOT_EMAIL));
    assert!(overview.headers["cache-control"] == "no-store");
    assert_eq!(audited(&test, "console.login"), 1);

    // Logout ends it: the old cookie no longer opens a page.
    let old = b.cookies.clone();
    let csrf = overview.csrf();
    let page = b.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
    b.cookies = old;
    assert_eq!(b.get("/admin").await.location(), "/admin/login");

    // A password change through the API ends the console session too.
    let mut b = Browser::new(&test);
    assert_eq!(
        b.login(ROOT_EMAIL, ROOT_PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
    let r = test
        .post(
            "/api/me/password",
            &test.root_token,
            json!({"current_password": ROOT_PASSWORD, "new_password": "another-password-42"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let page = b.get("/admin").await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin/login")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companies_are_listed_created_changed_and_deleted_only_with_the_csrf_token() {
    let test = TestApp::spawn().await;
    let mut b = Browser::new(&test);
    assert_eq!(
        b.login(ROOT_EMAIL, ROOT_PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let list = b.get("/admin/companies").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.html);
    let csrf = list.csrf();

    // Without the token, or with a wrong one (form or header), nothing is created.
    let before = company_count(&test);
    for page in [
        b.post("/admin/companies", &[("name", "Sneaky")]).await,
        b.post(
            "/admin/companies",
            &[("name", "Sneaky"), ("csrf", &"0".repeat(64))],
        )
        .await,
        b.send(
            Method::POST,
            "/admin/companies",
            Some(&[("name", "Sneaky")]),
            &[("x-csrf-token", "nope")],
        )
        .await,
    ] {
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
        assert!(page.html.contains("Nothing was changed"), "{}", page.html);
    }
    assert_eq!(company_count(&test), before);

    // Created with the token; markup (an industry, a search) is shown as text, never run.
    let xss = "<script>alert(1)</script>";
    let escaped = "&#60;script&#62;alert(1)&#60;/script&#62;";
    let page = b
        .post(
            "/admin/companies",
            &[
                ("name", "Acme"),
                ("slug", "xss"),
                ("industry", xss),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let company_path = page.location().to_string();
    assert!(company_path.starts_with("/admin/companies/"));
    assert_eq!(audited(&test, "company.create"), 1);
    let search = format!("/admin/companies?q={}", urlencode(xss));
    for path in [search.as_str(), company_path.as_str()] {
        let page = b.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        assert!(!page.html.contains(xss), "{path} renders markup");
        assert!(page.html.contains(escaped), "{}", page.html);
    }
    // The error naming a refused character is escaped too.
    let page = b
        .post("/admin/companies", &[("name", xss), ("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!page.html.contains("<script>"));
    // A bad name is refused on the form, which keeps what was typed.
    let page = b
        .post("/admin/companies", &[("name", "  "), ("csrf", &csrf)])
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.html
    );
    assert!(page.html.contains("class=\"error\""));
    let page = b
        .post(
            "/admin/companies",
            &[("name", "Other"), ("slug", "xss"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);

    // Search and keyset pagination over 60 more companies; htmx gets the rows only.
    for i in 0..60 {
        test.create_company(&format!("Firm {i:02}")).await;
    }
    let first = b.get("/admin/companies?q=firm").await;
    assert!(
        first.html.contains("61 companies") || first.html.contains("60 companies"),
        "{}",
        first.html
    );
    assert_eq!(
        first.html.matches("<tr>").count(),
        1 + 50,
        "header row and 50 companies"
    );
    assert!(first.html.contains("Firm 00") && !first.html.contains("Firm 50"));
    let at = first.html.find("hx-get=\"/admin/companies?").unwrap() + 8;
    let next = first.html[at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = b
        .send(Method::GET, &next, None, &[("hx-request", "true")])
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(!second.html.contains("<html"), "a partial");
    assert!(
        second.html.contains("Firm 50")
            && second.html.contains("Firm 59")
            && !second.html.contains("Firm 49"),
        "{}",
        second.html
    );
    let newest = b.get("/admin/companies?sort=newest&q=firm").await;
    let (i59, i00) = (
        newest.html.find("Firm 59").unwrap(),
        newest.html.find("Firm 10").unwrap(),
    );
    assert!(i59 < i00);
    assert_eq!(
        b.get("/admin/companies?sort=bogus").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Deactivate and activate, audited.
    let id = company_path.rsplit('/').next().unwrap().to_string();
    let page = b
        .post(
            &format!("/admin/companies/{id}/active"),
            &[("active", "false"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("badge off"));
    let api = test
        .get(&format!("/api/admin/companies/{id}"), &test.root_token)
        .await;
    assert_eq!(api.body["is_active"], false, "{}", api.body);
    assert_eq!(audited(&test, "company.update"), 1);

    // Delete needs the slug typed; a wrong one changes nothing.
    let page = b
        .post(
            &format!("/admin/companies/{id}/delete"),
            &[("confirm", "xs"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.html.contains("type the slug xss exactly"),
        "{}",
        page.html
    );
    assert_eq!(
        test.get(&format!("/api/admin/companies/{id}"), &test.root_token)
            .await
            .status,
        StatusCode::OK
    );
    let page = b
        .post(
            &format!("/admin/companies/{id}/delete"),
            &[("confirm", "xss"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        (page.status, page.location()),
        (StatusCode::SEE_OTHER, "/admin/companies")
    );
    assert_eq!(
        test.get(&format!("/api/admin/companies/{id}"), &test.root_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(audited(&test, "company.delete"), 1);
    let page = b.get(&format!("/admin/companies/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // The static files are the embedded ones.
    let js = b.get("/admin/static/htmx-2.0.11.min.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(
        js.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        b.get("/admin/static/../primary.db").await.status,
        StatusCode::NOT_FOUND
    );
}
