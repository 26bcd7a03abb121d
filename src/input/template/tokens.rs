//! A template definition's BinXML as tokens: element opens, attributes, text and substitution
//! references, with the names decoded. Only what a plan needs; anything else ends the walk.

use super::values::utf16_valid;
use crate::input::binxml::{token, value_type};

#[derive(Debug)]
pub(crate) enum Tok {
    Open(String),
    Attr(String),
    Text(String),
    Subst(u16),
    CloseStart,
    CloseEmpty,
    End,
}

pub(crate) struct Reader<'a> {
    pub(crate) chunk: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) end: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let b = *self.chunk.get(self.pos)?;
        (self.pos < self.end).then(|| {
            self.pos += 1;
            b
        })
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
    /// `n` UTF-16 code units, as bytes; `None` unless they decode.
    pub(crate) fn utf16(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.chunk.get(self.pos..self.pos.checked_add(n * 2)?)?;
        self.pos += n * 2;
        utf16_valid(bytes).then_some(bytes)
    }
    /// A name, as UTF-16 bytes: an offset into the chunk, followed here by the name itself on its
    /// first use.
    pub(crate) fn name(&mut self) -> Option<&'a [u8]> {
        let offset = self.u32()? as usize;
        let name = name_at(self.chunk, offset)?;
        if offset == self.pos {
            // Inline: next offset, hash, length, characters, NUL.
            self.pos += 8 + name.len() + 2;
        }
        Some(name)
    }
}

/// The UTF-16 bytes of the name at `offset`; `None` unless they decode.
fn name_at(chunk: &[u8], offset: usize) -> Option<&[u8]> {
    let n = u16::from_le_bytes(chunk.get(offset + 6..offset + 8)?.try_into().ok()?) as usize;
    let bytes = chunk.get(offset + 8..offset + 8 + n * 2)?;
    utf16_valid(bytes).then_some(bytes)
}

/// UTF-16LE as the chunk stores every string; `None` for unpaired surrogates. Most event text
/// is ASCII, which is copied unit by unit without going through the UTF-16 decoder.
pub(crate) fn decode_utf16le(bytes: &[u8]) -> Option<String> {
    let units = bytes.chunks_exact(2);
    if units.clone().all(|c| c[1] == 0 && c[0] < 0x80) {
        return Some(units.map(|c| char::from(c[0])).collect());
    }
    char::decode_utf16(units.map(|c| u16::from_le_bytes([c[0], c[1]])))
        .collect::<Result<String, _>>()
        .ok()
}

/// UTF-16LE as a classic record or a UTF-16 text file stores it, an unpaired surrogate shown as
/// U+FFFD rather than failing the whole text (the same ASCII fast path as [`decode_utf16le`]).
pub(crate) fn decode_utf16le_lossy(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2);
    if units.clone().all(|c| c[1] == 0 && c[0] < 0x80) {
        return units.map(|c| char::from(c[0])).collect();
    }
    char::decode_utf16(units.map(|c| u16::from_le_bytes([c[0], c[1]])))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A token of a template definition, its names and text still the chunk's UTF-16 bytes
/// (checked to decode).
pub(crate) enum RawTok<'c> {
    Open(&'c [u8]),
    Attr(&'c [u8]),
    Text(&'c [u8]),
    Subst(u16),
    CloseStart,
    CloseEmpty,
    End,
}

/// Walks a template definition's fragment, handing each token to `each`; `None` where it holds
/// what a plan does not read (the walk stops there).
pub(crate) fn walk<'c>(
    chunk: &'c [u8],
    def_offset: u32,
    mut each: impl FnMut(RawTok<'c>),
) -> Option<()> {
    let at = def_offset as usize;
    let size = u32::from_le_bytes(chunk.get(at + 20..at + 24)?.try_into().ok()?) as usize;
    let start = at + 24;
    let end = start.checked_add(size)?.min(chunk.len());
    let mut r = Reader {
        chunk,
        pos: start,
        end,
    };
    while r.pos < r.end {
        let t = r.u8()?;
        match t {
            token::END_OF_STREAM => break,
            token::FRAGMENT_HEADER => {
                r.u16()?;
                r.u8()?;
            }
            token::OPEN_START_ELEMENT | token::OPEN_START_ELEMENT_WITH_ATTRIBUTES => {
                r.u16()?; // dependency id
                r.u32()?; // element size
                each(RawTok::Open(r.name()?));
                if t == token::OPEN_START_ELEMENT_WITH_ATTRIBUTES {
                    r.u32()?;
                }
            }
            token::CLOSE_START_ELEMENT => each(RawTok::CloseStart),
            token::CLOSE_EMPTY_ELEMENT => each(RawTok::CloseEmpty),
            token::END_ELEMENT => each(RawTok::End),
            token::VALUE_TEXT | token::VALUE_TEXT_MORE => {
                if r.u8()? != value_type::STRING {
                    return None;
                }
                let n = r.u16()? as usize;
                each(RawTok::Text(r.utf16(n)?));
            }
            token::ATTRIBUTE | token::ATTRIBUTE_MORE => each(RawTok::Attr(r.name()?)),
            token::NORMAL_SUBSTITUTION | token::OPTIONAL_SUBSTITUTION => {
                let idx = r.u16()?;
                r.u8()?;
                each(RawTok::Subst(idx));
            }
            // Character and entity references, CDATA, processing instructions: rare in event
            // templates, and rendering gets them right; leave those records to it.
            _ => return None,
        }
    }
    Some(())
}

/// The tokens of a template definition's fragment, names and text decoded.
pub(crate) fn tokens(chunk: &[u8], def_offset: u32) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let text = |b: &[u8]| decode_utf16le(b).unwrap_or_default();
    walk(chunk, def_offset, |t| {
        out.push(match t {
            RawTok::Open(n) => Tok::Open(text(n)),
            RawTok::Attr(n) => Tok::Attr(text(n)),
            RawTok::Text(b) => Tok::Text(text(b)),
            RawTok::Subst(i) => Tok::Subst(i),
            RawTok::CloseStart => Tok::CloseStart,
            RawTok::CloseEmpty => Tok::CloseEmpty,
            RawTok::End => Tok::End,
        })
    })?;
    Some(out)
}

/// What a template's plan depends on, as bytes: its tokens with every name spelled out, so that
/// the same definition in another chunk (where its names lie at other offsets) gives the same
/// key, and any definition that reads differently gives another. `out` is emptied first.
pub(crate) fn shape(chunk: &[u8], def_offset: u32, out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let with_bytes = |tag: u8, b: &[u8], out: &mut Vec<u8>| {
        out.push(tag);
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    walk(chunk, def_offset, |t| match t {
        RawTok::Open(n) => with_bytes(0, n, out),
        RawTok::Attr(n) => with_bytes(1, n, out),
        RawTok::Text(b) => with_bytes(2, b, out),
        RawTok::Subst(i) => {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
        RawTok::CloseStart => out.push(4),
        RawTok::CloseEmpty => out.push(5),
        RawTok::End => out.push(6),
    })
}

pub(crate) fn local(name: &str) -> &str {
    let name = name.rsplit('}').next().unwrap_or(name);
    name.rsplit(':').next().unwrap_or(name)
}
