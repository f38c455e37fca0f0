//! systemd's manager over D-Bus, as much of it as the switch and the unit checks need: calls,
//! properties, the signals of one unit or its jobs, and how a unit's program ended. It knows
//! nothing of the pipeline.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use zbus::export::futures_core::Stream;
use zbus::zvariant::{DynamicDeserialize, DynamicType, OwnedValue, Value};
use zbus::{Connection, MatchRule, Message, MessageStream};

pub(crate) const SYSTEMD: &str = "org.freedesktop.systemd1";

pub(crate) const MANAGER_PATH: &str = "/org/freedesktop/systemd1";

pub(crate) const MANAGER: &str = "org.freedesktop.systemd1.Manager";

pub(crate) const UNIT: &str = "org.freedesktop.systemd1.Unit";

pub(super) const SERVICE: &str = "org.freedesktop.systemd1.Service";

pub(super) const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Signals a stream may hold; the rules are narrow (one unit), so this is plenty.
pub(super) const QUEUE: usize = 1024;

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

/// Calls `method` of systemd's object at `path`.
pub(crate) async fn call<B, R>(
    conn: &Connection,
    path: &str,
    interface: &str,
    method: &str,
    body: &B,
) -> zbus::Result<R>
where
    B: serde::Serialize + DynamicType,
    R: for<'d> DynamicDeserialize<'d>,
{
    let reply = conn
        .call_method(Some(SYSTEMD), path, Some(interface), method, body)
        .await?;
    reply.body().deserialize::<R>()
}

/// All properties of `interface` on systemd's object at `path`.
pub(crate) async fn properties(
    conn: &Connection,
    path: &str,
    interface: &str,
) -> zbus::Result<HashMap<String, OwnedValue>> {
    call(conn, path, PROPERTIES, "GetAll", &(interface,)).await
}

pub(crate) fn string_of(props: &HashMap<String, OwnedValue>, name: &str) -> String {
    props
        .get(name)
        .and_then(|v| <&str>::try_from(v).ok())
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn i32_of(props: &HashMap<String, OwnedValue>, name: &str) -> i32 {
    props
        .get(name)
        .and_then(|v| i32::try_from(v).ok())
        .unwrap_or_default()
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

pub(super) async fn next(stream: &mut MessageStream) -> Option<zbus::Result<Message>> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

/// `JobRemoved` signals of `unit`'s jobs.
pub(super) async fn job_signals(conn: &Connection, unit: &str) -> zbus::Result<MessageStream> {
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .path(MANAGER_PATH)?
        .interface(MANAGER)?
        .member("JobRemoved")?
        .arg(2, unit)?
        .build();
    MessageStream::for_match_rule(rule, conn, Some(QUEUE)).await
}

/// `PropertiesChanged` signals of the Unit interface of the object at `path`.
pub(crate) async fn unit_signals(conn: &Connection, path: &str) -> zbus::Result<MessageStream> {
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .path(path)?
        .interface(PROPERTIES)?
        .member("PropertiesChanged")?
        .arg(0, UNIT)?
        .build();
    MessageStream::for_match_rule(rule, conn, Some(QUEUE)).await
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
    let unit = properties(conn, path, UNIT).await?;
    let service = properties(conn, path, SERVICE).await?;
    Ok(Finished {
        load: string_of(&unit, "LoadState"),
        active: string_of(&unit, "ActiveState"),
        result: string_of(&service, "Result"),
        code: i32_of(&service, "ExecMainCode"),
        status: i32_of(&service, "ExecMainStatus"),
    })
}
