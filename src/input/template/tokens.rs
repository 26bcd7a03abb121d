//! A template definition's BinXML as tokens: element opens, attributes, text and substitution
//! references, with the names decoded. Only what a plan needs; anything else ends the walk.

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

impl Reader<'_> {
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
    pub(crate) fn utf16(&mut self, n: usize) -> Option<String> {
        let bytes = self.chunk.get(self.pos..self.pos.checked_add(n * 2)?)?;
        self.pos += n * 2;
        decode_utf16le(bytes)
    }
    /// A name: an offset into the chunk, followed here by the name itself on its first use.
    pub(crate) fn name(&mut self) -> Option<String> {
        let offset = self.u32()? as usize;
        let name = read_name(self.chunk, offset)?;
        if offset == self.pos {
            // Inline: next offset, hash, length, characters, NUL.
            self.pos += 8 + name.encode_utf16().count() * 2 + 2;
        }
        Some(name)
    }
}

pub(crate) fn read_name(chunk: &[u8], offset: usize) -> Option<String> {
    let n = u16::from_le_bytes(chunk.get(offset + 6..offset + 8)?.try_into().ok()?) as usize;
    decode_utf16le(chunk.get(offset + 8..offset + 8 + n * 2)?)
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

/// The tokens of a template definition's fragment.
pub(crate) fn tokens(chunk: &[u8], def_offset: u32) -> Option<Vec<Tok>> {
    let at = def_offset as usize;
    let size = u32::from_le_bytes(chunk.get(at + 20..at + 24)?.try_into().ok()?) as usize;
    let start = at + 24;
    let end = start.checked_add(size)?.min(chunk.len());
    let mut r = Reader {
        chunk,
        pos: start,
        end,
    };
    let mut out = Vec::new();
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
                out.push(Tok::Open(r.name()?));
                if t == token::OPEN_START_ELEMENT_WITH_ATTRIBUTES {
                    r.u32()?;
                }
            }
            token::CLOSE_START_ELEMENT => out.push(Tok::CloseStart),
            token::CLOSE_EMPTY_ELEMENT => out.push(Tok::CloseEmpty),
            token::END_ELEMENT => out.push(Tok::End),
            token::VALUE_TEXT | token::VALUE_TEXT_MORE => {
                if r.u8()? != value_type::STRING {
                    return None;
                }
                let n = r.u16()? as usize;
                out.push(Tok::Text(r.utf16(n)?));
            }
            token::ATTRIBUTE | token::ATTRIBUTE_MORE => out.push(Tok::Attr(r.name()?)),
            token::NORMAL_SUBSTITUTION | token::OPTIONAL_SUBSTITUTION => {
                let idx = r.u16()?;
                r.u8()?;
                out.push(Tok::Subst(idx));
            }
            // Character and entity references, CDATA, processing instructions: rare in event
            // templates, and rendering gets them right; leave those records to it.
            _ => return None,
        }
    }
    Some(out)
}

pub(crate) fn local(name: &str) -> &str {
    let name = name.rsplit('}').next().unwrap_or(name);
    name.rsplit(':').next().unwrap_or(name)
}
