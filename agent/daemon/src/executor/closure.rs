//! The closure hash a validator attests and an executor compares: SHA-256 over every store path
//! of the toplevel's closure with the hash of its contents (docs/validators.md, "What is
//! attested"). Store paths are input-addressed, so agreeing on the toplevel's path proves only
//! that the same derivation was evaluated; the NAR hashes prove that the builds produced the same
//! bytes.

use super::build::{BuildError, Nix};
use super::command;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PathInfo {
    path: Option<String>,
    nar_hash: String,
}

/// Nix prints `path-info --json` as a list of objects (Nix ≤ 2.18) or as an object keyed by path
/// (later versions); both are read, so that machines on different Nix versions agree.
#[derive(Deserialize)]
#[serde(untagged)]
enum PathInfos {
    List(Vec<PathInfo>),
    Map(BTreeMap<String, PathInfo>),
}

/// Nix's own base32 alphabet (no e, o, u, t) and bit order: the last character holds the lowest
/// bits. No kept crate decodes it, and it is this short.
const NIX32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

fn nix32_decode(s: &str) -> Option<[u8; 32]> {
    if s.len() != 52 {
        return None;
    }
    let mut out = [0u8; 32];
    for (n, c) in s.bytes().rev().enumerate() {
        let digit = u16::try_from(NIX32.iter().position(|&x| x == c)?).ok()?;
        let (i, j) = (n * 5 / 8, n * 5 % 8);
        let spread = digit << j;
        out[i] |= (spread & 0xff) as u8;
        let high = (spread >> 8) as u8;
        match out.get_mut(i + 1) {
            Some(next) => *next |= high,
            None if high != 0 => return None,
            None => {}
        }
    }
    Some(out)
}

/// A SHA-256 NAR hash in any form Nix prints: `sha256-<base64>` (SRI), `sha256:<nix32>` or
/// `sha256:<hex>`.
pub fn parse_nar_hash(s: &str) -> Option<[u8; 32]> {
    if let Some(b64) = s.strip_prefix("sha256-") {
        return data_encoding::BASE64
            .decode(b64.as_bytes())
            .ok()?
            .try_into()
            .ok();
    }
    let rest = s.strip_prefix("sha256:")?;
    match rest.len() {
        64 => hex::decode(rest).ok()?.try_into().ok(),
        _ => nix32_decode(rest),
    }
}

/// The closure hash of `(path, nar hash)` pairs: SHA-256 over `"<path> sha256:<hex>\n"` lines in
/// byte order of the paths.
pub fn closure_hash(paths: &BTreeMap<String, [u8; 32]>) -> [u8; 32] {
    let mut h = Sha256::new();
    for (path, nar) in paths {
        h.update(path.as_bytes());
        h.update(b" sha256:");
        h.update(hex::encode(nar).as_bytes());
        h.update(b"\n");
    }
    h.finalize().into()
}

/// Reads `nix path-info --recursive --json` output into the closure's (path, nar hash) pairs.
pub fn parse_path_info(stdout: &[u8]) -> Result<BTreeMap<String, [u8; 32]>, String> {
    let infos: PathInfos =
        serde_json::from_slice(stdout).map_err(|e| format!("not path-info JSON: {e}"))?;
    let pairs: Vec<(String, PathInfo)> = match infos {
        PathInfos::List(l) => l
            .into_iter()
            .map(|i| (i.path.clone().unwrap_or_default(), i))
            .collect(),
        PathInfos::Map(m) => m.into_iter().collect(),
    };
    let mut out = BTreeMap::new();
    for (path, info) in pairs {
        if !path.starts_with("/nix/store/") {
            return Err(format!("{path:?} is not a store path"));
        }
        let nar = parse_nar_hash(&info.nar_hash)
            .ok_or_else(|| format!("{path}: unreadable narHash {:?}", info.nar_hash))?;
        out.insert(path, nar);
    }
    if out.is_empty() {
        return Err("an empty closure".into());
    }
    Ok(out)
}

/// The closure hash of `toplevel` as the Nix store (`store`, or the system's) has it.
pub fn of_toplevel(
    nix: &Nix,
    toplevel: &Path,
    store: Option<&Path>,
    timeout: Duration,
) -> Result<[u8; 32], BuildError> {
    let mut c = nix.command();
    c.args(["path-info", "--recursive", "--json"]);
    if let Some(s) = store {
        c.arg("--store").arg(s);
    }
    c.arg(toplevel);
    let out = command::run(c, timeout).map_err(|source| BuildError::Nix {
        step: "closure_hash",
        source,
    })?;
    let paths = parse_path_info(&out.stdout).map_err(|problem| BuildError::BadOutput {
        step: "closure_hash",
        problem,
        output: String::from_utf8_lossy(&out.stdout)
            .chars()
            .take(500)
            .collect(),
    })?;
    if !paths.contains_key(&toplevel.to_string_lossy().into_owned()) {
        return Err(BuildError::BadOutput {
            step: "closure_hash",
            problem: format!("the closure does not contain {}", toplevel.display()),
            output: String::new(),
        });
    }
    Ok(closure_hash(&paths))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn every_form_of_a_nar_hash_reads_the_same() {
        let want: [u8; 32] = hex::decode(EMPTY_SHA256).unwrap().try_into().unwrap();
        // `nix-hash --type sha256 --to-base32 e3b0…` prints this.
        let nix32 = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
        let sri = format!("sha256-{}", data_encoding::BASE64.encode(&want));
        for s in [nix32, &sri, &format!("sha256:{EMPTY_SHA256}")] {
            assert_eq!(parse_nar_hash(s), Some(want), "{s}");
        }
        for bad in [
            "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e",
            "md5-AAAA",
            "sha256:zz",
        ] {
            assert_eq!(parse_nar_hash(bad), None, "{bad}");
        }
        // The first character carries the top bits; only its lowest bit fits in 256 bits.
        assert_eq!(
            parse_nar_hash("sha256:2mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"),
            None
        );
    }

    #[test]
    fn both_path_info_layouts_give_one_closure_hash() {
        let old = br#"[{"path":"/nix/store/b-x","narHash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","narSize":1},
                       {"path":"/nix/store/a-y","narHash":"sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"}]"#;
        let new = br#"{"/nix/store/a-y":{"narHash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
                       "/nix/store/b-x":{"narHash":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}"#;
        let a = closure_hash(&parse_path_info(old).unwrap());
        let b = closure_hash(&parse_path_info(new).unwrap());
        assert_eq!(a, b);
        let mut other = parse_path_info(new).unwrap();
        other.insert("/nix/store/a-y".into(), [1; 32]);
        assert_ne!(closure_hash(&other), a, "one path's contents changed");
        assert!(parse_path_info(b"[]").is_err());
        assert!(parse_path_info(br#"[{"path":"/etc/x","narHash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}]"#).is_err());
    }
}
