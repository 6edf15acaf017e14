//! `silo company` and `silo user` through the real binary, and the CLI definition itself.

use clap::CommandFactory;

#[test]
fn the_cli_definition_is_consistent() {
    silo::cli::Cli::command().debug_assert();
}

#[test]
fn the_cli_refuses_traversal_names_and_creates_lists_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let silo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    for name in ["..", "a/b", "%2e%2e", ".hidden"] {
        let out = silo(&["company", "create", "--name", name]);
        assert!(!out.status.success(), "{name:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid name"), "{name:?}: {stderr}");
    }
    let out = silo(&["company", "create", "--name", "Acme, Inc.", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["slug"], "acme-inc");
    assert!(dir.path().join("companies/acme-inc/company.db").is_file());
    let user = [
        "user",
        "create",
        "--email",
        "Boss@Acme.test",
        "--password",
        "long-enough-1",
    ];
    let out = silo(&[&user[..], &["--role", "admin", "--company", "acme-inc"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin boss@acme.test"));
    let again = silo(&[&user[..], &["--role", "admin", "--company", "acme-inc"]].concat());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let orphan = silo(&[&user[..], &["--role", "viewer"]].concat());
    assert!(!orphan.status.success());
    assert!(String::from_utf8_lossy(&orphan.stderr).contains("company_id"));
    let su = silo(
        &[
            &user[..],
            &["--role", "super_admin", "--company", "acme-inc"],
        ]
        .concat(),
    );
    assert!(!su.status.success());
    let out = silo(&["company", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let out = silo(&["company", "delete", "acme-inc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("companies/acme-inc").exists());
    let out = silo(&["company", "delete", "acme-inc"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no company"));
}
