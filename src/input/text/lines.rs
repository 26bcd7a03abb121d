//! A text log's lines: its encoding (UTF-16LE or UTF-8 by byte-order mark, else UTF-8 when it
//! is valid, else the Windows ANSI code page 1252), read a block at a time into the buffer the
//! lines are split in, lines of bounded length, and the separators lines are split at.

use super::{InputFile, Progress};
use std::io::{self, Read};
use std::ops::ControlFlow;

/// Read this much of a file at a time.
const BLOCK: usize = 1 << 20;

/// A separator that every line of a text log is split at, its searcher built once: `split_once`
/// with a `&str` builds a two-way searcher on each call, a fifth of reading an installer log
/// (issue 24).
pub(crate) struct Separator {
    needle: &'static str,
    finder: std::sync::OnceLock<memchr::memmem::Finder<'static>>,
}

impl Separator {
    pub(crate) const fn new(needle: &'static str) -> Self {
        Separator {
            needle,
            finder: std::sync::OnceLock::new(),
        }
    }

    /// `s.split_once(needle)`.
    pub(crate) fn split<'a>(&self, s: &'a str) -> Option<(&'a str, &'a str)> {
        let finder = self
            .finder
            .get_or_init(|| memchr::memmem::Finder::new(self.needle.as_bytes()));
        let at = finder.find(s.as_bytes())?;
        // A match of a whole UTF-8 needle in UTF-8 text starts and ends on character boundaries.
        Some((&s[..at], &s[at + self.needle.len()..]))
    }
}

/// A line longer than this is cut there (its rest is skipped and counted): no real line is, and a
/// file with no line break must not grow a buffer without end.
pub const MAX_LINE: usize = 64 << 10;

/// How a text file's bytes are encoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    Utf16Le,
    Utf8,
    /// No byte-order mark and not valid UTF-8: the system's ANSI code page, taken to be 1252
    /// (Western European). A server with another ANSI code page (Cyrillic 1251, say) has its
    /// non-ASCII letters misread; every structure these readers look for is ASCII.
    Windows1252,
}

/// The encoding, and how long the byte-order mark is.
pub fn encoding_of(head: &[u8]) -> (Encoding, usize) {
    if head.starts_with(&[0xFF, 0xFE]) {
        (Encoding::Utf16Le, 2)
    } else if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (Encoding::Utf8, 3)
    } else {
        match std::str::from_utf8(head) {
            Ok(_) => (Encoding::Utf8, 0),
            // Valid up to a character cut by the end of the head.
            Err(e) if e.error_len().is_none() => (Encoding::Utf8, 0),
            Err(_) => (Encoding::Windows1252, 0),
        }
    }
}

/// The head's text, as far as it decodes: what recognition looks at.
pub fn head_text(head: &[u8]) -> String {
    let (enc, bom) = encoding_of(head);
    decode(&head[bom..], enc)
}

pub(crate) fn decode(bytes: &[u8], enc: Encoding) -> String {
    match enc {
        // encoding_rs's decoder is vectorized; lone surrogates and an odd last byte become
        // U+FFFD, as a lossy decoder gives them.
        Encoding::Utf16Le => encoding_rs::UTF_16LE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
        Encoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// Calls `line` with each line of the file (1-based number, text without its line break), decoded
/// whatever the file's encoding; counts the bytes read as progress. Lines longer than
/// [`MAX_LINE`] are cut, and how many were is returned.
pub fn for_each_line(
    input: &InputFile,
    progress: &dyn Progress,
    mut line: impl FnMut(u64, &str),
) -> io::Result<u64> {
    for_each_line_while(input, progress, |n, l| {
        line(n, l);
        ControlFlow::Continue(())
    })
}

/// [`for_each_line`], stopping when `line` breaks.
pub fn for_each_line_while(
    input: &InputFile,
    progress: &dyn Progress,
    line: impl FnMut(u64, &str) -> ControlFlow<()>,
) -> io::Result<u64> {
    let mut file = input.open()?;
    let mut head = Vec::with_capacity(4096);
    (&mut file).take(4096).read_to_end(&mut head)?;
    progress.bytes_read(head.len() as u64);
    lines_of(file, head, BLOCK, MAX_LINE, progress, line)
}

/// The lines of a file whose first bytes, `head`, were read already (they tell its encoding) and
/// whose rest `file` reads, `block` bytes at a time; lines longer than `max_line` are cut.
///
/// Each block is read straight into the buffer lines are split in, after what is left of the
/// line the last block ended inside: UTF-8 (nearly every text log) is checked there and split
/// there without being copied, and other encodings are decoded into it once (issue 24: the
/// bytes were copied twice before).
fn lines_of(
    mut file: impl Read,
    head: Vec<u8>,
    block: usize,
    max_line: usize,
    progress: &dyn Progress,
    mut line: impl FnMut(u64, &str) -> ControlFlow<()>,
) -> io::Result<u64> {
    let (enc, bom) = encoding_of(&head);
    let utf8 = enc == Encoding::Utf8;
    // `text[..pending]` is UTF-8 not yet split into lines (the start of a line the last block
    // ended inside); a UTF-8 file's bytes not yet checked follow it. Other encodings' bytes wait
    // in `raw` until they are decoded, at most a character cut by the block's end.
    let mut text: Vec<u8> = Vec::new();
    let mut raw: Vec<u8> = Vec::new();
    // A UTF-8 file whose first 4 KiB are valid may still hold a byte that is not: decoded lossily.
    if utf8 {
        text.extend_from_slice(&head[bom..]);
    } else {
        raw.extend_from_slice(&head[bom..]);
    }
    let mut pending = 0;
    let mut number = 0u64;
    let mut cut = 0u64;
    let mut skipping = false;
    loop {
        let into = if utf8 { &mut text } else { &mut raw };
        into.reserve(block);
        let n = (&mut file).take(block as u64).read_to_end(into)?;
        progress.bytes_read(n as u64);
        let at_end = n == 0;
        // The text to split: what was pending (checked already) and what follows it, checked
        // here once, or decoded into it.
        let whole = if at_end {
            (if utf8 { &text } else { &raw }).len()
        } else if utf8 {
            pending + complete_prefix(&text[pending..], enc)
        } else {
            complete_prefix(&raw, enc)
        };
        let checked = if utf8 {
            std::str::from_utf8(&text[..whole]).ok()
        } else {
            None
        };
        let now = match checked {
            Some(now) => now,
            None => {
                if utf8 {
                    // Rare: the invalid bytes become U+FFFD, the rest of the block stays as
                    // it is.
                    let rest = text.split_off(whole);
                    let fixed = String::from_utf8_lossy(&text[pending..]).into_owned();
                    text.truncate(pending);
                    text.extend_from_slice(fixed.as_bytes());
                    let valid = text.len();
                    text.extend_from_slice(&rest);
                    std::str::from_utf8(&text[..valid])
                } else {
                    text.extend_from_slice(decode(&raw[..whole], enc).as_bytes());
                    raw.drain(..whole);
                    std::str::from_utf8(&text)
                }
                .map_err(|_| io::Error::other("text that does not decode"))?
            }
        };
        let valid = now.len();
        let mut from = 0;
        while let Some(nl) = memchr::memchr(b'\n', &now.as_bytes()[from..]) {
            let end = from + nl;
            if !skipping {
                number += 1;
                if line(number, now[from..end].trim_end_matches('\r')).is_break() {
                    return Ok(cut);
                }
            }
            skipping = false;
            from = end + 1;
        }
        let mut keep = from;
        if valid - from > max_line {
            if !skipping {
                number += 1;
                cut += 1;
                let mut at = from + max_line;
                while !now.is_char_boundary(at) {
                    at -= 1;
                }
                if line(number, &now[from..at]).is_break() {
                    return Ok(cut);
                }
            }
            skipping = true;
            keep = valid;
        }
        text.drain(..keep);
        pending = valid - keep;
        if at_end {
            break;
        }
    }
    if pending > 0 && !skipping {
        number += 1;
        let last = String::from_utf8_lossy(&text[..pending]);
        let _ = line(number, last.trim_end_matches('\r'));
    }
    Ok(cut)
}

/// How many leading bytes hold whole characters (a UTF-16 surrogate pair, a UTF-8 sequence).
fn complete_prefix(bytes: &[u8], enc: Encoding) -> usize {
    match enc {
        Encoding::Windows1252 => bytes.len(),
        Encoding::Utf8 => {
            // Only the end can hold a character cut by the block: look at its last three bytes.
            let tail = bytes.len().saturating_sub(3);
            match bytes[tail..].iter().rposition(|b| *b >= 0xC0) {
                Some(i) => {
                    let lead = bytes[tail + i];
                    let len = if lead >= 0xF0 {
                        4
                    } else if lead >= 0xE0 {
                        3
                    } else {
                        2
                    };
                    if bytes.len() - (tail + i) < len {
                        tail + i
                    } else {
                        bytes.len()
                    }
                }
                None => bytes.len(),
            }
        }
        Encoding::Utf16Le => {
            let mut whole = bytes.len() / 2 * 2;
            if whole >= 2 {
                let last = u16::from_le_bytes([bytes[whole - 2], bytes[whole - 1]]);
                if (0xD800..0xDC00).contains(&last) {
                    whole -= 2;
                }
            }
            whole
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line reader as it was before blocks were read into the line buffer (issue 24), kept
    /// as the reference, with its block and longest line made parameters.
    fn lines_reference(
        mut file: impl Read,
        head: Vec<u8>,
        block: usize,
        max_line: usize,
        mut line: impl FnMut(u64, &str) -> ControlFlow<()>,
    ) -> io::Result<u64> {
        let (enc, bom) = encoding_of(&head);
        // A UTF-8 file whose first 4 KiB are valid may still hold a byte that is not: decoded lossily.
        let mut carry: Vec<u8> = head[bom..].to_vec();
        let mut pending = String::new();
        let mut number = 0u64;
        let mut cut = 0u64;
        let mut skipping = false;
        let mut buf = vec![0u8; block];
        loop {
            let n = file.read(&mut buf)?;
            carry.extend_from_slice(&buf[..n]);
            let at_end = n == 0;
            let whole = if at_end {
                carry.len()
            } else {
                complete_prefix(&carry, enc)
            };
            let rest = carry.split_off(whole);
            let text = decode_owned(std::mem::replace(&mut carry, rest), enc);
            if pending.is_empty() {
                pending = text;
            } else {
                pending.push_str(&text);
            }
            let mut from = 0;
            while let Some(nl) = memchr::memchr(b'\n', &pending.as_bytes()[from..]) {
                let end = from + nl;
                if !skipping {
                    number += 1;
                    if line(number, pending[from..end].trim_end_matches('\r')).is_break() {
                        return Ok(cut);
                    }
                }
                skipping = false;
                from = end + 1;
            }
            pending.drain(..from);
            if pending.len() > max_line {
                if !skipping {
                    number += 1;
                    cut += 1;
                    let mut at = max_line;
                    while !pending.is_char_boundary(at) {
                        at -= 1;
                    }
                    if line(number, &pending[..at]).is_break() {
                        return Ok(cut);
                    }
                }
                skipping = true;
                pending.clear();
            }
            if at_end {
                break;
            }
        }
        if !pending.is_empty() && !skipping {
            number += 1;
            let _ = line(number, pending.trim_end_matches('\r'));
        }
        Ok(cut)
    }

    /// `bytes` as text, taking the buffer: the reference's decoding of a block.
    fn decode_owned(bytes: Vec<u8>, enc: Encoding) -> String {
        match enc {
            Encoding::Utf8 => match String::from_utf8(bytes) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            },
            _ => decode(&bytes, enc),
        }
    }

    /// Text files as customers send them, made awkward: a byte-order mark or none, UTF-16 or
    /// UTF-8 or ANSI, CRLF or LF, non-ASCII letters and characters outside the BMP, invalid
    /// bytes, lone surrogates, an odd last byte, long lines, no final line break; read in
    /// blocks of a few bytes (so that every kind of character and line is cut by one) with a
    /// short longest line.
    fn a_text_file() -> impl proptest::strategy::Strategy<Value = (Vec<u8>, usize, usize)> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("a".to_string()),
            Just("line\r\n".to_string()),
            Just("\n".to_string()),
            Just("é".to_string()),
            Just("日本".to_string()),
            Just("😀".to_string()),
            Just("x".repeat(40)),
        ];
        (
            0u8..4,
            proptest::collection::vec(piece, 0..40),
            proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
            1usize..24,
            1usize..30,
        )
            .prop_map(|(kind, pieces, damage, block, max_line)| {
                let text: String = pieces.concat();
                let mut bytes = match kind {
                    0 => text.into_bytes(),
                    1 => [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat(),
                    2 => [0xFF, 0xFE]
                        .into_iter()
                        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                        .collect(),
                    _ => text
                        .chars()
                        .map(|c| if c.is_ascii() { c as u8 } else { 0xE9 })
                        .collect(),
                };
                for (at, b) in damage {
                    if !bytes.is_empty() {
                        let i = at % bytes.len();
                        bytes[i] = b;
                    }
                }
                (bytes, block, max_line)
            })
    }

    proptest::proptest! {
        /// The line reader gives the lines, numbers and cut count the reference gives, whatever
        /// the encoding, the damage and where blocks end; stopping early stops both alike.
        #[test]
        fn lines_read_as_the_reference((bytes, block, max_line) in a_text_file(), stop in 0u64..8) {
            let head_len = bytes.len().min(7);
            let (head, rest) = bytes.split_at(head_len);
            let mut ours = Vec::new();
            let got = lines_of(rest, head.to_vec(), block, max_line, &crate::input::NoProgress, |n, l| {
                ours.push((n, l.to_string()));
                if n == stop { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
            let mut theirs = Vec::new();
            let want = lines_reference(rest, head.to_vec(), block, max_line, |n, l| {
                theirs.push((n, l.to_string()));
                if n == stop { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
            proptest::prop_assert_eq!(&ours, &theirs);
            proptest::prop_assert_eq!(got.ok(), want.ok());
        }
    }

    /// A separator splits as `split_once` does: at its first occurrence, beside non-ASCII text,
    /// at either end, twice over, or not at all.
    #[test]
    fn a_separator_splits_as_split_once() {
        static SEP: Separator = Separator::new("] [");
        for s in [
            "[2022] [1] m",
            "] [",
            "a] [b] [c",
            "é] [ü",
            "日本] [語",
            "no separator",
            "] ",
            "",
            "x] [",
        ] {
            assert_eq!(SEP.split(s), s.split_once("] ["), "{s:?}");
        }
    }

    #[test]
    fn encodings_by_mark_or_content() {
        assert_eq!(encoding_of(&[0xFF, 0xFE, b'=', 0]), (Encoding::Utf16Le, 2));
        assert_eq!(encoding_of(b"\xEF\xBB\xBF[1"), (Encoding::Utf8, 3));
        assert_eq!(encoding_of("café".as_bytes()), (Encoding::Utf8, 0));
        assert_eq!(encoding_of(b"caf\xe9 ok"), (Encoding::Windows1252, 0));
        assert_eq!(head_text(b"caf\xe9 ok"), "café ok");
    }
}
