use super::print_json;
use crate::out::outln;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

pub fn run(file: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the configuration file {}", file.display()))?;
    let result = dao_core::config::parse(&text);
    if json {
        let (config, problems) = match &result {
            Ok(c) => (Some(c), &[][..]),
            Err(p) => (None, &p[..]),
        };
        print_json(&serde_json::json!({
            "file": file,
            "valid": result.is_ok(),
            "problems": problems,
            "config": config,
        }))?;
    } else {
        match &result {
            Ok(c) => {
                let roles: Vec<String> = c
                    .roles
                    .iter()
                    .map(|r| serde_json::to_value(r).map(|v| v.as_str().unwrap_or("").to_owned()))
                    .collect::<Result<_, _>>()?;
                outln!("{}: valid (roles: {})", file.display(), roles.join(", "));
            }
            Err(problems) => {
                for p in problems {
                    eprintln!("{}: {p}", file.display());
                }
                eprintln!(
                    "{}: {} problem{}; see docs/configuration.md",
                    file.display(),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
            }
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
