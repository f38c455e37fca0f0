//! A real systemd (the host's `/lib/systemd/systemd`, 252 on Debian 12) as PID 1 of an isolated
//! container, with a D-Bus system bus inside, for tests of code that talks to systemd.
//!
//! Isolation (never relax it: systemd as PID 1 in a namespace that shares the host's writable
//! filesystem once wiped the machine's /tmp and changed machine-wide sysctls):
//! - new pid, mount (propagation private), uts, ipc and cgroup namespaces (`unshare`);
//! - every mount but /proc made read-only in the container's mount namespace (a bind remount
//!   changes that mount's flag only, never the file system); /proc/sys read-only too, so no
//!   machine-wide sysctl can change;
//! - private tmpfs on /run, /tmp, /var/tmp, /var/log, /var/lib/systemd, /var/cache, /dev/shm;
//! - the host's cgroup hierarchies unmounted; a cgroup2 mounted instead whose root is a cgroup
//!   created for this container (`dao-testkit-*` in the host's cgroup2 hierarchy), which the
//!   container's process entered before unsharing the cgroup namespace;
//! - `SYSTEMD_UNIT_PATH` set to this container's own stub units only (no trailing colon), so
//!   none of the host's units (tmpfiles, sysctl, ...) is ever seen;
//! - systemd logs to `/dev/kmsg`, which is a FIFO of the container's (bound over it) that a
//!   thread of the test process drains into a log file; and
//!   /dev/null is bound over /dev/console: nothing reaches the host's kernel log or console.
//!
//! The host's file system is visible read-only at the same paths, so fixtures (a toplevel with
//! its `bin/switch-to-configuration`) go under a directory outside those private mounts (the
//! caller's `base`, e.g. `CARGO_TARGET_TMPDIR`); [`SystemdContainer::share`] is writable on both
//! sides, at the same path. The bus is reached from the host through
//! `/proc/PID/root/run/dbus/system_bus_socket`.
//!
//! Stopping: the container's PID 1 is killed by its PID on drop (the namespace dies with it) and
//! its cgroups are removed. Should the test process die first, `setpriv --pdeathsig` and
//! `unshare --kill-child` take the container down with it.
//!
//! Needs root, util-linux (`unshare`, `setpriv`, `mount`), systemd and dbus-daemon.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Directories that are private (empty tmpfs) inside the container: fixtures there are invisible.
pub const PRIVATE_DIRS: [&str; 7] = [
    "/run",
    "/tmp",
    "/var/tmp",
    "/var/log",
    "/var/lib/systemd",
    "/var/cache",
    "/dev/shm",
];

const SYSTEMD: &str = "/lib/systemd/systemd";
const DBUS_DAEMON: &str = "/usr/bin/dbus-daemon";
const TARGET: &str = "dao-testkit.target";

/// Runs as PID 1 of the new namespaces, makes the isolation, then becomes systemd.
/// Arguments: the container's state directory, its log directory, then writable directories.
const INNER: &str = r#"set -eu
STATE="$1"; LOGS="$2"; shift 2
# The host's cgroup hierarchies go (systemd gets a cgroup2 rooted at our namespace below).
umount -R /sys/fs/cgroup
# Every mount read-only, in this mount namespace only: a bind remount sets the mount's flag and
# never touches the file system. /proc stays writable (it is this pid namespace's own), but
# /proc/sys does not: no machine-wide sysctl can change.
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r mp; do
  mp=$(printf '%b' "$mp")
  case "$mp" in /proc|/proc/*) continue;; esac
  mount -o remount,bind,ro "$mp"
done
for p in /proc/sys /proc/sysrq-trigger; do
  [ -e "$p" ] || continue
  mount --bind "$p" "$p"
  mount -o remount,bind,ro "$p"
done
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# The test's directories may live under /tmp (a checkout there): hold them on /mnt while the
# private tmpfs go on, then move them back to the same paths.
mount -t tmpfs -o mode=0700 tmpfs /mnt
n=0
for d in "$STATE" "$LOGS" "$@"; do
  n=$((n + 1)); mkdir "/mnt/$n"; mount --bind "$d" "/mnt/$n"
done
for d in /run /tmp /var/tmp /var/log /var/lib/systemd /var/cache /dev/shm; do
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$d"
done
chmod 1777 /tmp /var/tmp /dev/shm
n=0
for d in "$STATE" "$LOGS" "$@"; do
  n=$((n + 1)); mkdir -p "$d"; mount --move "/mnt/$n" "$d"
done
for d in "$LOGS" "$@"; do
  mount -o remount,bind,rw "$d"
done
# systemd logs to "kmsg": here a FIFO the test process drains into a file, not the host's kernel
# log. Nothing may reach the host's console either.
if [ -e /dev/kmsg ]; then mount --bind "$LOGS/kmsg" /dev/kmsg; fi
if [ -e /dev/console ]; then mount --bind /dev/null /dev/console; fi
exec env -i container=dao-testkit SYSTEMD_UNIT_PATH="$STATE/units" \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  /lib/systemd/systemd --system --unit=dao-testkit.target --log-target=kmsg \
  --log-level=info --show-status=no
"#;

/// systemd as PID 1 of an isolated container; stopped on drop.
pub struct SystemdContainer {
    unshare: Child,
    pid1: u32,
    cgroup: PathBuf,
    dir: tempfile::TempDir,
    drain: Option<std::thread::JoinHandle<()>>,
    /// How long `start` took until systemd was running and on the bus.
    pub ready_after: Duration,
}

/// Ends the thread that drains the log FIFO.
const DRAIN_STOP: &str = "\u{0}dao-testkit: stop draining";

/// Copies what is written to the FIFO at `fifo` into the file `log`, line by line, until
/// [`DRAIN_STOP`]. The FIFO is held open for writing too, so it never ends nor blocks a writer.
fn drain_log(fifo: &Path, log: &Path) -> std::thread::JoinHandle<()> {
    use std::io::BufRead;
    let input = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(fifo)
        .unwrap();
    let mut output = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(input).lines() {
            let Ok(line) = line else { return };
            if line == DRAIN_STOP {
                return;
            }
            let _ = writeln!(output, "{line}");
        }
    })
}

fn unit(description: &str, body: &str) -> String {
    format!("[Unit]\nDescription={description}\n{body}")
}

/// Why the kernel refuses the namespaces, if it does (checked once).
fn namespaces_refused() -> Option<&'static str> {
    static PROBE: OnceLock<Option<String>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let out = Command::new("unshare")
                .args([
                    "--pid",
                    "--fork",
                    "--mount",
                    "--propagation",
                    "private",
                    "--uts",
                    "--ipc",
                    "--cgroup",
                    "true",
                ])
                .stdin(Stdio::null())
                .output();
            match out {
                Ok(o) if o.status.success() => None,
                Ok(o) => Some(format!(
                    "`unshare --pid --mount --uts --ipc --cgroup` failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => Some(format!("cannot run unshare (util-linux): {e}")),
            }
        })
        .as_deref()
}

/// The host's cgroup2 hierarchy: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid).
fn cgroup2_root() -> PathBuf {
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if Path::new(root).join("cgroup.controllers").exists() {
            return PathBuf::from(root);
        }
    }
    panic!("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified: systemd needs one");
}

/// Removes a cgroup and everything below it, deepest first, waiting up to `patience` for its
/// processes to go.
fn remove_cgroup(cgroup: &Path, patience: Duration) {
    fn dirs(p: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = fs::read_dir(p) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs(&e.path(), out);
                }
            }
        }
        out.push(p.to_path_buf());
    }
    let deadline = Instant::now() + patience;
    loop {
        let mut all = Vec::new();
        dirs(cgroup, &mut all);
        for d in &all {
            let _ = fs::remove_dir(d);
        }
        if !cgroup.exists() || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes the cgroups of containers whose test process died before it could (`dao-testkit-PID-N`
/// with no process PID left); they are empty, since their processes died with it.
fn remove_stale_cgroups(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("dao-testkit-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !pid.is_empty() && !Path::new("/proc").join(pid).exists() {
            let procs = fs::read_to_string(e.path().join("cgroup.procs")).unwrap_or_default();
            if procs.trim().is_empty() {
                remove_cgroup(&e.path(), Duration::ZERO);
            }
        }
    }
}

impl SystemdContainer {
    /// Starts systemd with stub units (a target, dbus.socket, dbus.service) plus `units`
    /// (name, file content); the target wants the units named in `wants`. Its state lives in a
    /// new directory under `base`, which must be visible inside (not under [`PRIVATE_DIRS`]).
    ///
    /// None, after printing why, only when the kernel refuses the namespaces; any other problem
    /// panics with systemd's log.
    pub fn start(base: &Path, units: &[(&str, &str)], wants: &[&str]) -> Option<SystemdContainer> {
        if let Some(why) = namespaces_refused() {
            eprintln!("SKIPPED: systemd container tests need new namespaces, and {why}");
            return None;
        }
        let began = Instant::now();
        fs::create_dir_all(base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
        let base = base
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", base.display()));
        // /tmp and /var/tmp are private too, but the test's directories there are carried over.
        let hidden = PRIVATE_DIRS
            .iter()
            .filter(|p| !matches!(**p, "/tmp" | "/var/tmp"))
            .chain(&["/proc", "/sys", "/dev", "/mnt"]);
        for p in hidden {
            assert!(
                !base.starts_with(p),
                "{} is under {p}, which the container does not share: pick a base elsewhere \
                 (e.g. CARGO_TARGET_TMPDIR)",
                base.display()
            );
        }
        for (program, package) in [
            (SYSTEMD, "systemd"),
            (DBUS_DAEMON, "dbus-daemon"),
            ("/usr/bin/busctl", "systemd"),
            ("/usr/bin/setpriv", "util-linux"),
            ("/usr/bin/unshare", "util-linux"),
        ] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: apt-get install {package}"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("systemd-")
            .tempdir_in(&base)
            .unwrap();
        let state = dir.path();
        let units_dir = state.join("units");
        let logs = state.join("logs");
        let share = state.join("share");
        for d in [&units_dir, &logs, &share] {
            fs::create_dir(d).unwrap();
        }
        fs::set_permissions(&share, fs::Permissions::from_mode(0o1777)).unwrap();
        let kmsg = logs.join("kmsg");
        let made = Command::new("mkfifo").arg(&kmsg).status().unwrap();
        assert!(made.success(), "mkfifo {}: {made}", kmsg.display());
        let drain = drain_log(&kmsg, &logs.join("systemd"));
        let stubs = [
            (
                TARGET.to_owned(),
                unit(
                    "dao-testkit container",
                    &format!(
                        "Requires=dbus.socket dbus.service\nAfter=dbus.socket dbus.service\n\
                         Wants={}\n",
                        wants.join(" ")
                    ),
                ),
            ),
            ("sysinit.target".into(), unit("stub", "")),
            ("basic.target".into(), unit("stub", "")),
            (
                "shutdown.target".into(),
                unit("stub", "DefaultDependencies=no\n"),
            ),
            (
                "dbus.socket".into(),
                unit(
                    "D-Bus system bus socket",
                    "DefaultDependencies=no\n[Socket]\nListenStream=/run/dbus/system_bus_socket\n",
                ),
            ),
            (
                "dbus.service".into(),
                unit(
                    "D-Bus system bus",
                    &format!(
                        "DefaultDependencies=no\nRequires=dbus.socket\nAfter=dbus.socket\n\
                         [Service]\nExecStart={DBUS_DAEMON} --system --address=systemd: --nofork \
                         --nopidfile --systemd-activation --syslog-only\n"
                    ),
                ),
            ),
        ];
        for (name, content) in stubs
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_str()))
            .chain(units.iter().copied())
        {
            fs::write(units_dir.join(name), content).unwrap();
        }
        let inner = state.join("inner.sh");
        fs::write(&inner, INNER).unwrap();
        let log = fs::File::create(logs.join("pid1")).unwrap();

        static COUNTER: AtomicU32 = AtomicU32::new(0);
        remove_stale_cgroups(&cgroup2_root());
        let cgroup = cgroup2_root().join(format!(
            "dao-testkit-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&cgroup)
            .unwrap_or_else(|e| panic!("creating cgroup {}: {e}", cgroup.display()));

        let spawned = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "sh", "-c"])
            .arg(
                r#"echo $$ > "$1/cgroup.procs" && shift && exec unshare --pid --fork \
                   --kill-child=SIGKILL --mount --propagation private --uts --ipc --cgroup \
                   --mount-proc sh "$@""#,
            )
            .arg("sh")
            .arg(&cgroup)
            .arg(&inner)
            .arg(state)
            .arg(&logs)
            .arg(&share)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn();
        let unshare = match spawned {
            Ok(c) => c,
            Err(e) => {
                remove_cgroup(&cgroup, Duration::from_secs(10));
                panic!("cannot run setpriv/unshare: {e}");
            }
        };
        let mut c = SystemdContainer {
            unshare,
            pid1: 0,
            cgroup,
            dir,
            drain: Some(drain),
            ready_after: Duration::ZERO,
        };
        c.pid1 = c.find_pid1();
        c.wait_ready();
        c.ready_after = began.elapsed();
        Some(c)
    }

    fn fail(&mut self, why: &str) -> ! {
        panic!("systemd container: {why}\n--- its log ---\n{}", self.log());
    }

    /// The host PID of the container's PID 1: unshare's one child.
    fn find_pid1(&mut self) -> u32 {
        let id = self.unshare.id();
        let children = format!("/proc/{id}/task/{id}/children");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
                return pid;
            }
            if let Ok(Some(status)) = self.unshare.try_wait() {
                self.fail(&format!(
                    "unshare ended ({status}) before its child appeared"
                ));
            }
            if Instant::now() > deadline {
                self.fail("unshare has no child after 10 s");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until systemd is on the bus and its boot is done (SystemState running/degraded).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let socket = self.socket();
        let mut last = String::new();
        loop {
            if socket.exists() {
                let out = Command::new("busctl")
                    .arg(format!("--address={}", self.bus_address()))
                    .args([
                        "--timeout=2",
                        "get-property",
                        "org.freedesktop.systemd1",
                        "/org/freedesktop/systemd1",
                        "org.freedesktop.systemd1.Manager",
                        "SystemState",
                    ])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                last = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout).trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                if last == r#"s "running""# || last == r#"s "degraded""# {
                    return;
                }
            }
            if let Ok(Some(status)) = self.unshare.try_wait() {
                self.fail(&format!("it ended ({status}) before it was ready"));
            }
            if Instant::now() > deadline {
                self.fail(&format!("not ready after 30 s (last answer: {last:?})"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn socket(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/root/run/dbus/system_bus_socket",
            self.pid1
        ))
    }

    /// The D-Bus address of the container's system bus, usable from the host.
    pub fn bus_address(&self) -> String {
        format!("unix:path={}", self.socket().display())
    }

    /// The host PID of the container's PID 1 (systemd).
    pub fn pid1(&self) -> u32 {
        self.pid1
    }

    /// The container's root cgroup, as the host sees it (`system.slice/UNIT` below it is a
    /// unit's cgroup).
    pub fn cgroup(&self) -> &Path {
        &self.cgroup
    }

    /// The container's state directory: visible, read-only, inside at the same path.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A directory writable on both sides, at the same path.
    pub fn share(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    /// systemd's log so far (and its stderr).
    pub fn log(&self) -> String {
        let logs = self.dir.path().join("logs");
        let mut text = fs::read_to_string(logs.join("pid1")).unwrap_or_default();
        text.push_str(&fs::read_to_string(logs.join("systemd")).unwrap_or_default());
        text
    }
}

impl Drop for SystemdContainer {
    fn drop(&mut self) {
        if self.pid1 != 0 {
            // By PID: the container's PID 1; every process of the namespace dies with it.
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid1.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
        remove_cgroup(&self.cgroup, Duration::from_secs(10));
        if let Some(drain) = self.drain.take() {
            // The drain holds the FIFO open for reading: this open does not block.
            let fifo = self.dir.path().join("logs/kmsg");
            if let Ok(mut f) = fs::OpenOptions::new().write(true).open(fifo) {
                let _ = writeln!(f, "{DRAIN_STOP}");
                let _ = drain.join();
            }
        }
    }
}

/// Writes an executable shell script at `path` (a fixture), creating its directory.
pub fn write_script(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = fs::File::create(path).unwrap();
    f.write_all(format!("#!/bin/sh\n{body}").as_bytes())
        .unwrap();
    drop(f);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}
