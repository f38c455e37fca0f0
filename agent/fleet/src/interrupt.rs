//! Ctrl-C (and SIGTERM, SIGHUP): every wait of the harness checks this flag and returns an
//! error, so the fleet is dropped and everything it started is stopped and removed.

use anyhow::{bail, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Sets the flag on SIGINT, SIGTERM or SIGHUP. The handlers run on the returned runtime: keep
/// it as long as signals should be caught.
pub fn install() -> Result<tokio::runtime::Runtime> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let guard = rt.enter();
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        let mut s = signal(kind)?;
        rt.spawn(async move {
            while s.recv().await.is_some() {
                INTERRUPTED.store(true, Ordering::SeqCst);
            }
        });
    }
    drop(guard);
    Ok(rt)
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// An error once interrupted.
pub fn check() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps, waking early (with an error) when interrupted.
pub fn sleep(d: Duration) -> Result<()> {
    let end = std::time::Instant::now() + d;
    loop {
        check()?;
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}
