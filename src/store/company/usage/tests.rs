//! Tests of `usage`, on real temporary SQLite files.

use super::*;
use crate::store::company::testdb;

#[allow(clippy::too_many_arguments)]
fn usage(
    user: &str,
    provider: &str,
    model: &str,
    op: &str,
    p: i64,
    c: i64,
    cost: f64,
    at: &str,
) -> NewUsage {
    NewUsage {
        uuid: crate::store::company::new_uuid(),
        user_id: user.into(),
        provider: provider.into(),
        model: model.into(),
        operation_type: op.into(),
        prompt_tokens: p,
        completion_tokens: c,
        estimated_cost: cost,
        currency: "USD".into(),
        created_at: at.into(),
        ..Default::default()
    }
}

#[test]
fn summary_sums_and_groups() {
    let db = testdb::open();
    let c = &db.conn;
    let rows = [
        usage(
            "a",
            "custom",
            "deepseek",
            "chat",
            100,
            50,
            0.5,
            "2025-01-01T10:00:00.000Z",
        ),
        usage(
            "a",
            "custom",
            "deepseek",
            "chat",
            10,
            5,
            0.25,
            "2025-01-02T10:00:00.000Z",
        ),
        usage(
            "b",
            "ollama",
            "llama3",
            "embedding",
            7,
            0,
            0.0,
            "2025-01-02T11:00:00.000Z",
        ),
        usage(
            "b",
            "custom",
            "deepseek",
            "analysis",
            1,
            1,
            1.0,
            "2025-01-03T00:00:00.000Z",
        ),
    ];
    for r in &rows {
        insert(c, r).unwrap();
    }
    let q = SummaryQuery {
        group_by: vec![GroupKey::Provider],
        ..Default::default()
    };
    let (groups, totals) = summary(c, &q).unwrap();
    assert_eq!(totals.requests, 4);
    assert_eq!(totals.total_tokens, 150 + 15 + 7 + 2);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].key["provider"], "custom");
    assert_eq!(groups[0].totals.total_tokens, 167);
    assert!((groups[0].totals.estimated_cost - 1.75).abs() < 1e-9);
    let q = SummaryQuery {
        from: Some("2025-01-02T00:00:00.000Z".into()),
        to: Some("2025-01-03T00:00:00.000Z".into()),
        group_by: vec![GroupKey::Day, GroupKey::User],
        ..Default::default()
    };
    let (groups, totals) = summary(c, &q).unwrap();
    assert_eq!(totals.requests, 2);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].key["day"], "2025-01-02");
    assert_eq!(groups[0].key["user"], "a");
    assert_eq!(groups[1].totals.prompt_tokens, 7);
    let q = SummaryQuery {
        user_id: Some("b".into()),
        group_by: vec![GroupKey::OperationType, GroupKey::Model],
        ..Default::default()
    };
    let (groups, _) = summary(c, &q).unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].key["operation_type"], "analysis");
}

#[test]
fn plan_splits_ranges_into_whole_days_and_edges() {
    let raw = |f: &str, t: &str| Source::Raw {
        from: Some(f.into()),
        to: Some(t.into()),
    };
    let days = |f: Option<&str>, t: Option<&str>| Source::Rollup {
        from_day: f.map(Into::into),
        to_day: t.map(Into::into),
    };
    assert_eq!(plan(None, None), vec![days(None, None)]);
    assert_eq!(
        plan(
            Some("2025-01-01T00:00:00.000Z"),
            Some("2025-01-03T00:00:00.000Z")
        ),
        vec![days(Some("2025-01-01"), Some("2025-01-03"))]
    );
    assert_eq!(
        plan(
            Some("2025-01-01T10:00:00.000Z"),
            Some("2025-01-03T06:00:00.000Z")
        ),
        vec![
            raw("2025-01-01T10:00:00.000Z", "2025-01-02T00:00:00.000Z"),
            days(Some("2025-01-02"), Some("2025-01-03")),
            raw("2025-01-03T00:00:00.000Z", "2025-01-03T06:00:00.000Z"),
        ]
    );
    assert_eq!(
        plan(
            Some("2025-01-01T10:00:00.000Z"),
            Some("2025-01-01T12:00:00.000Z")
        ),
        vec![raw("2025-01-01T10:00:00.000Z", "2025-01-01T12:00:00.000Z")]
    );
    assert_eq!(
        plan(
            Some("2025-01-01T10:00:00.000Z"),
            Some("2025-01-02T12:00:00.000Z")
        ),
        vec![raw("2025-01-01T10:00:00.000Z", "2025-01-02T12:00:00.000Z")]
    );
    assert_eq!(
        plan(None, Some("2025-01-03T06:00:00.000Z")),
        vec![
            days(None, Some("2025-01-03")),
            raw("2025-01-03T00:00:00.000Z", "2025-01-03T06:00:00.000Z")
        ]
    );
}

/// The rollup path answers exactly what a plain GROUP BY over the raw rows answers, for
/// every grouping and awkward ranges, after inserts, updates and deletes.
#[test]
fn rollup_summaries_equal_raw_aggregation() {
    let db = testdb::open();
    let c = &db.conn;
    let providers = ["custom", "ollama"];
    for i in 0..500i64 {
        let at = format!(
            "2025-01-{:02}T{:02}:{:02}:00.000Z",
            1 + i % 9,
            (i * 7) % 24,
            i % 60
        );
        let u = usage(
            &format!("u{}", i % 3),
            providers[(i % 2) as usize],
            &format!("m{}", i % 2),
            ["chat", "analysis"][(i % 5 == 0) as usize],
            i,
            2 * i,
            i as f64 / 1000.0,
            &at,
        );
        insert(c, &u).unwrap();
    }
    c.execute("DELETE FROM token_usage WHERE prompt_tokens % 7 = 0", [])
        .unwrap();
    c.execute("UPDATE token_usage SET created_at = '2025-01-05T12:00:00.000Z', prompt_tokens = 1 WHERE prompt_tokens % 11 = 0", []).unwrap();
    let ranges = [
        (None, None),
        (
            Some("2025-01-02T00:00:00.000Z"),
            Some("2025-01-06T00:00:00.000Z"),
        ),
        (
            Some("2025-01-02T13:30:00.000Z"),
            Some("2025-01-06T05:00:00.000Z"),
        ),
        (
            Some("2025-01-03T01:00:00.000Z"),
            Some("2025-01-03T20:00:00.000Z"),
        ),
        (None, Some("2025-01-04T08:00:00.000Z")),
        (Some("2025-01-04T08:00:00.000Z"), None),
    ];
    let groupings: [&[GroupKey]; 4] = [
        &[],
        &[GroupKey::Provider],
        &[GroupKey::Day, GroupKey::User],
        &[
            GroupKey::OperationType,
            GroupKey::Model,
            GroupKey::Provider,
            GroupKey::User,
            GroupKey::Day,
        ],
    ];
    for (from, to) in ranges {
        for group_by in groupings {
            for user in [None, Some("u1")] {
                let q = SummaryQuery {
                    from: from.map(Into::into),
                    to: to.map(Into::into),
                    user_id: user.map(Into::into),
                    group_by: group_by.to_vec(),
                };
                let (groups, totals) = summary(c, &q).unwrap();
                let mut raw = aggregate(
                    c,
                    &Source::Raw {
                        from: q.from.clone(),
                        to: q.to.clone(),
                    },
                    user,
                    group_by,
                )
                .unwrap();
                raw.retain(|(_, t)| t.requests > 0);
                raw.sort_by(|a, b| a.0.cmp(&b.0));
                if group_by.is_empty() {
                    let t = raw.first().map(|r| r.1.clone()).unwrap_or_default();
                    assert_eq!(
                        (totals.requests, totals.total_tokens),
                        (t.requests, t.total_tokens)
                    );
                    assert!((totals.estimated_cost - t.estimated_cost).abs() < 1e-9);
                    continue;
                }
                assert_eq!(groups.len(), raw.len(), "{q:?}");
                for (g, (key, t)) in groups.iter().zip(&raw) {
                    let values: Vec<&str> = group_by
                        .iter()
                        .map(|k| g.key[k.name()].as_str().unwrap())
                        .collect();
                    assert_eq!(
                        values,
                        key.iter().map(String::as_str).collect::<Vec<_>>(),
                        "{q:?}"
                    );
                    assert_eq!(
                        (
                            g.totals.requests,
                            g.totals.prompt_tokens,
                            g.totals.total_tokens
                        ),
                        (t.requests, t.prompt_tokens, t.total_tokens),
                        "{q:?}"
                    );
                    assert!((g.totals.estimated_cost - t.estimated_cost).abs() < 1e-9);
                }
            }
        }
    }
}

#[test]
fn group_keys_parse_only_known_names() {
    assert_eq!(
        GroupKey::parse("operation_type"),
        Some(GroupKey::OperationType)
    );
    assert_eq!(GroupKey::parse("user_id"), None);
    assert_eq!(GroupKey::parse("provider; DROP TABLE token_usage"), None);
}
