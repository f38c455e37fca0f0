//! `dao-demo --dump DIR`: what a fleet operator's tools would collect, saved for a look
//! afterwards (issue 15): each agent's last `/metrics` scrape as `metrics-<agent>.txt`, and
//! `dao-agentctl fleet --json` and `audit --json` as `fleet.json` and `audit.json`.

use crate::scenario::Scenario;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `GET /metrics` from an agent on 127.0.0.1:`port`: the body of a 200 answer.
pub fn scrape(port: u16) -> Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("connecting to the agent's metrics on 127.0.0.1:{port}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw).context("the metrics are not UTF-8")?;
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("127.0.0.1:{port} answered without HTTP headers");
    };
    if head.split(' ').nth(1) != Some("200") {
        bail!(
            "127.0.0.1:{port}/metrics answered {}",
            head.lines().next().unwrap_or_default()
        );
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        Ok(body.to_owned())
    }
}

fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("a truncated chunk")?;
        let n = usize::from_str_radix(size.trim(), 16).context("a bad chunk size")?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).context("a truncated chunk")?);
        body = rest.get(n + 2..).context("a truncated chunk")?;
    }
}

impl Scenario {
    /// Writes the dump into `dir` (created if missing); the files written. The fleet and audit
    /// views are the summary's when it ran, else read now.
    pub fn dump(&mut self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut written = Vec::new();
        let mut write = |name: &str, text: &str| -> Result<()> {
            let p = dir.join(name);
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
            written.push(p);
            Ok(())
        };
        let agents: Vec<(String, u16)> = self
            .fleet
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.metrics_port))
            .chain(
                self.fleet
                    .validators
                    .iter()
                    .filter(|v| v.started())
                    .map(|v| (v.name.clone(), v.metrics_port)),
            )
            .collect();
        for (name, port) in agents {
            let text = scrape(port).with_context(|| format!("scraping the agent of {name}"))?;
            write(&format!("metrics-{name}.txt"), &text)?;
        }
        let (fleet, audit) = match self.chain_view.clone() {
            Some(v) => v,
            None => self.fleet_and_audit()?,
        };
        write("fleet.json", &format!("{fleet:#}\n"))?;
        write("audit.json", &format!("{audit:#}\n"))?;
        Ok(written)
    }
}
