//! Everything dao-agentctl prints on standard output goes through here (`outln!`, `out!`), so
//! that a reader that goes away (`dao-agentctl proposals | head -1`) ends the program quietly
//! with status 141, as a shell pipeline expects — `println!` panics there, with status 101, and
//! did so after `submit` had already created the proposal. Every command prints only after its
//! transactions are confirmed, so stopping at the first failed write never cuts an action in
//! half. `clippy::print_stdout` is denied in this crate to keep it that way.

use std::fmt;
use std::io::{self, Write};

/// Status of a program killed by SIGPIPE (128 + 13), what shells report for a closed pipe.
const BROKEN_PIPE_STATUS: i32 = 141;

/// Writes `args` to standard output and flushes; on a closed pipe exits with 141, on any other
/// write error says so on standard error and exits with 74 (EX_IOERR).
pub fn write(args: fmt::Arguments<'_>) {
    let mut o = io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(BROKEN_PIPE_STATUS);
        }
        eprintln!("dao-agentctl: error: cannot write to standard output: {e}");
        std::process::exit(74);
    }
}

/// Writes bytes another library produced (completion scripts) the same way.
pub fn write_bytes(bytes: &[u8]) {
    write(format_args!("{}", String::from_utf8_lossy(bytes)));
}

/// `println!` that ends quietly on a closed pipe.
macro_rules! outln {
    () => {
        $crate::out::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that ends quietly on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write(format_args!($($arg)*))
    };
}

pub(crate) use {out, outln};
