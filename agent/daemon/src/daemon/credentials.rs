//! Where the agent's secrets come from when its configuration names no file: the systemd
//! credentials `account-key` and `algod-token` in `$CREDENTIALS_DIRECTORY`.
//!
//! The NixOS module hands the secrets to each unit with `LoadCredential=` and writes no path
//! into the generated configuration: the credentials directory is the unit's own
//! (`/run/credentials/<unit>/`), systemd names it only to the process (`$CREDENTIALS_DIRECTORY`,
//! or `%d` in unit settings), and a path written into the file would tie one configuration to
//! one unit name. A file named in the configuration always wins.

use dao_chain::keys::Signer;
use std::path::{Path, PathBuf};

/// The credential holding the account key that signs reports and attestations.
pub const ACCOUNT_KEY: &str = "account-key";
/// The credential holding algod's API token.
pub const ALGOD_TOKEN: &str = "algod-token";

/// The credentials directory systemd gave this process, if any.
pub fn directory() -> Option<PathBuf> {
    std::env::var_os("CREDENTIALS_DIRECTORY")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// The algod token file: the configured one, else the `algod-token` credential when the unit
/// has one, else none (a node that needs no token, such as a local one). A credentials
/// directory without `algod-token` is not an error: the module passes the credential only when
/// `algodTokenFile` is set.
pub fn algod_token_file(configured: Option<&Path>, credentials: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return Some(path.to_owned());
    }
    let candidate = credentials?.join(ALGOD_TOKEN);
    // symlink_metadata: a credential is a regular file; anything else is not ours to follow.
    match std::fs::symlink_metadata(&candidate) {
        Ok(m) if m.is_file() => Some(candidate),
        _ => None,
    }
}

/// What to add to an algod error that a missing token may explain.
pub fn token_hint(token: Option<&Path>) -> &'static str {
    if token.is_some() {
        ""
    } else {
        " (no algod token is configured: if the node needs one, set chain.algod_token_file, or \
         hand the unit the systemd credential algod-token: services.dao-governance.algodTokenFile \
         on NixOS)"
    }
}

/// The account key: the configured file, else the `account-key` credential. The error names
/// the file it tried, the option and the credential, so the operator knows what to provide.
pub fn signer(configured: Option<&Path>, credentials: Option<&Path>) -> Result<Signer, String> {
    match (configured, credentials) {
        (Some(path), _) => Signer::from_file(path)
            .map_err(|e| format!("cannot load the account key from keys.account_key_file: {e}")),
        (None, Some(dir)) => Signer::from_file(&dir.join(ACCOUNT_KEY)).map_err(|e| {
            format!(
                "cannot load the account key from the systemd credential {ACCOUNT_KEY}: {e}; \
                 hand the unit that credential (LoadCredential={ACCOUNT_KEY}:FILE, set by \
                 services.dao-governance.keyFile or validator.keyFile on NixOS), or set \
                 keys.account_key_file"
            )
        }),
        (None, None) => Err(format!(
            "no account key: keys.account_key_file is not set and there is no systemd \
             credential {ACCOUNT_KEY} ($CREDENTIALS_DIRECTORY is not set); set \
             keys.account_key_file, or run the agent in a unit with \
             LoadCredential={ACCOUNT_KEY}:FILE (services.dao-governance.keyFile or \
             validator.keyFile on NixOS)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const SEED_HEX: &str = "0202020202020202020202020202020202020202020202020202020202020202";

    fn secret(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o400)).unwrap();
        p
    }

    #[test]
    fn token_comes_from_the_configuration_first_then_the_credential() {
        let creds = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let configured = secret(other.path(), "token", "a");
        let credential = secret(creds.path(), ALGOD_TOKEN, "b");
        assert_eq!(
            algod_token_file(Some(&configured), Some(creds.path())),
            Some(configured.clone())
        );
        assert_eq!(algod_token_file(None, Some(creds.path())), Some(credential));
        assert_eq!(token_hint(Some(&configured)), "");
    }

    #[test]
    fn a_missing_token_is_no_token_and_the_hint_names_option_and_credential() {
        let creds = tempfile::tempdir().unwrap();
        // A directory with other credentials only (the executor's account-key).
        secret(creds.path(), ACCOUNT_KEY, SEED_HEX);
        assert_eq!(algod_token_file(None, Some(creds.path())), None);
        assert_eq!(algod_token_file(None, None), None);
        // Not a regular file: never followed.
        std::os::unix::fs::symlink("/etc/hostname", creds.path().join(ALGOD_TOKEN)).unwrap();
        assert_eq!(algod_token_file(None, Some(creds.path())), None);
        let hint = token_hint(None);
        for needle in [
            "chain.algod_token_file",
            "algod-token",
            "services.dao-governance.algodTokenFile",
        ] {
            assert!(hint.contains(needle), "{hint}");
        }
    }

    #[test]
    fn key_comes_from_the_configuration_first_then_the_credential() {
        let creds = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let from_credential = secret(creds.path(), ACCOUNT_KEY, SEED_HEX);
        let configured = secret(other.path(), "key", &"03".repeat(32));
        let a = signer(None, Some(creds.path())).unwrap();
        assert_eq!(
            a.address(),
            Signer::from_file(&from_credential).unwrap().address()
        );
        let b = signer(Some(&configured), Some(creds.path())).unwrap();
        assert_eq!(
            b.address(),
            Signer::from_file(&configured).unwrap().address()
        );
        assert_ne!(a.address(), b.address());
    }

    #[test]
    fn a_missing_key_names_the_option_and_the_credential() {
        let creds = tempfile::tempdir().unwrap();
        let missing_credential = signer(None, Some(creds.path())).unwrap_err();
        let no_directory = signer(None, None).unwrap_err();
        for e in [&missing_credential, &no_directory] {
            for needle in ["keys.account_key_file", "account-key", "keyFile"] {
                assert!(e.contains(needle), "{e}");
            }
        }
        assert!(
            missing_credential.contains(&creds.path().join(ACCOUNT_KEY).display().to_string()),
            "{missing_credential}"
        );
        assert!(
            no_directory.contains("CREDENTIALS_DIRECTORY"),
            "{no_directory}"
        );
        // A configured file that is missing is named as the configured one, not the credential.
        let e = signer(Some(&creds.path().join("nope")), Some(creds.path())).unwrap_err();
        assert!(
            e.contains("keys.account_key_file") && e.contains("nope"),
            "{e}"
        );
        // A credential with loose permissions is refused, naming the fix.
        let loose = secret(creds.path(), ACCOUNT_KEY, SEED_HEX);
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = signer(None, Some(creds.path())).unwrap_err();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
