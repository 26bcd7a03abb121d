//! A tokenizer for the PowerShell that evtriage emits, written from the language specification's
//! lexical grammar (PowerShell 3.0 Language Specification, §2.3), for what the emitted commands
//! and scripts can hold: single-quoted strings (in which any of `'`, U+2018, U+2019, U+201A,
//! U+201B is a quote, and two of them in a row stand for one), double-quoted strings, `#`
//! comments, the new-line characters (CR and LF), the statement and pipeline operators, braces,
//! parentheses and commas; everything else is a bare word. The tests use it to check that every
//! value from a log is exactly one single-quoted literal and that nothing else changed.
#![allow(dead_code)]

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    /// A single-quoted string, decoded.
    Single(String),
    /// A double-quoted string, as written (its `$` expansions are the template's own).
    Double(String),
    Word(String),
    /// `|`
    Pipe,
    /// `;`, `&&`, `||` or a new line: another statement begins.
    Separator,
    /// `{ } ( ) ,`
    Punct(char),
    Comment(String),
}

pub fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}')
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201c}' | '\u{201d}' | '\u{201e}')
}

/// Tokens, or why the text is not PowerShell this tokenizer knows (an unterminated string).
pub fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\r' | '\n' => {
                out.push(Token::Separator);
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                let start = i + 1;
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
                out.push(Token::Comment(chars[start..i].iter().collect()));
            }
            c if is_single_quote(c) => {
                let (text, next) = quoted(&chars, i + 1, is_single_quote, false, src)?;
                out.push(Token::Single(text));
                i = next;
            }
            c if is_double_quote(c) => {
                let (text, next) = quoted(&chars, i + 1, is_double_quote, true, src)?;
                out.push(Token::Double(text));
                i = next;
            }
            ';' => {
                out.push(Token::Separator);
                i += 1;
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Token::Separator);
                i += 2;
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push(Token::Separator);
                i += 2;
            }
            '|' => {
                out.push(Token::Pipe);
                i += 1;
            }
            '{' | '}' | '(' | ')' | ',' => {
                out.push(Token::Punct(c));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace()
                        || "|;{}(),#".contains(c)
                        || is_single_quote(c)
                        || is_double_quote(c)
                    {
                        break;
                    }
                    // A backtick escapes the next character, a new line included.
                    if c == '`' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push(Token::Word(
                    chars[start..i.min(chars.len())].iter().collect(),
                ));
            }
        }
    }
    Ok(out)
}

/// A quoted string's content from `i` (after its opening quote) and where it ends: any quote
/// character doubled stands for one; in double-quoted strings a backtick escapes the next
/// character (kept as written: the tests compare the template's own double-quoted text).
fn quoted(
    chars: &[char],
    mut i: usize,
    is_quote: fn(char) -> bool,
    backtick: bool,
    src: &str,
) -> Result<(String, usize), String> {
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(format!("unterminated string in {src:?}"));
        };
        if backtick && c == '`' {
            s.extend(chars.get(i..(i + 2).min(chars.len())).into_iter().flatten());
            i += 2;
            continue;
        }
        if is_quote(c) {
            if chars.get(i + 1).is_some_and(|n| is_quote(*n)) {
                s.push(c);
                i += 2;
                continue;
            }
            return Ok((s, i + 1));
        }
        s.push(c);
        i += 1;
    }
}

/// The command with every single-quoted literal's content left out: what must not change
/// whatever a log says.
pub fn skeleton(tokens: &[Token]) -> Vec<Token> {
    tokens
        .iter()
        .map(|t| match t {
            Token::Single(_) => Token::Single(String::new()),
            other => other.clone(),
        })
        .collect()
}

pub fn literals(tokens: &[Token]) -> Vec<&str> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Single(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}
