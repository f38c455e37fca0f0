//! The checker is trusted because it fails: each mutant (a known bug put back into the real
//! code) is caught within 300 seeds. One test, run in sequence: a mutant is process-wide.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dao_sim::run::run;

#[test]
fn every_mutant_is_caught_within_300_seeds() {
    for (name, what) in dao_agent::mutants::ALL {
        dao_agent::mutants::set(Some(name));
        let caught = (0..300).find_map(|seed| {
            let s = run(seed, false);
            s.violations.first().map(|(inv, _)| (seed, inv.clone()))
        });
        dao_agent::mutants::set(None);
        let (seed, invariant) =
            caught.unwrap_or_else(|| panic!("mutant {name} ({what}) was not caught"));
        println!("mutant {name}: caught at seed {seed} by {invariant}");
    }
}
