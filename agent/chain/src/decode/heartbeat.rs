//! The `H` box: a host's last heartbeat (docs/heartbeats.md).

use super::boxes::check_key;
use super::wire::{err, exact, DecodeError, Problem, Reader};
use super::BoxKey;

/// toplevel_sha256 byte[32] ++ generation u64 ++ last_proposal u64 ++ drift u64 ++ at u64.
pub const HEARTBEAT_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// SHA-256 of the toplevel store path the host ran (as in reports).
    pub toplevel_sha256: [u8; 32],
    pub generation: u64,
    /// The last proposal the host reported on, 0 for none.
    pub last_proposal: u64,
    /// The host ran a system its agent did not activate.
    pub drift: bool,
    /// Chain time (Unix seconds) of the heartbeat.
    pub at: u64,
}

pub fn decode_heartbeat(key: &BoxKey, value: &[u8]) -> Result<Heartbeat, DecodeError> {
    check_key(key, |k| matches!(k, BoxKey::Heartbeat(_)), "an H box")?;
    decode_bytes(value).map_err(|p| err(key.to_string(), p))
}

fn decode_bytes(value: &[u8]) -> Result<Heartbeat, Problem> {
    exact(value, HEARTBEAT_LEN)?;
    let mut r = Reader::new(value);
    let toplevel_sha256 = r.array::<32>(HEARTBEAT_LEN)?;
    let generation = r.u64(HEARTBEAT_LEN)?;
    let last_proposal = r.u64(HEARTBEAT_LEN)?;
    let drift = match r.u64(HEARTBEAT_LEN)? {
        0 => false,
        1 => true,
        code => {
            return Err(Problem::UnknownCode {
                field: "heartbeat drift flag",
                code,
            })
        }
    };
    Ok(Heartbeat {
        toplevel_sha256,
        generation,
        last_proposal,
        drift,
        at: r.u64(HEARTBEAT_LEN)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn bytes(drift: u64) -> Vec<u8> {
        let mut v = vec![7u8; 32];
        for x in [12u64, 3, drift, 1_700_000_000] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    #[test]
    fn a_heartbeat_box_decodes_and_a_bad_one_is_named() {
        let k = BoxKey::Heartbeat(4);
        assert_eq!(BoxKey::parse(&k.name()).unwrap(), k);
        let h = decode_heartbeat(&k, &bytes(1)).unwrap();
        assert_eq!(
            h,
            Heartbeat {
                toplevel_sha256: [7; 32],
                generation: 12,
                last_proposal: 3,
                drift: true,
                at: 1_700_000_000
            }
        );
        let e = decode_heartbeat(&k, &bytes(2)).unwrap_err().to_string();
        assert!(e.contains("box H[4]") && e.contains("drift"), "{e}");
        let e = decode_heartbeat(&k, &bytes(0)[..63])
            .unwrap_err()
            .to_string();
        assert!(e.contains("box H[4]"), "{e}");
        assert!(decode_heartbeat(&BoxKey::Host(4), &bytes(0)).is_err());
    }

    #[test]
    fn the_heartbeat_event_decodes_and_a_bad_flag_is_named() {
        use crate::events::{decode_log, selector, AppEvent, Log};
        let mut log = selector("Heartbeat(uint64,byte[32],uint64,uint64,bool,uint64)").to_vec();
        log.extend(2u64.to_be_bytes());
        log.extend([9u8; 32]);
        log.extend(5u64.to_be_bytes());
        log.extend(4u64.to_be_bytes());
        log.push(0x80);
        log.extend(77u64.to_be_bytes());
        assert_eq!(
            decode_log(&log).unwrap(),
            Log::Event(AppEvent::Heartbeat {
                host_id: 2,
                toplevel_sha256: [9; 32],
                generation: 5,
                last_proposal: 4,
                drift: true,
                at: 77
            })
        );
        log[4 + 56] = 1;
        let e = decode_log(&log).unwrap_err().to_string();
        assert!(e.contains("Heartbeat") && e.contains("drift"), "{e}");
        log.pop();
        assert!(decode_log(&log).is_err());
    }
}
