//! Preflight refuses apps that are not released, not sealed, or govern another repository.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use algonaut::algod::v2::SourceMap;
use common::*;
use dao_chain::preflight::{preflight, PreflightError};
use dao_core::address::Address;

#[tokio::test]
async fn preflight_accepts_the_released_sealed_app_and_refuses_the_rest() {
    let dn = Devnet::start();
    let node = dn.node();

    // Sealed, released, right repository: accepted.
    let dao = form(&dn, true).await;
    let ok = preflight(&node, dao.app.app_id, &[REPO], &[])
        .await
        .unwrap();
    assert!(ok.global.sealed);
    assert_eq!(
        ok.program_hash,
        dao_chain::preflight::released_program_hashes()[0]
    );

    // Another repository.
    let e = preflight(&node, dao.app.app_id, &["https://evil.example/x.git"], &[])
        .await
        .unwrap_err();
    assert!(matches!(e, PreflightError::RepoMismatch { .. }), "{e}");
    assert!(e.to_string().contains("evil.example"), "{e}");

    // Missing app.
    let e = preflight(&node, 987_654, &[REPO], &[]).await.unwrap_err();
    assert!(matches!(e, PreflightError::AppMissing { .. }), "{e}");

    // A malformed allow-list entry.
    let e = preflight(&node, dao.app.app_id, &[REPO], &["nope".into()])
        .await
        .unwrap_err();
    assert!(matches!(e, PreflightError::BadAllowedHash { .. }), "{e}");

    // Unsealed.
    let unsealed = form(&dn, false).await;
    let e = preflight(&node, unsealed.app.app_id, &[REPO], &[])
        .await
        .unwrap_err();
    assert!(matches!(e, PreflightError::NotSealed { .. }), "{e}");
    assert!(e.to_string().contains("not sealed"), "{e}");
}

#[tokio::test]
async fn a_tampered_program_is_refused_unless_explicitly_allowed() {
    let dn = Devnet::start();
    let node = dn.node();
    let source = std::fs::read_to_string(repo_root().join("contracts/app.teal")).unwrap();
    assert!(source.contains("#define MAX_URL 256"));
    let tampered = source.replace("#define MAX_URL 256", "#define MAX_URL 255");
    let client = algonaut::algod::v2::Algod::new(&dn.url, &dn.token).unwrap();
    let compiled = client
        .teal_compile(tampered.as_bytes(), SourceMap::Skip)
        .await
        .unwrap();
    let (released, clear) = released_programs();
    assert_ne!(compiled.0, released);
    let creator = dn.account(1);
    let app = node
        .create_app(&creator, &compiled.0, &clear, &test_rules(), REPO, [7; 20])
        .await
        .unwrap();
    app.set_member(&creator, &dn.account(2).address(), 1)
        .await
        .unwrap();
    app.seal(&creator).await.unwrap();

    let e = preflight(&node, app.app_id, &[REPO], &[])
        .await
        .unwrap_err();
    let hash = Address::of_program(&compiled.0);
    match &e {
        PreflightError::ProgramNotAllowed { hash: h, .. } => assert_eq!(*h, hash),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains(&hash.to_string()), "{e}");

    // An operator may allow it explicitly (config chain.allowed_program_hashes).
    let ok = preflight(&node, app.app_id, &[REPO], &[hash.to_string()])
        .await
        .unwrap();
    assert_eq!(ok.program_hash, hash);
}
