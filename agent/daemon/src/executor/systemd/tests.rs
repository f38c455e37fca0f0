use super::bus::{CLD_DUMPED, CLD_EXITED, CLD_KILLED};
use super::*;

#[test]
fn unit_names_carry_the_store_hash_and_the_time() {
    let p = Path::new("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-h-24.05");
    assert_eq!(
        unit_name(p, 1700000000123),
        "dao-governance-switch-0123456789abcdfghijklmnpqrsvwxyz-1700000000123.service"
    );
    let other = unit_name(Path::new("/srv/toplevel"), 5);
    assert!(other.starts_with(UNIT_PREFIX), "{other}");
    let id = &other[UNIT_PREFIX.len()..other.len() - "-5.service".len()];
    assert_eq!(id.len(), 32, "{other}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{other}");
}

#[test]
fn object_paths_escape_like_systemd() {
    assert_eq!(
        unit_object_path("dbus.service"),
        "/org/freedesktop/systemd1/unit/dbus_2eservice"
    );
    assert_eq!(
        unit_object_path("dao-governance-switch-a-1.service"),
        "/org/freedesktop/systemd1/unit/dao_2dgovernance_2dswitch_2da_2d1_2eservice"
    );
}

#[test]
fn exits_are_described() {
    assert_eq!(describe_exit(CLD_EXITED, 3), "exit status 3");
    assert_eq!(describe_exit(CLD_KILLED, 9), "killed by signal 9 (SIGKILL)");
    assert_eq!(
        describe_exit(CLD_DUMPED, 11),
        "dumped core on signal 11 (SIGSEGV)"
    );
}

#[test]
fn errors_name_the_unit_and_the_journal() {
    let e = SwitchError::Failed {
        unit: "u.service".into(),
        result: "exit-code".into(),
        status: "exit status 3".into(),
    }
    .into_activate_error("/x/bin/switch-to-configuration switch".into())
    .to_string();
    assert!(e.contains("u.service"), "{e}");
    assert!(e.contains("exit status 3"), "{e}");
    assert!(e.contains("exit-code"), "{e}");
    assert!(e.contains("journalctl -u u.service"), "{e}");
}
