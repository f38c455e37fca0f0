//! The agent configuration parser.

use dao_core::config;

/// The bytes are the text of a configuration file (the agent reads it as UTF-8; other bytes never
/// reach the parser).
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text) {
        Ok(c) => {
            // Written back as TOML, the configuration parses to the same value: every default
            // the parser filled in and every value it normalized is itself valid input.
            let back = toml::to_string(&c)
                .unwrap_or_else(|e| panic!("{c:?} does not serialize as TOML: {e}"));
            match config::parse(&back) {
                Ok(again) => assert_eq!(again, c, "written back as\n{back}"),
                Err(p) => panic!("written back as\n{back}\nit no longer parses: {p:?}"),
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "an error without a problem");
            for p in &problems {
                assert!(
                    !p.message.trim().is_empty(),
                    "a problem without a message: {p:?}"
                );
                let shown = p.to_string();
                if p.path.is_empty() {
                    assert_eq!(shown, p.message);
                } else {
                    assert_eq!(shown, format!("{}: {}", p.path, p.message));
                }
            }
            // A syntax error is reported alone, without a key path.
            if toml::from_str::<toml::Table>(text).is_err() {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert!(problems[0].path.is_empty(), "{problems:?}");
            }
        }
    }
}
