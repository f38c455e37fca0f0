//! Switches that put known bugs back, one at a time, so the simulator can show that it catches
//! each of them (docs/safety.md, "Proof that the checker can fail"). They exist only in builds
//! with the `mutants` feature; without it [`active`] is always false and nothing of this ships.

/// The mutants, each re-introducing one finding of issue 13 or a hole issue 14 closes.
pub const ALL: [(&str, &str); 14] = [
    (
        "expired_applied",
        "finding 1: expiry is re-checked only while no journal record exists",
    ),
    (
        "unfetchable_blocks",
        "finding 2: an unfetchable commit is retried forever, past its window",
    ),
    (
        "two_agents",
        "finding 3: no instance lock on the state directory",
    ),
    (
        "overlap_after_crash",
        "finding 4: a switch left running by a crashed agent is not waited for",
    ),
    (
        "wrong_key",
        "finding 5: the executor does not check its key against the host's registered agent",
    ),
    (
        "unreproduced_applied",
        "issue 14: the executor activates its own build without comparing it to the validators' \
         agreed closure",
    ),
    (
        "impatient_refusal",
        "issue 14: a host refuses as not reproducible while validators can still agree",
    ),
    (
        "upgrade_before_report",
        "issue 18: the executor hands over to a new agent before its outcome is reported",
    ),
    (
        "drift_unseen",
        "issue 15: the executor never compares what the host runs with what it activated",
    ),
    (
        "no_self_upgrade",
        "issue 18: a deployment that changes the agent leaves the old one running",
    ),
    (
        "reactivation_unrecovered",
        "issue 15: a reactivation a crash left half-way is dropped at restart, not finished or \
         reverted, so the profile and the running system stay apart",
    ),
    (
        "reactivation_reverts_to_profile",
        "issue 15: a failed reactivation goes back to the profile's generation, not to the \
         system the host ran",
    ),
    (
        "reactivation_revert_moves_boot",
        "issue 15 review: a failed reactivation of a system only activated by hand switches to \
         it, which makes it the next boot instead of the profile's generation",
    ),
    (
        "rollback_forgotten",
        "issue 15 review: a later deployment that changed nothing makes the system an operator \
         rolled back from the approved one again",
    ),
];

#[cfg(feature = "mutants")]
static ACTIVE: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// Turns on `name` (None: no mutant) for the whole process.
#[cfg(feature = "mutants")]
pub fn set(name: Option<&str>) {
    let mut a = ACTIVE.write().unwrap_or_else(|p| p.into_inner());
    *a = name.map(str::to_owned);
}

#[cfg(feature = "mutants")]
pub fn active(name: &str) -> bool {
    ACTIVE.read().unwrap_or_else(|p| p.into_inner()).as_deref() == Some(name)
}

#[cfg(not(feature = "mutants"))]
#[inline(always)]
pub fn active(_: &str) -> bool {
    false
}
