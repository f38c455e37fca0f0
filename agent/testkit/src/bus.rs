//! A private system-type dbus-daemon on a socket in a temporary directory; stopped, by its PID,
//! on drop.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

pub struct Bus {
    pid: u32,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

/// What the bus allows beyond the system bus's defaults.
pub enum Policy<'a> {
    /// The system bus's default policy (deny owning names and calling methods), then this
    /// policy file (the agent's shipped busconfig): what a real system bus does.
    Strict(&'a Path),
    /// Anyone may own names and call anything (tests that are not about the policy).
    Open,
}

/// The configuration of a system-type bus listening on `socket` with `policy`.
pub fn config(socket: &Path, policy: Policy<'_>) -> String {
    let (own, call, include) = match policy {
        Policy::Strict(file) => (
            "deny",
            "deny",
            format!("<include>{}</include>", file.display()),
        ),
        Policy::Open => ("allow", "allow", String::new()),
    };
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <{own} own="*"/>
    <{call} send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  {include}
</busconfig>
"#,
        socket = socket.display(),
    )
}

pub fn start(policy: Policy<'_>) -> Bus {
    let dir = tempfile::tempdir().unwrap();
    // Other uids must reach the socket.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = dir.path().join("bus.conf");
    std::fs::write(&conf, config(&dir.path().join("bus.sock"), policy)).unwrap();
    let mut child = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", conf.display()))
        .args(["--print-address=1", "--print-pid=1", "--fork"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = lines.next().unwrap().unwrap();
    let pid: u32 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    child.wait().unwrap();
    Bus {
        pid,
        address,
        _dir: dir,
    }
}
