//! /api/conversations and their messages: personal to their owner, validated, and the RAG
//! fields of assistant replies.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_personal_and_validated() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Chat").await;
    let t = &c.analyst;
    let (doc, _) = ingest(&test, t, "a.txt", b"Solar.", "user").await;
    let r = test
        .post(
            "/api/conversations",
            t,
            json!({"title": " Energy Q&A ", "selected_document_ids": [doc]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["title"], "Energy Q&A");
    assert_eq!(r.body["selected_document_ids"], json!([doc]));
    assert_eq!(r.body["message_count"], 0);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/conversations/{id}");

    // Validation.
    assert_invalid(
        &test
            .post("/api/conversations", t, json!({"title": 1}))
            .await,
        "title",
    );
    assert_invalid(
        &test
            .post(
                "/api/conversations",
                t,
                json!({"selected_document_ids": ["nope"]}),
            )
            .await,
        "selected_document_ids[0]",
    );
    assert_names_nothing(
        &test
            .post(
                "/api/conversations",
                t,
                json!({"selected_document_ids": [MISSING]}),
            )
            .await,
        "selected_document_ids[0]",
    );
    // The error names the missing one, after valid ones.
    assert_names_nothing(
        &test
            .post(
                "/api/conversations",
                t,
                json!({"selected_document_ids": [doc, MISSING]}),
            )
            .await,
        "selected_document_ids[1]",
    );
    // A document the caller may not see cannot be selected either.
    assert_names_nothing(
        &test
            .post(
                "/api/conversations",
                &c.analyst2,
                json!({"selected_document_ids": [doc]}),
            )
            .await,
        "selected_document_ids[0]",
    );
    assert_invalid(
        &test
            .post("/api/conversations", t, json!({"colour": "red"}))
            .await,
        "colour",
    );
    let r = test
        .call(
            axum::http::Method::POST,
            "/api/conversations",
            Some(t),
            None,
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    // Only the owner reaches it.
    assert_eq!(test.get("/api/conversations", t).await.body["total"], 1);
    assert_eq!(
        test.get("/api/conversations", &c.analyst2).await.body["total"],
        0
    );
    assert_error(
        &test.get(&path, &c.analyst2).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.delete(&path, &c.analyst2).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test
            .post(
                &format!("{path}/messages"),
                &c.analyst2,
                json!({"content": "hi"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let r = test
        .patch(
            &path,
            t,
            json!({"title": "Renamed", "selected_document_ids": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "Renamed");
    assert!(r.body["selected_document_ids"].is_null());
    assert_eq!(test.get(&path, t).await.body["title"], "Renamed");
    assert_invalid(&test.get("/api/conversations?limit=500", t).await, "limit");

    // Messages and the RAG fields.
    let r = test
        .post(
            &format!("{path}/messages"),
            t,
            json!({"content": "How much solar?"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        (
            r.body["role"].as_str(),
            r.body["low_confidence_warning"].as_bool()
        ),
        (Some("user"), Some(false))
    );
    let reply = json!({
        "role": "assistant",
        "content": "About 40%.",
        "retrieved_documents": [{"document_id": doc, "chunk_id": "c", "content": "Solar.", "similarity_score": 0.8, "page_number": 1}],
        "sources": [{"id": doc, "filename": "a.txt", "relevance_score": 0.8, "cited_text": "Solar."}],
        "reasoning_chain": [{"step": 1, "agent": "ResearchAgent", "action": "retrieve_documents"}],
        "grounding_evidence": {"score": 0.2, "verified_claims": [], "unverified_claims": ["40%"]},
        "agents_involved": ["ResearchAgent", "GroundingAgent"],
        "confidence_score": 0.25
    });
    let r = test
        .post(&format!("{path}/messages"), t, reply.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["low_confidence_warning"], true);
    assert_eq!(r.body["sources"], reply["sources"]);
    assert_eq!(r.body["grounding_evidence"], reply["grounding_evidence"]);
    assert_eq!(r.body["conversation_id"], id.as_str());
    let msgs = test.get(&format!("{path}/messages"), t).await.body;
    assert_eq!(msgs["total"], 2);
    assert_eq!(msgs["items"][0]["content"], "How much solar?");
    assert_eq!(test.get(&path, t).await.body["message_count"], 2);

    let m = |patch: serde_json::Value| {
        let mut body = reply.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let msg_path = format!("/api/conversations/{id}/messages");
    let post = |body| test.post(&msg_path, t, body);
    assert_invalid(
        &post(m(json!({"confidence_score": 1.5}))).await,
        "confidence_score",
    );
    assert_invalid(&post(m(json!({"sources": {"id": 1}}))).await, "sources");
    assert_invalid(&post(m(json!({"sources": [1]}))).await, "sources[0]");
    assert_invalid(
        &post(m(json!({"grounding_evidence": [1]}))).await,
        "grounding_evidence",
    );
    assert_invalid(
        &post(m(json!({"agents_involved": [1]}))).await,
        "agents_involved[0]",
    );
    assert_invalid(&post(m(json!({"role": "robot"}))).await, "role");
    assert_invalid(&post(json!({"content": "   "})).await, "content");
    assert_invalid(&post(json!({})).await, "content");
    // Viewers chat, but may not write assistant replies (agents:execute).
    let vconv = test
        .post("/api/conversations", &c.viewer, json!({}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = test
        .post(
            &format!("/api/conversations/{vconv}/messages"),
            &c.viewer,
            json!({"content": "x", "role": "assistant"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    // Deleting the conversation puts it in the trash with its messages: unreachable, but
    // kept until it is restored or purged.
    assert_eq!(test.delete(&path, t).await.status, StatusCode::NO_CONTENT);
    assert_error(
        &test.get(&format!("{path}/messages"), t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let messages = || {
        in_company(&test, c.key, |conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))?)
        })
    };
    assert_eq!(messages().await, 2);
    // Only a company admin deletes permanently.
    let reply = test.delete(&format!("{path}?permanent=true"), t).await;
    assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(messages().await, 2);
}
