//! The configuration schema: valid files parse with their defaults, and each kind of bad file is
//! refused with every problem named by its key path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use dao_core::config::{parse, Network, RequestRate, Role, SwitchMode};
use std::path::Path;
use std::time::Duration;

fn example(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/examples")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn problems(text: &str) -> Vec<String> {
    parse(text)
        .map(|c| panic!("expected problems, parsed {c:?}"))
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

const MINIMAL: &str = r#"
roles = ["watcher"]
[chain]
algod_url = "http://127.0.0.1:4001"
app_id = 7
network = "devnet"
"#;

#[test]
fn the_documented_executor_example_is_valid() {
    let c = parse(&example("executor.toml")).unwrap();
    assert_eq!(c.roles, [Role::Watcher, Role::Executor]);
    assert_eq!(c.chain.network, Network::Testnet);
    let host = c.host.as_ref().unwrap();
    assert_eq!((host.id, host.name.as_str()), (1, "web-1"));
    let s = c.source.as_ref().unwrap();
    assert_eq!(s.allowed_remotes.len(), 2);
    assert_eq!(
        s.checkout_dir,
        Path::new("/var/lib/dao-governance/checkout")
    );
    assert_eq!(c.executor.build_timeout.0, Duration::from_secs(5400));
    assert_eq!(c.executor.health.timeout.0, Duration::from_secs(90));
    assert_eq!(c.executor.switch_mode, SwitchMode::Systemd);
    assert_eq!(c.executor.health.command.as_ref().unwrap().len(), 4);
}

#[test]
fn the_documented_watcher_example_is_valid_and_needs_no_host() {
    let c = parse(&example("watcher.toml")).unwrap();
    assert_eq!(c.roles, [Role::Watcher]);
    assert!(c.host.is_none() && c.source.is_none() && c.keys.account_key_file.is_none());
}

#[test]
fn defaults_fill_what_is_left_out() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.state_dir, Path::new("/var/lib/dao-governance"));
    assert_eq!(
        c.executor.system_profile,
        Path::new("/nix/var/nix/profiles/system")
    );
    assert_eq!(c.executor.fetch_timeout.0, Duration::from_secs(300));
    assert!(c.executor.health.check_chain && c.executor.health.check_remote);
    let with_host = format!("{MINIMAL}[host]\nid = 2\nname = \"db-2\"\n");
    let c = parse(&with_host).unwrap();
    assert_eq!(
        c.host.unwrap().flake_output,
        "nixosConfigurations.\"db-2\".config.system.build.toplevel"
    );
}

#[test]
fn a_bad_duration_is_named_by_its_key() {
    let text = format!("{MINIMAL}[executor.health]\ntimeout = \"90 sekunden\"\n");
    assert_eq!(
        problems(&text),
        ["executor.health.timeout: expected a duration like \"90s\", got \"90 sekunden\""]
    );
    let text = format!("{MINIMAL}[executor.health]\ntimeout = 90\n");
    assert_eq!(
        problems(&text),
        ["executor.health.timeout: invalid type: integer `90`, expected a duration like \"90s\""]
    );
}

#[test]
fn every_problem_in_a_file_is_reported_at_once() {
    let text = r#"
roles = ["watcher", "executor", "executor", "builder", 5]
state_dir = "var/lib/dao"
colour = "blue"

[chain]
algod_url = "ftp://algod.example.org"
algod_token_file = "/nix/store/abc-token"
app_id = -1
network = "moonnet"
allowed_program_hashes = ["NOTANADDRESS"]
retries = 3

[host]
id = "web"
name = "-bad host-"

[source]
allowed_remotes = ["git@github.com:org/repo.git", "https://user:secret@git.example.org/r.git", 42]

[executor]
switch_mode = "teleport"
operator_group = "Wheel"
build_timeout = "0s"
fetch_timeout = "2w"

[executor.health]
required_units = ["sshd", "nginx.service"]
command = ["curl", "-f"]
check_chain = "yes"

[keys]
account_key_file = "relative/key"
"#;
    let got = problems(text);
    let paths: Vec<&str> = got.iter().map(|p| p.split(": ").next().unwrap()).collect();
    for want in [
        "colour",
        "chain.app_id",
        "chain.retries",
        "executor.fetch_timeout",
        "executor.health.check_chain",
        "roles[2]",
        "roles[3]",
        "roles[4]",
        "state_dir",
        "chain.algod_url",
        "chain.algod_token_file",
        "chain.network",
        "chain.allowed_program_hashes[0]",
        "host.id",
        "host.name",
        "source.allowed_remotes[0]",
        "source.allowed_remotes[1]",
        "source.allowed_remotes[2]",
        "executor.switch_mode",
        "executor.operator_group",
        "executor.build_timeout",
        "executor.health.required_units[0]",
        "executor.health.command[0]",
        "keys.account_key_file",
    ] {
        assert!(
            paths.contains(&want),
            "no problem at {want}; got:\n{}",
            got.join("\n")
        );
    }
    // Nothing is said twice: a key with a type error is not also "missing".
    let mut dedup = paths.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), paths.len(), "{}", got.join("\n"));
    // The messages say what to do.
    let all = got.join("\n");
    for hint in [
        "unknown field `colour`",
        "invalid value: integer `-1`",
        "ssh://user@host/path",
        "contains a password",
        "inside /nix/store",
        "\"sshd\" is not a systemd unit name",
        "must be an absolute path",
        "unknown role \"builder\"",
        "\"executor\" is listed twice",
        "expected a string, got integer",
    ] {
        assert!(all.contains(hint), "no {hint:?} in:\n{all}");
    }
}

#[test]
fn an_executor_without_host_or_remotes_is_refused_but_may_omit_its_key() {
    let text = MINIMAL.replace("[\"watcher\"]", "[\"executor\"]");
    let got = problems(&text);
    assert_eq!(
        got,
        [
            "host: missing: the executor needs [host] with its id and name",
            "source: missing: the executor needs [source] with its allowed remotes",
        ]
    );
    let text = format!("{text}[host]\nid = 1\nname = \"h\"\n[source]\nallowed_remotes = []\n");
    assert_eq!(
        problems(&text),
        ["source.allowed_remotes: must list at least one remote of the governed repository"]
    );
    // Without keys.account_key_file the agent reads the systemd credential account-key.
    let c = parse(&text.replace(
        "allowed_remotes = []",
        "allowed_remotes = [\"https://g.example/r.git\"]",
    ))
    .unwrap();
    assert!(c.keys.account_key_file.is_none());
}

#[test]
fn missing_required_keys_are_named() {
    assert_eq!(
        problems(""),
        [
            "roles: missing: list the roles of this host, e.g. roles = [\"watcher\", \"executor\"]",
            "chain: missing: the [chain] section says which app to follow",
        ]
    );
    let got = problems("roles = []\n[chain]\n");
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got[0].starts_with("roles: must name at least one role"));
    assert!(got[1].starts_with("chain.algod_url: missing"));
    assert!(got[2].starts_with("chain.app_id: missing"));
    assert!(got[3].starts_with("chain.network: missing"));
}

#[test]
fn a_section_of_the_wrong_type_is_reported_once() {
    let got = problems("roles = [\"watcher\"]\nchain = 5\n");
    assert_eq!(got, ["chain: invalid type: integer `5`, expected a table"]);
}

#[test]
fn syntax_errors_name_the_line() {
    let got = problems("roles = [\"watcher\"]\n[chain\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("line 2"), "{got:?}");
}

#[test]
fn app_id_zero_and_bad_program_hash_checksum_are_refused() {
    let good = dao_core::address::Address([9; 32]).to_string();
    let first = if good.starts_with('A') { "B" } else { "A" };
    let typo = format!("{first}{}", &good[1..]);
    let text = MINIMAL.replace("app_id = 7", "app_id = 0")
        + &format!("allowed_program_hashes = [\"{good}\", \"{typo}\"]\n");
    let got = problems(&text);
    assert_eq!(
        got,
        [
            "chain.app_id: must be an application id above 0",
            "chain.allowed_program_hashes[1]: not a program hash in address form: \
             the checksum does not match: a character is mistyped",
        ]
    );
}

#[test]
fn the_documented_validator_example_is_valid() {
    use dao_core::config::VotePolicy;
    let c = parse(&example("validator.toml")).unwrap();
    assert_eq!(c.roles, [Role::Validator]);
    let v = c.validator.as_ref().unwrap();
    assert_eq!(v.policy, VotePolicy::Vote);
    assert_eq!(
        v.hosts
            .iter()
            .map(|h| (h.id, h.flake_output.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                1,
                "nixosConfigurations.\"web-1\".config.system.build.toplevel"
            ),
            (2, "nixosConfigurations.db.config.system.build.toplevel"),
        ]
    );
    assert_eq!(v.build_timeout.0, Duration::from_secs(3 * 3600));
    assert_eq!(v.eval_timeout.0, Duration::from_secs(1800));
    assert!(v.store.is_none());
    assert_eq!(
        c.source.unwrap().checkout_dir,
        Path::new("/var/lib/dao-validator/checkout")
    );
}

#[test]
fn a_validator_without_hosts_or_remotes_is_refused_with_each_named() {
    let text = format!(
        "{}\n[validator]\n",
        MINIMAL.replace("\"watcher\"", "\"validator\"")
    );
    let p = problems(&text);
    for want in [
        "source: missing: the validator needs [source]",
        "validator.hosts: must list the hosts",
    ] {
        assert!(
            p.iter().any(|x| x.starts_with(want)),
            "{want} not in {p:#?}"
        );
    }
    let none = problems(&MINIMAL.replace("\"watcher\"", "\"validator\""));
    assert!(
        none.iter().any(|x| x.starts_with("validator: missing")),
        "{none:#?}"
    );
}

#[test]
fn a_validators_hosts_policy_and_command_are_checked_one_by_one() {
    let text = r#"
roles = ["validator"]
[chain]
algod_url = "http://127.0.0.1:4001"
app_id = 7
network = "devnet"
[source]
allowed_remotes = ["file:///srv/fleet.git"]
[keys]
account_key_file = "/run/keys/v"
[validator]
hosts = [{ id = 1, name = "a" }, { id = 1, name = "b" }, { id = 2, name = "a" },
         { id = 3, name = "-bad" }, { id = 4, name = "c", colour = "red" }, "web"]
policy = "sometimes"
check_command = ["nix", "flake", "check"]
store = "relative/store"
build_timeout = "0s"
"#;
    let p = problems(text);
    for want in [
        "validator.hosts[1].id: host id 1 is listed twice",
        "validator.hosts[2].name: \"a\" is listed twice",
        "validator.hosts[3].name:",
        "validator.hosts[4]: expected { id = 1, name = \"web-1\" }: unknown field `colour`",
        "validator.hosts[5]: expected { id = 1",
        "validator.policy: unknown policy \"sometimes\"",
        "validator.check_command[0]: \"nix\" must be an absolute path",
        "validator.store: expected an absolute path",
        "validator.build_timeout: must be more than 0s",
    ] {
        assert!(
            p.iter().any(|x| x.starts_with(want)),
            "{want} not in {p:#?}"
        );
    }
}

#[test]
fn the_request_budget_is_optional_and_must_let_the_agent_follow() {
    assert_eq!(parse(MINIMAL).unwrap().chain.max_requests_per_second, None);
    let with = |v: &str| {
        MINIMAL.replace(
            "[chain]\n",
            &format!("[chain]\nmax_requests_per_second = {v}\n"),
        )
    };
    let rate = |v: &str| parse(&with(v)).unwrap().chain.max_requests_per_second;
    assert_eq!(rate("2"), Some(RequestRate(2.0)));
    assert_eq!(rate("0.75"), Some(RequestRate(0.75)));
    for bad in ["0", "0.2", "-1", "nan", "inf"] {
        let p = problems(&with(bad));
        assert!(
            p.iter()
                .any(|l| l.contains("chain.max_requests_per_second") && l.contains("at least 0.5")),
            "{bad}: {p:?}"
        );
    }
    assert!(!problems(&with("\"fast\"")).is_empty());
}

#[test]
fn the_fee_ceiling_defaults_to_ten_minimum_fees_and_cannot_be_below_one() {
    assert_eq!(parse(MINIMAL).unwrap().chain.max_fee, 10_000);
    let with = |v: &str| MINIMAL.replace("[chain]\n", &format!("[chain]\nmax_fee = {v}\n"));
    assert_eq!(parse(&with("250000")).unwrap().chain.max_fee, 250_000);
    let p = problems(&with("999"));
    assert!(
        p.iter()
            .any(|l| l.contains("chain.max_fee") && l.contains("minimum fee")),
        "{p:?}"
    );
    assert!(!problems(&with("-1")).is_empty());
}
