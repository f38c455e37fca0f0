//! Account keys, from a key file or a systemd credential, never from the environment or argv.
//!
//! A key file holds either the 25-word Algorand mnemonic of the account (words separated by
//! spaces or newlines) or its raw 32-byte ed25519 seed as 64 hexadecimal characters; surrounding
//! whitespace is ignored. The file must not be readable or writable by group or others
//! (`mode & 0o077 == 0`, e.g. `chmod 600`). Under systemd, `LoadCredential=NAME:PATH` places it
//! in `$CREDENTIALS_DIRECTORY/NAME` (only that directory's path comes from the environment).
//!
//! Key material never reaches a log: [`Signer`]'s `Debug` shows the address only.

use algonaut::transaction::account::Account;
use dao_core::address::Address;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why a key could not be loaded. No variant carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} has mode {mode:04o}: it must not be readable or writable by group or others; fix it with `chmod 600 {path}`")]
    LoosePermissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error(
        "key file {path} holds neither a 25-word mnemonic nor a 64-hex-character seed ({reason})"
    )]
    Format { path: PathBuf, reason: String },
}

/// An account that can sign transactions. `Debug` and `Display` show only the address.
pub struct Signer {
    account: Account,
    /// Sign nothing for real: a transaction group is built and checked but never sent
    /// (`ChainError::DryRun` says what it would have been).
    dry_run: bool,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("address", &self.address().to_string())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Signer {
    /// The account's address.
    pub fn address(&self) -> Address {
        Address::from(self.account.address())
    }

    pub(crate) fn account(&self) -> &Account {
        &self.account
    }

    /// This signer in dry-run mode: every call stops before sending (`ChainError::DryRun`).
    pub fn dry_run(mut self, on: bool) -> Signer {
        self.dry_run = on;
        self
    }

    pub(crate) fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Loads a key file (format and permissions in the module documentation).
    pub fn from_file(path: &Path) -> Result<Signer, KeyError> {
        let read = |source| KeyError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            return Err(KeyError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyError::LoosePermissions {
                path: path.to_owned(),
                mode,
            });
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(read)?;
        let signer = Signer::parse(&text).map_err(|reason| KeyError::Format {
            path: path.to_owned(),
            reason,
        });
        // Best effort: do not leave the text around longer than needed.
        text.clear();
        signer
    }

    /// Parses key text; the error never quotes the text.
    fn parse(text: &str) -> Result<Signer, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.len() {
            25 => {
                let joined = words.join(" ");
                Account::from_mnemonic(&joined)
                    .map(|account| Signer {
                        account,
                        dry_run: false,
                    })
                    .map_err(|_| "the mnemonic's words or checksum are wrong".to_owned())
            }
            1 if words[0].len() == 64 => {
                let bytes =
                    hex::decode(words[0]).map_err(|_| "the seed is not hexadecimal".to_owned())?;
                let mut seed = [0u8; 32];
                seed.copy_from_slice(&bytes);
                Ok(Signer {
                    account: Account::from_seed(seed),
                    dry_run: false,
                })
            }
            0 => Err("the file is empty".to_owned()),
            n => Err(format!("found {n} word(s)")),
        }
    }

    /// A signer from a mnemonic held in memory (tests and tools that already read it safely).
    pub fn from_mnemonic(mnemonic: &str) -> Result<Signer, KeyError> {
        Signer::parse(mnemonic).map_err(|reason| KeyError::Format {
            path: PathBuf::from("<memory>"),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::io::Write;

    const SEED_HEX: &str = "0101010101010101010101010101010101010101010101010101010101010101";

    fn file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn loads_seed_and_mnemonic_files_and_redacts() {
        let dir = tempfile::tempdir().unwrap();
        let s =
            Signer::from_file(&file(dir.path(), "seed", &format!("{SEED_HEX}\n"), 0o600)).unwrap();
        let mnemonic = s.account().mnemonic();
        let m = Signer::from_file(&file(dir.path(), "mn", &mnemonic, 0o400)).unwrap();
        assert_eq!(s.address(), m.address());
        let debug = format!("{s:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains(SEED_HEX), "{debug}");
        assert!(!debug.contains("seed"), "{debug}");
        for w in mnemonic.split(' ').filter(|w| w.len() > 3) {
            assert!(!debug.contains(w), "{debug} leaks {w}");
        }
    }

    #[test]
    fn refuses_loose_permissions_naming_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660, 0o602] {
            let p = file(dir.path(), "k", SEED_HEX, mode);
            let e = Signer::from_file(&p).unwrap_err();
            assert!(matches!(e, KeyError::LoosePermissions { .. }), "{e}");
            let text = e.to_string();
            assert!(text.contains(&p.display().to_string()), "{text}");
            assert!(text.contains("chmod 600"), "{text}");
        }
    }

    #[test]
    fn refuses_garbage_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        for text in ["", "secretword", &"ab".repeat(33), &"zz".repeat(32)] {
            let e = Signer::from_file(&file(dir.path(), "k", text, 0o600)).unwrap_err();
            assert!(matches!(e, KeyError::Format { .. }), "{e}");
            if !text.is_empty() {
                assert!(!e.to_string().contains(text), "{e}");
            }
        }
        let bad_mnemonic = vec!["abandon"; 25].join(" ");
        let e = Signer::from_file(&file(dir.path(), "k", &bad_mnemonic, 0o600)).unwrap_err();
        assert!(matches!(e, KeyError::Format { .. }), "{e}");
        assert!(matches!(
            Signer::from_file(&dir.path().join("missing")),
            Err(KeyError::Read { .. })
        ));
    }
}
