//! The one way text read from a log reaches a terminal, a table cell or a stderr line:
//! [`display`]. Log text is written by whoever wants to, so every character that could move the
//! cursor, end a line, reorder what a line shows or hide itself is shown as a `\u{…}` escape, and
//! long values are cut for display (JSON keeps them whole).
//!
//! What counts as such a character is Unicode's own classes, not a hand-picked list: Cc (C0, DEL,
//! C1, NEL among them), Cf (bidi controls, zero-width characters, U+061C, soft hyphen, tags), Zl and
//! Zp (U+2028, U+2029). The table comes from `unicode-general-category`.
//!
//! It also owns how a time is written for people ([`time`]): both are the lowest floor, used by
//! the diagnosis's sentences, the restore script and every report writer.

use unicode_general_category::{GeneralCategory, get_general_category};

/// How much of one value a report shows; the rest is counted, not printed.
pub const DISPLAY_CHARS: usize = 256;

/// Whether `c` must never reach a terminal raw.
pub fn is_unsafe_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
    )
}

/// `s` escaped for display and cut to [`DISPLAY_CHARS`] characters.
pub fn display(s: &str) -> String {
    display_cut(s, DISPLAY_CHARS)
}

/// [`display`] appended to `out`, without an allocation for the common plain value.
pub fn push_display(out: &mut String, s: &str) {
    if s.len() <= DISPLAY_CHARS && is_plain(s) {
        out.push_str(s);
    } else {
        out.push_str(&display(s));
    }
}

/// [`html`] appended to `out`, without an allocation for the common plain value.
pub fn push_html(out: &mut String, s: &str) {
    if s.len() <= DISPLAY_CHARS && !s.bytes().any(|b| b"&<>\"'".contains(&b)) && is_plain(s) {
        out.push_str(s);
    } else {
        out.push_str(&html_escaped(&display(s)));
    }
}

/// [`markdown`] appended to `out`, without an allocation for the common plain value.
pub fn push_markdown(out: &mut String, s: &str) {
    if s.len() <= DISPLAY_CHARS && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ') {
        out.push_str(s);
    } else {
        out.push_str(&markdown_escaped(&display(s)));
    }
}

/// `s` escaped for display, whole: for the few places that must show a value entirely (a file
/// name in an error message), still on one line.
pub fn display_whole(s: &str) -> String {
    display_cut(s, usize::MAX)
}

/// No character [`display`] escapes: checked byte by byte for ASCII, which most log text is.
fn is_plain(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b)) || s.chars().all(|c| !is_unsafe_char(c))
}

fn display_cut(s: &str, limit: usize) -> String {
    let plain = is_plain(s);
    if plain && (limit == usize::MAX || s.len() <= limit) {
        // Bytes bound characters from above: at most `limit` characters.
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len().min(limit.saturating_mul(4)) + 16);
    let mut chars = s.chars();
    for (shown, c) in chars.by_ref().enumerate() {
        if shown == limit {
            let more = 1 + chars.count();
            out.push_str(&format!("… ({more} more)"));
            return out;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A sentence that holds log values (a summary, a step's text): escaped whole, but any one word
/// longer than [`DISPLAY_CHARS`] is cut, and the whole at sixteen times that. Words are where a
/// terminal wraps; one without end is what makes a table or a wrap slow and a screen useless.
pub fn display_text(s: &str) -> String {
    let escaped = display_cut(s, DISPLAY_CHARS * 16);
    if escaped.split(' ').all(|w| w.len() <= DISPLAY_CHARS) {
        return escaped;
    }
    escaped
        .split(' ')
        .map(|w| {
            if w.chars().count() > DISPLAY_CHARS {
                let kept: String = w.chars().take(DISPLAY_CHARS).collect();
                format!("{kept}… ({} more)", w.chars().count() - DISPLAY_CHARS)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for a PowerShell `#` comment (a script's header): ASCII only, so that nothing any
/// PowerShell host counts as a line end or a quote can end the comment. Everything else is a
/// `\u{…}` escape.
pub fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(DISPLAY_CHARS) + 8);
    for (n, c) in s.chars().enumerate() {
        if n == DISPLAY_CHARS {
            out.push_str(&format!("... ({} more)", s.chars().count() - n));
            break;
        }
        if (' '..='~').contains(&c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    out
}

/// `s` for HTML text or a quoted attribute value: `&`, `<`, `>`, `"` and `'` as entities, and
/// every character [`display`] would escape shown the same way, so a page never holds a raw
/// control or bidi character of a log. The one way log text reaches the HTML report.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_html(&mut out, s);
    out
}

/// [`html`] for a sentence of evtriage's that holds log values (see [`display_text`]).
pub fn html_text(s: &str) -> String {
    html_escaped(&display_text(s))
}

/// [`html`] for a command: whole, never cut.
pub fn html_whole(s: &str) -> String {
    html_escaped(&display_whole(s))
}

fn html_escaped(shown: &str) -> String {
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` for Markdown text (a paragraph or a table cell): every character Markdown or GitHub's
/// renderer gives a meaning to is backslash-escaped, `<`, `>` and `&` become entities (GitHub
/// renders inline HTML), and [`display`]'s escapes apply. The one way log text reaches the
/// Markdown report outside code blocks.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_markdown(&mut out, s);
    out
}

/// [`markdown`] for a sentence of evtriage's that holds log values (see [`display_text`]).
pub fn markdown_text(s: &str) -> String {
    markdown_escaped(&display_text(s))
}

fn markdown_escaped(shown: &str) -> String {
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' | '"' | '\'' | ':' | '@' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block holding `lines` whole: the fence is longer than any run of backticks in
/// them, so nothing inside can close it. Commands are never cut; [`display_whole`] keeps each on
/// one line.
pub fn markdown_code_block(lang: &str, lines: &[String]) -> String {
    let body: Vec<String> = lines.iter().map(|l| display_whole(l)).collect();
    let longest = body
        .iter()
        .flat_map(|l| l.split(|c| c != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}\n", body.join("\n"))
}

/// `2011-11-09 03:02:06`: how every readable report writes a time (UTC). Written field by field:
/// a fleet's report writes it a hundred thousand times, and a strftime pattern is parsed each time.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let mut b = *b"0000-00-00 00:00:00";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, t.year().clamp(0, 9999) as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    String::from_utf8_lossy(&b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_that_moves_the_cursor_or_hides_reaches_the_terminal() {
        assert_eq!(display("plain"), "plain");
        assert_eq!(display("a\u{1b}[31mred"), "a\\u{1b}[31mred");
        assert_eq!(display("tab\there"), "tab\\there");
        assert_eq!(display("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(display("bell\u{7}"), "bell\\u{7}");
        assert_eq!(display("two\nlines\r"), "two\\nlines\\r");
        for c in [
            '\u{85}',
            '\u{9b}',
            '\u{2028}',
            '\u{2029}',
            '\u{61c}',
            '\u{200b}',
            '\u{200d}',
            '\u{feff}',
            '\u{ad}',
            '\u{e0041}',
            '\u{2066}',
        ] {
            let shown = display(&format!("a{c}b"));
            assert!(!shown.contains(c), "{c:?} shown raw");
            assert!(shown.starts_with("a\\u{"), "{shown}");
        }
        assert_eq!(
            display("Exchange Server 2007 – 日本語"),
            "Exchange Server 2007 – 日本語"
        );
    }

    #[test]
    fn long_values_are_cut_and_counted() {
        let long = "x".repeat(30_000);
        let shown = display(&long);
        assert!(shown.starts_with(&"x".repeat(DISPLAY_CHARS)));
        assert!(shown.ends_with(&format!("… ({} more)", 30_000 - DISPLAY_CHARS)));
        assert_eq!(
            display(&"y".repeat(DISPLAY_CHARS)),
            "y".repeat(DISPLAY_CHARS)
        );
        assert_eq!(display_whole(&long), long);
    }

    #[test]
    fn comments_hold_ascii_only() {
        assert_eq!(comment_text("a\nb\u{2028}c"), "a\\u{a}b\\u{2028}c");
        assert!(comment_text(&"é".repeat(1000)).is_ascii());
    }

    #[test]
    fn pages_and_markdown_get_text_not_markup() {
        assert_eq!(html("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(html("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(
            markdown("[x](http://y) *z*"),
            "\\[x\\]\\(http\\://y\\) \\*z\\*"
        );
        assert_eq!(markdown("<img>"), "&lt;img&gt;");
        // The fence outgrows any run of backticks inside.
        let block = markdown_code_block("powershell", &["a ```` b".to_string()]);
        assert!(block.starts_with("`````powershell\n"), "{block}");
        assert!(block.ends_with("\n`````\n"), "{block}");
    }
}
