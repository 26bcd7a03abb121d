//! BinXML encoding as Windows writes it into a chunk: element and attribute names interned in the
//! chunk's string table, templates defined once per chunk and referenced afterwards, typed
//! substitution values. Everything position-dependent (name and template offsets) is resolved
//! against the chunk, which is why encoding happens through a [`RecordEncoder`] bound to one.

use std::collections::HashMap;

/// Value types and tokens by their MS-EVEN6 names, shared with evtriage's reader.
pub use evtriage::input::binxml::{token, value_type as ty};

/// One typed substitution value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    String(String),
    UInt8(u8),
    UInt16(u16),
    UInt32(u32),
    UInt64(u64),
    HexInt32(u32),
    HexInt64(u64),
    FileTime(u64),
    Guid([u8; 16]),
    Sid(Vec<u8>),
    Binary(Vec<u8>),
    StringArray(Vec<String>),
    /// A nested fragment: a template instance of its own (EventData / UserData payloads).
    BinXml(Box<Instance>),
}

impl Value {
    pub fn type_code(&self) -> u8 {
        match self {
            Value::Null => ty::NULL,
            Value::String(_) => ty::STRING,
            Value::UInt8(_) => ty::UINT8,
            Value::UInt16(_) => ty::UINT16,
            Value::UInt32(_) => ty::UINT32,
            Value::UInt64(_) => ty::UINT64,
            Value::HexInt32(_) => ty::HEXINT32,
            Value::HexInt64(_) => ty::HEXINT64,
            Value::FileTime(_) => ty::FILETIME,
            Value::Guid(_) => ty::GUID,
            Value::Sid(_) => ty::SID,
            Value::Binary(_) => ty::BINARY,
            Value::StringArray(_) => ty::STRING_ARRAY,
            Value::BinXml(_) => ty::BINXML,
        }
    }
}

/// Character data in a template: literal text or a substitution slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TContent {
    Text(String),
    /// `optional` is Windows' "conditional" substitution (token 0x0E): omitted when the value is null.
    Subst {
        index: u16,
        ty: u8,
        optional: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TItem {
    Element(TElement),
    Content(TContent),
}

/// An element of a template definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TElement {
    pub name: String,
    pub attrs: Vec<(String, TContent)>,
    pub items: Vec<TItem>,
}

impl TElement {
    pub fn new(name: impl Into<String>) -> Self {
        TElement {
            name: name.into(),
            ..Default::default()
        }
    }
}

/// A template together with the values of one record: what a TemplateInstance token carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub template: std::sync::Arc<TElement>,
    pub values: Vec<Value>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EncodeError {
    #[error("a value of {0} bytes does not fit the 16-bit size field of a substitution")]
    ValueTooLarge(usize),
    #[error("a name of {0} characters is too long for BinXML")]
    NameTooLong(usize),
    #[error("a text of {0} characters is too long for BinXML")]
    TextTooLong(usize),
    #[error("the event is too large: a record must fit in one 64 KiB chunk")]
    TooLarge,
}

/// The hash of MS-EVEN6 (`hash = hash * 65599 + unit` over UTF-16 code units), used for the
/// string table buckets (low 16 bits, mod 64) and, over a template GUID, the template buckets.
pub fn hash_65599(units: impl IntoIterator<Item = u16>) -> u32 {
    units.into_iter().fold(0u32, |h, u| {
        h.wrapping_mul(65599).wrapping_add(u32::from(u))
    })
}

pub fn name_hash(name: &str) -> u16 {
    hash_65599(name.encode_utf16()) as u16
}

/// Bucket of a template in the chunk header's 32-entry table: observed in Windows' own files to be
/// the 65599 hash over the GUID's eight little-endian 16-bit words.
pub fn template_bucket(guid: &[u8; 16]) -> usize {
    let words = guid
        .chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]));
    (hash_65599(words) % 32) as usize
}

/// A stable GUID for a template, derived from its structure, so the same shape gets the same ID in
/// every chunk and every run (Windows derives its IDs from the manifest; any stable value works).
pub fn template_guid(template: &TElement) -> [u8; 16] {
    let canonical = format!("{template:?}");
    let fnv = |seed: u64| {
        canonical.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let a = fnv(0xcbf2_9ce4_8422_2325);
    let b = fnv(0x84222325_cbf29ce4);
    let mut guid = [0u8; 16];
    guid[..8].copy_from_slice(&a.to_le_bytes());
    guid[8..].copy_from_slice(&b.to_le_bytes());
    guid
}

/// Names and templates already defined in a chunk, with the bucket heads the chunk header stores.
#[derive(Debug, Clone)]
pub struct ChunkTables {
    names: HashMap<String, u32>,
    templates: HashMap<std::sync::Arc<TElement>, (u32, [u8; 16])>,
    pub string_buckets: [u32; 64],
    pub template_buckets: [u32; 32],
}

impl Default for ChunkTables {
    fn default() -> Self {
        ChunkTables {
            names: HashMap::new(),
            templates: HashMap::new(),
            string_buckets: [0; 64],
            template_buckets: [0; 32],
        }
    }
}

impl ChunkTables {
    pub fn template_count(&self) -> usize {
        self.templates.len()
    }
}

/// Names and templates a record defines, kept apart until the record is known to fit its chunk.
#[derive(Debug, Default)]
pub struct Pending {
    names: Vec<(String, u32)>,
    name_index: HashMap<String, u32>,
    templates: Vec<(std::sync::Arc<TElement>, u32, [u8; 16])>,
}

impl Pending {
    /// Make the record's definitions part of the chunk, linking each into its bucket the way the
    /// chunk header expects (the new entry's `next` field points at the previous bucket head).
    pub fn commit(self, tables: &mut ChunkTables, chunk: &mut [u8]) {
        for (name, offset) in self.names {
            let bucket = usize::from(name_hash(&name)) % 64;
            let at = offset as usize;
            chunk[at..at + 4].copy_from_slice(&tables.string_buckets[bucket].to_le_bytes());
            tables.string_buckets[bucket] = offset;
            tables.names.insert(name, offset);
        }
        for (template, offset, guid) in self.templates {
            let bucket = template_bucket(&guid);
            let at = offset as usize;
            chunk[at..at + 4].copy_from_slice(&tables.template_buckets[bucket].to_le_bytes());
            tables.template_buckets[bucket] = offset;
            tables.templates.insert(template, (offset, guid));
        }
    }
}

/// Encodes one record's BinXML at a known chunk offset.
pub struct RecordEncoder<'t> {
    tables: &'t ChunkTables,
    pub pending: Pending,
    pub buf: Vec<u8>,
    base: u32,
    limit: usize,
}

impl<'t> RecordEncoder<'t> {
    /// `base` is the chunk offset at which `buf[0]` will land; `limit` bounds the record size.
    pub fn new(tables: &'t ChunkTables, base: u32, limit: usize) -> Self {
        RecordEncoder {
            tables,
            pending: Pending::default(),
            buf: Vec::with_capacity(512),
            base,
            limit,
        }
    }

    fn pos(&self) -> u32 {
        self.base + self.buf.len() as u32
    }

    fn check_room(&self) -> Result<(), EncodeError> {
        if self.buf.len() > self.limit {
            Err(EncodeError::TooLarge)
        } else {
            Ok(())
        }
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn patch_u32(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn utf16(&mut self, s: &str) {
        for u in s.encode_utf16() {
            self.u16(u);
        }
    }

    /// The whole record payload: fragment header, one template instance, end of stream.
    pub fn encode_document(&mut self, instance: &Instance) -> Result<(), EncodeError> {
        self.fragment_header();
        self.template_instance(instance)?;
        self.buf.push(token::END_OF_STREAM);
        self.check_room()
    }

    fn fragment_header(&mut self) {
        // Major version 1, minor version 1, flags 0.
        self.buf
            .extend_from_slice(&[token::FRAGMENT_HEADER, 0x01, 0x01, 0x00]);
    }

    fn name_ref(&mut self, name: &str) -> Result<(), EncodeError> {
        let known = self
            .tables
            .names
            .get(name)
            .or_else(|| self.pending.name_index.get(name))
            .copied();
        if let Some(offset) = known {
            self.u32(offset);
            return Ok(());
        }
        let chars = name.encode_utf16().count();
        let num_chars = u16::try_from(chars).map_err(|_| EncodeError::NameTooLong(chars))?;
        let offset = self.pos() + 4;
        self.u32(offset);
        self.u32(0); // next string in the bucket, linked on commit
        self.u16(name_hash(name));
        self.u16(num_chars);
        self.utf16(name);
        self.u16(0);
        self.pending.names.push((name.to_string(), offset));
        self.pending.name_index.insert(name.to_string(), offset);
        Ok(())
    }

    fn content(&mut self, c: &TContent) -> Result<(), EncodeError> {
        match c {
            TContent::Text(t) => {
                let chars = t.encode_utf16().count();
                let n = u16::try_from(chars).map_err(|_| EncodeError::TextTooLong(chars))?;
                self.buf.push(token::VALUE_TEXT);
                self.buf.push(ty::STRING);
                self.u16(n);
                self.utf16(t);
            }
            TContent::Subst {
                index,
                ty,
                optional,
            } => {
                self.buf.push(if *optional {
                    token::OPTIONAL_SUBSTITUTION
                } else {
                    token::NORMAL_SUBSTITUTION
                });
                self.u16(*index);
                self.buf.push(*ty);
            }
        }
        Ok(())
    }

    fn element(&mut self, el: &TElement) -> Result<(), EncodeError> {
        self.buf.push(if el.attrs.is_empty() {
            token::OPEN_START_ELEMENT
        } else {
            token::OPEN_START_ELEMENT_WITH_ATTRIBUTES
        });
        self.u16(0xffff);
        let size_at = self.buf.len();
        self.u32(0);
        self.name_ref(&el.name)?;
        if !el.attrs.is_empty() {
            let list_at = self.buf.len();
            self.u32(0);
            for (i, (name, value)) in el.attrs.iter().enumerate() {
                let more = i + 1 < el.attrs.len();
                self.buf.push(if more {
                    token::ATTRIBUTE_MORE
                } else {
                    token::ATTRIBUTE
                });
                self.name_ref(name)?;
                self.content(value)?;
            }
            let len = (self.buf.len() - list_at - 4) as u32;
            self.patch_u32(list_at, len);
        }
        if el.items.is_empty() {
            self.buf.push(token::CLOSE_EMPTY_ELEMENT);
        } else {
            self.buf.push(token::CLOSE_START_ELEMENT);
            for item in &el.items {
                match item {
                    TItem::Element(child) => self.element(child)?,
                    TItem::Content(c) => self.content(c)?,
                }
            }
            self.buf.push(token::END_ELEMENT);
        }
        let len = (self.buf.len() - size_at - 4) as u32;
        self.patch_u32(size_at, len);
        self.check_room()
    }

    fn template_instance(&mut self, inst: &Instance) -> Result<(), EncodeError> {
        let known = self
            .tables
            .templates
            .get(&inst.template)
            .copied()
            .or_else(|| {
                self.pending
                    .templates
                    .iter()
                    .find(|(t, _, _)| *t == inst.template)
                    .map(|(_, o, g)| (*o, *g))
            });
        self.buf.push(token::TEMPLATE_INSTANCE);
        self.buf.push(0x01); // unknown byte, always 1 in Windows' logs
        match known {
            Some((offset, guid)) => {
                self.buf.extend_from_slice(&guid[..4]);
                self.u32(offset);
            }
            None => {
                let guid = template_guid(&inst.template);
                self.buf.extend_from_slice(&guid[..4]);
                let def_offset = self.pos() + 4;
                self.u32(def_offset);
                self.u32(0); // next template in the bucket, linked on commit
                self.buf.extend_from_slice(&guid);
                let size_at = self.buf.len();
                self.u32(0);
                self.fragment_header();
                self.element(&inst.template)?;
                self.buf.push(token::END_OF_STREAM);
                let len = (self.buf.len() - size_at - 4) as u32;
                self.patch_u32(size_at, len);
                self.pending
                    .templates
                    .push((inst.template.clone(), def_offset, guid));
            }
        }
        self.u32(inst.values.len() as u32);
        let spec_at = self.buf.len();
        for _ in &inst.values {
            self.u32(0);
        }
        for (i, v) in inst.values.iter().enumerate() {
            let start = self.buf.len();
            self.value(v)?;
            let size = self.buf.len() - start;
            let size = u16::try_from(size).map_err(|_| EncodeError::ValueTooLarge(size))?;
            let at = spec_at + i * 4;
            self.buf[at..at + 2].copy_from_slice(&size.to_le_bytes());
            self.buf[at + 2] = v.type_code();
            self.buf[at + 3] = 0;
        }
        self.check_room()
    }

    fn value(&mut self, v: &Value) -> Result<(), EncodeError> {
        match v {
            Value::Null => {}
            Value::String(s) => self.utf16(s),
            Value::UInt8(x) => self.buf.push(*x),
            Value::UInt16(x) => self.u16(*x),
            Value::UInt32(x) | Value::HexInt32(x) => self.u32(*x),
            Value::UInt64(x) | Value::HexInt64(x) | Value::FileTime(x) => {
                self.buf.extend_from_slice(&x.to_le_bytes())
            }
            Value::Guid(g) => self.buf.extend_from_slice(g),
            Value::Sid(b) | Value::Binary(b) => self.buf.extend_from_slice(b),
            Value::StringArray(items) => {
                for s in items {
                    self.utf16(s);
                    self.u16(0);
                }
            }
            Value::BinXml(inner) => {
                self.fragment_header();
                self.template_instance(inner)?;
                self.buf.push(token::END_OF_STREAM);
            }
        }
        self.check_room()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn name_hash_matches_windows_files() {
        // Hashes and buckets read from the string table of a Windows 7 System log (python-evtx's
        // tests/data/system.evtx, chunk 0).
        for (name, hash, bucket) in [
            ("Event", 0x0cba, 58),
            ("EventData", 0x8244, 4),
            ("Provider", 0x7bf1, 49),
            ("Computer", 0x6e3b, 59),
        ] {
            assert_eq!(name_hash(name), hash, "{name}");
            assert_eq!(usize::from(name_hash(name)) % 64, bucket, "{name}");
        }
    }

    #[test]
    fn template_bucket_uses_guid_words() {
        let guid = [1u8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        // words: 1, 2, 0 x6 -> ((1*65599 + 2) * 65599^6) mod 2^32, mod 32
        let expect = hash_65599([1u16, 2, 0, 0, 0, 0, 0, 0]) % 32;
        assert_eq!(template_bucket(&guid) as u32, expect);
    }

    fn tiny_template() -> Arc<TElement> {
        let mut el = TElement::new("Data");
        el.attrs
            .push(("Name".into(), TContent::Text("param1".into())));
        el.items.push(TItem::Content(TContent::Subst {
            index: 0,
            ty: ty::STRING,
            optional: false,
        }));
        Arc::new(el)
    }

    #[test]
    fn second_record_references_template_and_names() {
        let mut tables = ChunkTables::default();
        let mut chunk = vec![0u8; 65536];
        let inst = Instance {
            template: tiny_template(),
            values: vec![Value::String("x".into())],
        };
        let mut first = RecordEncoder::new(&tables, 536, 60000);
        first.encode_document(&inst).unwrap();
        let first_len = first.buf.len();
        let pending = std::mem::take(&mut first.pending);
        chunk[536..536 + first_len].copy_from_slice(&first.buf);
        pending.commit(&mut tables, &mut chunk);
        assert_eq!(tables.template_count(), 1);

        let mut second = RecordEncoder::new(&tables, 1000, 60000);
        second.encode_document(&inst).unwrap();
        // A reference is the 10-byte instance header plus the values, with no definition or names.
        assert!(
            second.buf.len() < first_len / 2,
            "{} vs {first_len}",
            second.buf.len()
        );
        assert!(second.pending.names.is_empty() && second.pending.templates.is_empty());
    }

    #[test]
    fn oversized_values_are_refused_not_truncated() {
        let tables = ChunkTables::default();
        let inst = Instance {
            template: tiny_template(),
            values: vec![Value::String("x".repeat(40_000))],
        };
        let mut enc = RecordEncoder::new(&tables, 512, 1 << 20);
        assert_eq!(
            enc.encode_document(&inst),
            Err(EncodeError::ValueTooLarge(80_000))
        );
    }
}
