//! systemd's manager over D-Bus, as much of it as the switch and the unit checks need: calls,
//! properties, the signals of one unit or its jobs, and how a unit's program ended. It knows
//! nothing of the pipeline.
//!
//! The proxies are zbus's generated ones (`#[zbus::proxy]`), declared here for the few members
//! used. Not the `zbus_systemd` crate: its release for zbus 5 (0.25900.0) turns on zbus's
//! default features, which bring a second async runtime into a tokio program (async-io,
//! async-executor, async-process, blocking, async-lock, async-task: measured with it added,
//! `cargo tree -e normal --workspace` grew from 700 to 776 lines and 254 to 270 packages); its
//! newer release (0.26201.0) needs zbus 6 (a second zbus in the tree) and Rust 1.89, above the
//! workspace's 1.86. It would also compile 9,700 generated lines of systemd1 for the 8 members
//! used here.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use zbus::export::futures_core::Stream;
use zbus::fdo::{PropertiesChangedStream, PropertiesProxy};
use zbus::proxy::CacheProperties;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};
use zbus::{names::InterfaceName, Connection};

pub(crate) const SYSTEMD: &str = "org.freedesktop.systemd1";

pub(crate) const UNIT: &str = "org.freedesktop.systemd1.Unit";

/// One row of `ListUnitsByPatterns`: name, description, load, active, sub state, followed unit,
/// object path, job id, job type, job path.
pub(super) type UnitRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    OwnedObjectPath,
    u32,
    String,
    OwnedObjectPath,
);

/// The part of systemd's manager the switch uses (org.freedesktop.systemd1(5)).
#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Manager",
    default_service = "org.freedesktop.systemd1",
    default_path = "/org/freedesktop/systemd1",
    gen_blocking = false
)]
pub(crate) trait Manager {
    fn subscribe(&self) -> zbus::Result<()>;

    fn start_transient_unit(
        &self,
        name: &str,
        mode: &str,
        properties: &[(&str, Value<'_>)],
        aux: &[(&str, &[(&str, Value<'_>)])],
    ) -> zbus::Result<OwnedObjectPath>;

    fn stop_unit(&self, name: &str, mode: &str) -> zbus::Result<OwnedObjectPath>;

    fn get_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    /// Like `GetUnit`, but also answers for a unit that exists on disk and is not loaded now.
    fn load_unit(&self, name: &str) -> zbus::Result<OwnedObjectPath>;

    fn list_units_by_patterns(
        &self,
        states: &[&str],
        patterns: &[&str],
    ) -> zbus::Result<Vec<UnitRow>>;

    #[zbus(signal)]
    fn job_removed(
        &self,
        id: u32,
        job: ObjectPath<'_>,
        unit: &str,
        result: &str,
    ) -> zbus::Result<()>;
}

/// A unit: the reference the agent holds on it, and its state.
#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Unit",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
pub(super) trait Unit {
    /// `Ref`: keeps the unit loaded while this connection lives (or until `Unref`).
    #[zbus(name = "Ref")]
    fn hold(&self) -> zbus::Result<()>;

    #[zbus(name = "Unref")]
    fn release(&self) -> zbus::Result<()>;

    #[zbus(property)]
    fn load_state(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn active_state(&self) -> zbus::Result<String>;
}

/// A service unit's outcome.
#[zbus::proxy(
    interface = "org.freedesktop.systemd1.Service",
    default_service = "org.freedesktop.systemd1",
    gen_blocking = false
)]
pub(super) trait Service {
    #[zbus(property)]
    fn result(&self) -> zbus::Result<String>;

    #[zbus(property)]
    fn exec_main_code(&self) -> zbus::Result<i32>;

    #[zbus(property)]
    fn exec_main_status(&self) -> zbus::Result<i32>;
}

/// The manager on `conn`. Properties are never cached: every read asks systemd, as a unit's
/// state is what the switch waits on.
pub(crate) async fn manager(conn: &Connection) -> zbus::Result<ManagerProxy<'static>> {
    ManagerProxy::builder(conn)
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

pub(super) async fn unit(conn: &Connection, path: &str) -> zbus::Result<UnitProxy<'static>> {
    UnitProxy::builder(conn)
        .path(path.to_owned())?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

async fn service(conn: &Connection, path: &str) -> zbus::Result<ServiceProxy<'static>> {
    ServiceProxy::builder(conn)
        .path(path.to_owned())?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

async fn properties_of(conn: &Connection, path: &str) -> zbus::Result<PropertiesProxy<'static>> {
    PropertiesProxy::builder(conn)
        .destination(SYSTEMD)?
        .path(path.to_owned())?
        .cache_properties(CacheProperties::No)
        .build()
        .await
}

/// waitid(2) codes in `ExecMainCode`.
pub(super) const CLD_EXITED: i32 = 1;

pub(super) const CLD_KILLED: i32 = 2;

pub(super) const CLD_DUMPED: i32 = 3;

/// The D-Bus object path systemd gives `unit` (its name escaped as a bus label).
pub fn unit_object_path(unit: &str) -> String {
    let mut p = String::from("/org/freedesktop/systemd1/unit/");
    if unit.is_empty() {
        p.push('_');
    }
    for b in unit.bytes() {
        if b.is_ascii_alphanumeric() {
            p.push(char::from(b));
        } else {
            let _ = write!(p, "_{b:02x}");
        }
    }
    p
}

/// Runs `make()`'s future to completion on a current-thread runtime of its own, on a thread of
/// its own: callable from any thread, inside a runtime's blocking pool or not.
pub(crate) fn block_on<F, T>(make: impl FnOnce() -> F + Send) -> Result<T, std::io::Error>
where
    F: Future<Output = T>,
    T: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(rt.block_on(make()))
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the D-Bus client thread panicked")))
    })
}

/// A connection to the bus at `address`, or to the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else
/// the standard socket).
pub(crate) async fn connect(address: Option<&str>) -> zbus::Result<Connection> {
    let builder = match address {
        Some(a) => zbus::connection::Builder::address(a)?,
        None => zbus::connection::Builder::system()?,
    };
    builder.build().await
}

/// All properties of `interface` on systemd's object at `path`, in one `GetAll` (one snapshot).
pub(crate) async fn properties(
    conn: &Connection,
    path: &str,
    interface: &str,
) -> zbus::Result<HashMap<String, OwnedValue>> {
    let interface = InterfaceName::try_from(interface)?;
    Ok(properties_of(conn, path).await?.get_all(interface).await?)
}

pub(crate) fn string_of(props: &HashMap<String, OwnedValue>, name: &str) -> String {
    props
        .get(name)
        .and_then(|v| <&str>::try_from(v).ok())
        .unwrap_or_default()
        .to_owned()
}

/// The id of the unit's pending job (its `Job` property, `(uo)`); 0 for none.
pub(super) fn job_of(props: &HashMap<String, OwnedValue>) -> u32 {
    let Some(v) = props.get("Job") else { return 0 };
    let Ok(s) = <&zbus::zvariant::Structure<'_>>::try_from(v) else {
        return 0;
    };
    match s.fields().first() {
        Some(Value::U32(id)) => *id,
        _ => 0,
    }
}

pub(super) fn is_no_such_unit(e: &zbus::Error) -> bool {
    matches!(e, zbus::Error::MethodError(name, _, _) if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit")
}

/// The next item of a signal stream; `None` once the bus connection closed.
pub(crate) async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// `JobRemoved` signals of `unit`'s jobs (matched on the unit's name, argument 2).
pub(crate) async fn job_signals(
    manager: &ManagerProxy<'_>,
    unit: &str,
) -> zbus::Result<JobRemovedStream> {
    manager.receive_job_removed_with_args(&[(2, unit)]).await
}

/// `PropertiesChanged` signals of the Unit interface of the object at `path`.
pub(super) async fn unit_signals(
    conn: &Connection,
    path: &str,
) -> zbus::Result<PropertiesChangedStream> {
    properties_of(conn, path)
        .await?
        .receive_properties_changed_with_args(&[(0, UNIT)])
        .await
}

/// How a unit's main process ended, in words.
pub(super) fn describe_exit(code: i32, status: i32) -> String {
    let signal = |n: i32| {
        let name = match n {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            4 => "SIGILL",
            6 => "SIGABRT",
            7 => "SIGBUS",
            8 => "SIGFPE",
            9 => "SIGKILL",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            14 => "SIGALRM",
            15 => "SIGTERM",
            _ => "",
        };
        if name.is_empty() {
            format!("signal {n}")
        } else {
            format!("signal {n} ({name})")
        }
    };
    match code {
        CLD_EXITED => format!("exit status {status}"),
        CLD_KILLED => format!("killed by {}", signal(status)),
        CLD_DUMPED => format!("dumped core on {}", signal(status)),
        0 => "its program never ran".into(),
        _ => format!("exit code {code}, status {status}"),
    }
}

/// What a finished unit says about itself.
pub(super) struct Finished {
    pub(super) load: String,
    pub(super) active: String,
    pub(super) result: String,
    pub(super) code: i32,
    pub(super) status: i32,
}

pub(super) async fn finished(conn: &Connection, path: &str) -> zbus::Result<Finished> {
    let unit = unit(conn, path).await?;
    let service = service(conn, path).await?;
    Ok(Finished {
        load: unit.load_state().await?,
        active: unit.active_state().await?,
        result: service.result().await?,
        code: service.exec_main_code().await?,
        status: service.exec_main_status().await?,
    })
}
