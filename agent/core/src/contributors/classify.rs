//! Which lines of a file are code, comment or text (docs/contributors.md, "Classification").
//!
//! A line-based scanner, not a parser: it knows each language family's comment markers and enough
//! of its string syntax that a `/*` or `#` inside a string does not start a comment. What matters
//! more than perfection is that every implementation classifies the same bytes the same way, so
//! the rules are a table ([`super::families`]) and in the docs, and nothing depends on the
//! environment.

pub use super::families::{family_of, Family, Syntax};

use super::families::{Escape, Quote};
use serde::Serialize;

/// What a non-blank line is worth points as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineClass {
    Code,
    Comment,
    Text,
}

/// The bytes that count as "blank" around a line: ASCII whitespace, including `\r` so that
/// changing line endings is not new work.
pub fn trim(line: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c);
    let start = line.iter().position(|b| !ws(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|b| !ws(b)).map_or(start, |e| e + 1);
    &line[start..end]
}

/// Git's rule for binary content: a NUL byte in the first 8000 bytes.
pub fn is_binary(content: &[u8]) -> bool {
    content.iter().take(8000).any(|b| *b == 0)
}

/// The non-blank lines of a file with their class, each trimmed of surrounding whitespace.
/// Blank lines (and lines of a generated file) are left out: they are worth nothing.
pub fn classify(family: Family, content: &[u8]) -> Vec<(LineClass, &[u8])> {
    let lines = content.split(|b| *b == b'\n');
    match family {
        Family::Generated => Vec::new(),
        Family::Text => lines
            .map(trim)
            .filter(|l| !l.is_empty())
            .map(|l| (LineClass::Text, l))
            .collect(),
        Family::Data => lines
            .map(trim)
            .filter(|l| !l.is_empty())
            .map(|l| (LineClass::Code, l))
            .collect(),
        Family::Source(syntax) => {
            let mut scanner = Scanner {
                syntax,
                state: State::Normal,
            };
            let mut out = Vec::new();
            for line in lines {
                let has_code = scanner.line(line);
                let t = trim(line);
                if !t.is_empty() {
                    let class = if has_code {
                        LineClass::Code
                    } else {
                        LineClass::Comment
                    };
                    out.push((class, t));
                }
            }
            out
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Block {
        depth: u32,
    },
    Str(Quote),
    /// A Rust raw string, closed by `"` and this many `#`.
    Raw {
        hashes: usize,
    },
}

struct Scanner {
    syntax: &'static Syntax,
    state: State,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Scanner {
    /// Scans one line, carrying block-comment and string state to the next; returns whether the
    /// line has code: a non-blank byte outside every comment (string contents are code).
    fn line(&mut self, line: &[u8]) -> bool {
        let s = self.syntax;
        let mut code = false;
        let mut i = 0;
        while i < line.len() {
            let rest = &line[i..];
            match self.state {
                State::Normal => {
                    let b = line[i];
                    if b.is_ascii_whitespace() {
                        i += 1;
                        continue;
                    }
                    if let Some((open, _)) = s.block.filter(|(o, _)| rest.starts_with(o.as_bytes()))
                    {
                        self.state = State::Block { depth: 1 };
                        i += open.len();
                        continue;
                    }
                    if s.line.iter().any(|l| rest.starts_with(l.as_bytes())) {
                        break;
                    }
                    code = true;
                    if s.rust_literals {
                        if let Some(n) = rust_literal(line, i, &mut self.state) {
                            i += n;
                            continue;
                        }
                    }
                    if let Some(quote) = s
                        .quotes
                        .iter()
                        .find(|q| rest.starts_with(q.open.as_bytes()))
                    {
                        self.state = State::Str(*quote);
                        i += quote.open.len();
                        continue;
                    }
                    i += 1;
                }
                State::Block { depth } => {
                    let Some((open, close)) = s.block else {
                        self.state = State::Normal;
                        continue;
                    };
                    if s.nested && rest.starts_with(open.as_bytes()) {
                        self.state = State::Block { depth: depth + 1 };
                        i += open.len();
                    } else if rest.starts_with(close.as_bytes()) {
                        self.state = if depth <= 1 {
                            State::Normal
                        } else {
                            State::Block { depth: depth - 1 }
                        };
                        i += close.len();
                    } else {
                        i += 1;
                    }
                }
                State::Str(quote) => {
                    code = true;
                    i += string_step(quote, rest, &mut self.state);
                }
                State::Raw { hashes } => {
                    code = true;
                    if rest.first() == Some(&b'"')
                        && rest.len() > hashes
                        && rest[1..=hashes].iter().all(|b| *b == b'#')
                    {
                        self.state = State::Normal;
                        i += 1 + hashes;
                    } else {
                        i += 1;
                    }
                }
            }
        }
        if let State::Str(quote) = self.state {
            if !quote.multiline {
                self.state = State::Normal;
            }
        }
        code
    }
}

/// One step inside a string: how many bytes to consume; closes the string when it ends.
fn string_step(quote: Quote, rest: &[u8], state: &mut State) -> usize {
    match quote.escape {
        Escape::Backslash if rest.first() == Some(&b'\\') => return 2.min(rest.len()),
        Escape::NixIndented if rest.starts_with(b"''") => {
            return match rest.get(2) {
                Some(b'\'') | Some(b'$') => 3,
                Some(b'\\') => 4.min(rest.len()),
                _ => {
                    *state = State::Normal;
                    2
                }
            };
        }
        _ => {}
    }
    if rest.starts_with(quote.close.as_bytes()) {
        *state = State::Normal;
        return quote.close.len();
    }
    1
}

/// Rust's literals that a plain quote table gets wrong: `'"'` (a character, not a string),
/// `'a` (a lifetime, not a quote) and `r#"…"#` (a raw string whose `"` inside does not close
/// it). Returns the bytes consumed when `line[i]` starts one of them.
fn rust_literal(line: &[u8], i: usize, state: &mut State) -> Option<usize> {
    let rest = &line[i..];
    match rest.first()? {
        b'\'' => {
            if rest.get(1) == Some(&b'\\') {
                // '\n', '\'', '\u{1F600}': up to the next quote, within a short distance.
                let end = rest.iter().skip(3).take(10).position(|b| *b == b'\'')?;
                return Some(end + 4);
            }
            let first = *rest.get(1)?;
            let width = match first {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            (rest.get(1 + width) == Some(&b'\'')).then_some(width + 2)
        }
        b'r' => {
            let before = |k: usize| i.checked_sub(k).map(|j| line[j]);
            let prefix_ok = match before(1) {
                None => true,
                Some(b'b') => !before(2).is_some_and(is_ident),
                Some(p) => !is_ident(p),
            };
            if !prefix_ok {
                return None;
            }
            let hashes = rest[1..].iter().take_while(|b| **b == b'#').count();
            if rest.get(1 + hashes) != Some(&b'"') {
                return None;
            }
            *state = State::Raw { hashes };
            Some(2 + hashes)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LineClass::{Code, Comment, Text};

    fn classes(path: &str, text: &str) -> Vec<LineClass> {
        classify(family_of(path.as_bytes()), text.as_bytes())
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    #[test]
    fn families_by_name_then_extension() {
        assert_eq!(family_of(b"src/main.rs").name(), "rust");
        assert_eq!(family_of(b"hosts/web.NIX").name(), "nix");
        assert_eq!(family_of(b"Cargo.lock").name(), "generated");
        assert_eq!(family_of(b"a/flake.lock").name(), "generated");
        assert_eq!(family_of(b"Makefile").name(), "hash");
        assert_eq!(family_of(b"README").name(), "text");
        assert_eq!(family_of(b"daoContributors.txt").name(), "text");
        assert_eq!(family_of(b".bashrc").name(), "data");
        assert_eq!(family_of(b"data.json").name(), "data");
        assert_eq!(family_of(b"noext").name(), "data");
    }

    #[test]
    fn c_like_lines_and_blocks() {
        let src = "int a; // x\n// only comment\n/* start\n still\n end */ int b;\n\n  /* one */\n";
        assert_eq!(
            classes("a.c", src),
            vec![Code, Comment, Comment, Comment, Code, Comment]
        );
    }

    #[test]
    fn comment_markers_inside_strings_are_code() {
        let src = "s = \"/* not a comment\";\nint x;\n// c\n";
        assert_eq!(classes("a.js", src), vec![Code, Code, Comment]);
        // Without string tracking the "/*" would make the next two lines comments.
        let nix = "{ x = \"a/*\"; y = ''\n  # shell comment in a string\n''; }\n# real\n";
        assert_eq!(classes("a.nix", nix), vec![Code, Code, Code, Comment]);
    }

    #[test]
    fn nix_indented_string_escapes_do_not_close_it() {
        let nix = "x = ''\n  a '''quoted''' ''${b}\n  # still string\n'';\n# comment\n";
        assert_eq!(classes("a.nix", nix), vec![Code, Code, Code, Code, Comment]);
    }

    #[test]
    fn rust_nesting_chars_and_raw_strings() {
        let src = "/* a /* b */ still */\nlet c = '\"';\nfn f<'a>() {}\nlet r = r#\"/* \" x\"#;\n// end\n";
        assert_eq!(
            classes("a.rs", src),
            vec![Comment, Code, Code, Code, Comment]
        );
    }

    #[test]
    fn python_triple_quotes_hide_hashes() {
        let src = "x = \"\"\"\n# inside\n\"\"\"\n# outside\ny = '#'\n";
        assert_eq!(classes("a.py", src), vec![Code, Code, Code, Comment, Code]);
    }

    #[test]
    fn unterminated_single_line_quote_does_not_leak() {
        let src = "#error don't\n/* c */\n";
        assert_eq!(classes("a.c", src), vec![Code, Comment]);
    }

    #[test]
    fn text_data_generated_and_blank() {
        assert_eq!(classes("a.md", "# Title\n\nbody\n"), vec![Text, Text]);
        assert_eq!(
            classes("a.json", "{\n  \"a\": 1\n}\n"),
            vec![Code, Code, Code]
        );
        assert!(classes("Cargo.lock", "[[package]]\n").is_empty());
        assert_eq!(classes("a.sh", "  \r\n\t\n"), Vec::<LineClass>::new());
    }

    #[test]
    fn trim_and_binary() {
        assert_eq!(trim(b"  a b \r"), b"a b");
        assert_eq!(trim(b" \t "), b"");
        assert!(is_binary(b"ab\0c"));
        assert!(!is_binary(b"abc"));
    }
}
