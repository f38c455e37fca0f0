//! The agent's D-Bus face on the system bus: status for anyone, state-changing methods
//! (Rollback, Pause, Resume) only for root or members of the operator group.
//!
//! Who may act is decided from the *caller's* credentials as the bus daemon reports them
//! (`GetConnectionCredentials` of the message's sender: its uid and its complete group list),
//! never from anything the caller says and never from the agent's own process. Methods only
//! check and forward: each posts a request into the one loop that owns the agent's state.

use tokio::sync::{mpsc, oneshot};
use zbus::fdo::{self, DBusProxy};
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection};

pub const BUS_NAME: &str = "io.github.nixos_dao_governance.Agent1";
pub const OBJECT_PATH: &str = "/io/github/nixos_dao_governance/Agent1";
pub const INTERFACE: &str = "io.github.nixos_dao_governance.Agent1";

/// The longest rollback or pause reason accepted: it goes on chain and into logs.
pub const MAX_REASON: usize = 512;

/// Who asked, as the bus vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
}

/// What the D-Bus face asks of the agent's state loop; each carries its reply channel.
#[derive(Debug)]
pub enum Request {
    Status {
        reply: oneshot::Sender<String>,
    },
    Deployments {
        reply: oneshot::Sender<String>,
    },
    /// Roll back to `generation`, or to the one before the current deployment when `None`.
    Rollback {
        generation: Option<u64>,
        reason: String,
        caller: Caller,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Pause {
        reason: String,
        caller: Caller,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Resume {
        caller: Caller,
        reply: oneshot::Sender<Result<bool, String>>,
    },
    /// Do not apply `proposal` on this host: report it failed (skipped) and move on.
    Skip {
        proposal: u64,
        reason: String,
        caller: Caller,
        reply: oneshot::Sender<Result<String, String>>,
    },
}

pub struct Agent1 {
    requests: mpsc::Sender<Request>,
    /// The operator group: its gid, and its name for messages.
    operators: Option<(u32, String)>,
}

impl Agent1 {
    pub fn new(requests: mpsc::Sender<Request>, operators: Option<(u32, String)>) -> Agent1 {
        Agent1 {
            requests,
            operators,
        }
    }

    async fn authorize(
        &self,
        header: &Header<'_>,
        conn: &Connection,
        action: &str,
    ) -> fdo::Result<Caller> {
        let denied = |why: String| fdo::Error::AccessDenied(format!("{action}: {why}"));
        let sender = header
            .sender()
            .ok_or_else(|| denied("the message has no sender".into()))?;
        let creds = DBusProxy::new(conn)
            .await?
            .get_connection_credentials(sender.clone().into())
            .await?;
        let uid = creds
            .unix_user_id()
            .ok_or_else(|| denied("the bus does not know the caller's uid".into()))?;
        if uid == 0 {
            return Ok(Caller { uid });
        }
        if let Some((gid, _)) = &self.operators {
            if creds.unix_group_ids().is_some_and(|g| g.contains(gid)) {
                return Ok(Caller { uid });
            }
        }
        let who = match &self.operators {
            Some((_, name)) => format!("root or a member of group {name}"),
            None => "root (no operator group is configured)".into(),
        };
        Err(denied(format!("only {who} may do this; uid {uid} is not")))
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> fdo::Result<T> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| fdo::Error::Failed("the agent is shutting down".into()))?;
        rx.await
            .map_err(|_| fdo::Error::Failed("the agent dropped the request".into()))
    }
}

/// A reason must say something, briefly, in printable text: it goes on chain and into logs.
fn check_reason(reason: &str) -> fdo::Result<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(fdo::Error::InvalidArgs(
            "the reason is empty: say why".into(),
        ));
    }
    if r.len() > MAX_REASON {
        return Err(fdo::Error::InvalidArgs(format!(
            "the reason is {} bytes; at most {MAX_REASON}",
            r.len()
        )));
    }
    if r.chars().any(char::is_control) {
        return Err(fdo::Error::InvalidArgs(
            "the reason contains control characters".into(),
        ));
    }
    Ok(r.to_owned())
}

#[interface(name = "io.github.nixos_dao_governance.Agent1")]
impl Agent1 {
    /// The agent's state as JSON: role, paused, current step and proposal, last outcome.
    async fn get_status(&self) -> fdo::Result<String> {
        self.ask(|reply| Request::Status { reply }).await
    }

    /// The journal's deployments as JSON, newest first.
    async fn list_deployments(&self) -> fdo::Result<String> {
        self.ask(|reply| Request::Deployments { reply }).await
    }

    /// Goes back to `generation` (0: the generation before the current deployment), pauses
    /// automatic deployment, and reports an emergency rollback on chain. Returns JSON.
    async fn rollback(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        generation: u64,
        reason: String,
    ) -> fdo::Result<String> {
        let caller = self.authorize(&header, conn, "Rollback").await?;
        let reason = check_reason(&reason)?;
        let generation = (generation != 0).then_some(generation);
        self.ask(|reply| Request::Rollback {
            generation,
            reason,
            caller,
            reply,
        })
        .await?
        .map_err(fdo::Error::Failed)
    }

    /// Stops automatic deployment until Resume.
    async fn pause(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        reason: String,
    ) -> fdo::Result<()> {
        let caller = self.authorize(&header, conn, "Pause").await?;
        let reason = check_reason(&reason)?;
        self.ask(|reply| Request::Pause {
            reason,
            caller,
            reply,
        })
        .await?
        .map_err(fdo::Error::Failed)
    }

    /// Resumes automatic deployment; returns whether it was paused.
    async fn resume(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> fdo::Result<bool> {
        let caller = self.authorize(&header, conn, "Resume").await?;
        self.ask(|reply| Request::Resume { caller, reply })
            .await?
            .map_err(fdo::Error::Failed)
    }

    /// Gives up `proposal` on this host: it is reported failed (skipped) on chain and the
    /// queue moves on. Refused while it is being applied or once it changed the host.
    /// Returns the journal record as JSON.
    async fn skip(
        &self,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        proposal: u64,
        reason: String,
    ) -> fdo::Result<String> {
        let caller = self.authorize(&header, conn, "Skip").await?;
        let reason = check_reason(&reason)?;
        self.ask(|reply| Request::Skip {
            proposal,
            reason,
            caller,
            reply,
        })
        .await?
        .map_err(fdo::Error::Failed)
    }

    /// A deployment moved: its proposal and its new state (a step tag or an outcome).
    #[zbus(signal)]
    pub async fn deployment_changed(
        emitter: &SignalEmitter<'_>,
        proposal: u64,
        state: &str,
    ) -> zbus::Result<()>;
}

/// The gid of the operator group named in the configuration.
pub fn operator_group(name: &str) -> Result<(u32, String), String> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok((g.gid.as_raw(), name.to_owned())),
        Ok(None) => Err(format!(
            "executor.operator_group: group {name:?} does not exist on this host; create it or \
             remove the setting"
        )),
        Err(e) => Err(format!(
            "executor.operator_group: cannot look up {name:?}: {e}"
        )),
    }
}

/// Connects to the bus at `address` (the system bus when None), owns the agent's name and
/// serves `agent` at its object path. The name is owned alone: never taken from another agent
/// and never given up to one (zbus would otherwise allow both), so a second agent fails here
/// with a message naming the first.
pub async fn serve(address: Option<&str>, agent: Agent1) -> Result<Connection, ServeError> {
    let other = |e: zbus::Error| ServeError::Other(e.to_string());
    let builder = match address {
        Some(a) => zbus::connection::Builder::address(a),
        None => zbus::connection::Builder::system(),
    }
    .map_err(other)?;
    let built = builder
        .name(BUS_NAME)
        .and_then(|b| b.serve_at(OBJECT_PATH, agent))
        .map(|b| {
            b.allow_name_replacements(false)
                .replace_existing_names(false)
        })
        .map_err(other)?
        .build()
        .await;
    match built {
        Ok(c) => Ok(c),
        Err(zbus::Error::NameTaken) => Err(ServeError::Taken(format!(
            "{BUS_NAME} is already owned on this bus by {}: one agent per host; stop the \
             other one first",
            owner(address).await
        ))),
        Err(e) => Err(other(e)),
    }
}

/// Why the agent's D-Bus face could not be served.
#[derive(Debug)]
pub enum ServeError {
    /// Another process owns the agent's name.
    Taken(String),
    Other(String),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Taken(s) | ServeError::Other(s) => f.write_str(s),
        }
    }
}

/// Who owns the agent's bus name, for a message: its unique name and pid when the bus says.
async fn owner(address: Option<&str>) -> String {
    let conn = match address {
        Some(a) => match zbus::connection::Builder::address(a) {
            Ok(b) => b.build().await,
            Err(e) => Err(e),
        },
        None => Connection::system().await,
    };
    let Ok(conn) = conn else {
        return "another process".into();
    };
    let Ok(proxy) = DBusProxy::new(&conn).await else {
        return "another process".into();
    };
    let Ok(name) = zbus::names::BusName::try_from(BUS_NAME) else {
        return "another process".into();
    };
    match proxy.get_connection_unix_process_id(name).await {
        Ok(pid) => format!("process {pid}"),
        Err(_) => "another process".into(),
    }
}

/// Emits DeploymentChanged from the agent's object.
pub async fn deployment_changed(conn: &Connection, proposal: u64, state: &str) -> zbus::Result<()> {
    let emitter = SignalEmitter::new(conn, OBJECT_PATH)?;
    Agent1::deployment_changed(&emitter, proposal, state).await
}
