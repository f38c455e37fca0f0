//! sd-notify: READY once the agent's state is loaded (and the bus name owned), STATUS at every
//! step, WATCHDOG at half the interval systemd asks for, STOPPING on shutdown. Outside systemd
//! (no NOTIFY_SOCKET) every call is a no-op.

use sd_notify::NotifyState;
use std::time::Duration;

pub fn ready(status: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Status(status)]);
}

pub fn stopping(status: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping, NotifyState::Status(status)]);
}

pub fn watchdog() {
    let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
}

/// Half the watchdog interval systemd set for this process, if it set one.
pub fn watchdog_period() -> Option<Duration> {
    let mut usec = 0;
    sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec / 2))
}
