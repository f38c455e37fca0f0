//! The narration: a timeline on the terminal, each line stamped with the seconds since the
//! start, and one transient progress line while waiting (redrawn in place on a terminal,
//! printed only when it changes elsewhere).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

pub struct Story {
    start: Instant,
    tty: bool,
    color: bool,
    quiet: bool,
    /// The progress line shown now (a terminal) or printed last (otherwise).
    progress: Mutex<Option<String>>,
}

const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Story {
    /// A story told on stdout; `quiet` tells nothing (benchmarks print their own tables).
    pub fn new(quiet: bool) -> Story {
        let tty = std::io::stdout().is_terminal();
        Story {
            start: Instant::now(),
            tty,
            color: tty && std::env::var_os("NO_COLOR").is_none(),
            quiet,
            progress: Mutex::new(None),
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.start.elapsed()
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn stamp(&self) -> String {
        self.paint(
            DIM,
            &format!("[{:>6.1}s]", self.start.elapsed().as_secs_f64()),
        )
    }

    fn emit(&self, line: &str) {
        if self.quiet {
            return;
        }
        // print! (not a locked stdout) so that test harnesses capture it.
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if self.tty && p.is_some() {
            print!("\r\x1b[2K");
        }
        *p = None;
        println!("{line}");
        let _ = std::io::stdout().flush();
    }

    /// A heading.
    pub fn section(&self, title: &str) {
        self.emit("");
        self.emit(&self.paint(BOLD, &format!("── {title} ")));
    }

    /// Plain narration.
    pub fn say(&self, text: &str) {
        self.emit(&format!("{} {text}", self.stamp()));
    }

    /// A command being run, as a reader would type it.
    pub fn cmd(&self, text: &str) {
        self.emit(&format!(
            "{} {}",
            self.stamp(),
            self.paint(CYAN, &format!("$ {text}"))
        ));
    }

    /// A command's output, indented.
    pub fn output(&self, text: &str) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            self.emit(&format!("{}   {}", self.stamp(), self.paint(DIM, line)));
        }
    }

    pub fn ok(&self, text: &str) {
        self.emit(&format!(
            "{} {} {text}",
            self.stamp(),
            self.paint(GREEN, "✓")
        ));
    }

    pub fn bad(&self, text: &str) {
        self.emit(&format!("{} {} {text}", self.stamp(), self.paint(RED, "✗")));
    }

    /// A line printed without a time stamp (summaries).
    pub fn raw(&self, text: &str) {
        self.emit(text);
    }

    /// Shows the transient progress line `text — detail`; without a terminal it is printed
    /// only when `text` changes.
    pub fn progress(&self, text: &str, detail: &str) {
        if self.quiet {
            return;
        }
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if self.tty {
            let line = format!("{} … {text} — {detail}", self.stamp());
            print!("\r\x1b[2K{}", self.paint(DIM, &line));
        } else if p.as_deref() != Some(text) {
            println!("{} … {text} — {detail}", self.stamp());
        }
        let _ = std::io::stdout().flush();
        *p = Some(text.to_owned());
    }

    pub fn ok_mark(&self) -> String {
        self.paint(GREEN, "✓")
    }

    pub fn bad_mark(&self) -> String {
        self.paint(RED, "✗")
    }
}

/// `ABCDEF…WXYZ`: an address or hash shortened for the narration.
pub fn short(s: &str) -> String {
    if s.chars().count() <= 14 {
        return s.to_owned();
    }
    let head: String = s.chars().take(6).collect();
    let tail: String = s
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

/// Shortens the commit ids (40 hex digits) and hashes (64) in a message to 12 digits and `…`.
pub fn abbreviate(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 40 || run.len() == 64 {
            out.push_str(&run[..12]);
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}
