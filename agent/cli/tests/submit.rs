//! `submit` refuses a head that is not on the repository the hosts fetch from (the one pinned in
//! the app), before anything is sent, and accepts it once pushed: on the devnet, with the pinned
//! repository a bare one served over file://.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod support;

use dao_testkit::{git, Devnet};
use support::{fleet, form_at, Ctl};

#[test]
fn a_head_the_hosts_cannot_fetch_is_refused_until_it_is_pushed() {
    let dn = Devnet::start();
    let dir = tempfile::tempdir().unwrap();
    let work = fleet(dir.path());
    let served = dir.path().join("served.git");
    git(dir.path(), &["init", "-q", "--bare", "served.git"]);
    git(&work, &["push", "-q", served.to_str().unwrap(), "main"]);
    let genesis = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let pinned = format!("file://{}", served.display());
    let spec = form_at(&dn, dir.path(), &work, &pinned, &[]);
    let ctl = Ctl { dn: &dn, spec };

    std::fs::write(work.join("web.nix"), "{ services.nginx.enable = true; }\n").unwrap();
    git(&work, &["commit", "-q", "-am", "nginx"]);
    let head = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let repo = work.to_str().unwrap();
    let submit = [
        "submit",
        "--repo",
        repo,
        "--base",
        &genesis,
        "--head",
        &head,
        "--target",
        "1",
        "--description",
        "https://git.example.org/fleet/pulls/1",
    ];
    let e = ctl.fails(&submit, Some(1));
    assert!(
        e.contains("is on no branch or tag of file://") && e.contains("push it"),
        "{e}"
    );
    assert_eq!(ctl.ok(&["proposals"], None).as_array().unwrap().len(), 0);

    git(&work, &["push", "-q", served.to_str().unwrap(), "main"]);
    let p = ctl.ok(&submit, Some(1));
    assert_eq!(p["id"], 1);
}
