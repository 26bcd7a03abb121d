//! The BinXML byte codes of MS-EVEN6 §2.2 by name: the tokens that make up a template definition
//! or a record, and the types of substitution values. The reader matches on these, and the test-log
//! writer (`crates/evtriage-writer`) emits them, so both speak the same names.
//!
//! They are constants, not Rust enums: the bytes come from files anyone can write, every byte value
//! can occur, and a `match` on named constants keeps the "anything else" arm explicit.

/// Token types (MS-EVEN6 §2.2.13). The high bit 0x40 ([`token::MORE`]) marks an element that has
/// attributes, or a value or attribute that is followed by another.
pub mod token {
    pub const END_OF_STREAM: u8 = 0x00;
    pub const OPEN_START_ELEMENT: u8 = 0x01;
    pub const CLOSE_START_ELEMENT: u8 = 0x02;
    pub const CLOSE_EMPTY_ELEMENT: u8 = 0x03;
    pub const END_ELEMENT: u8 = 0x04;
    pub const VALUE_TEXT: u8 = 0x05;
    pub const ATTRIBUTE: u8 = 0x06;
    pub const TEMPLATE_INSTANCE: u8 = 0x0c;
    pub const NORMAL_SUBSTITUTION: u8 = 0x0d;
    pub const OPTIONAL_SUBSTITUTION: u8 = 0x0e;
    pub const FRAGMENT_HEADER: u8 = 0x0f;
    pub const MORE: u8 = 0x40;
    pub const OPEN_START_ELEMENT_WITH_ATTRIBUTES: u8 = OPEN_START_ELEMENT | MORE;
    pub const VALUE_TEXT_MORE: u8 = VALUE_TEXT | MORE;
    pub const ATTRIBUTE_MORE: u8 = ATTRIBUTE | MORE;
}

/// Substitution value types (MS-EVEN6 §2.2.4.1). 0x80 ([`value_type::ARRAY`]) marks an array
/// of the type in the low bits.
pub mod value_type {
    pub const NULL: u8 = 0x00;
    pub const STRING: u8 = 0x01;
    pub const ANSI_STRING: u8 = 0x02;
    pub const INT8: u8 = 0x03;
    pub const UINT8: u8 = 0x04;
    pub const INT16: u8 = 0x05;
    pub const UINT16: u8 = 0x06;
    pub const INT32: u8 = 0x07;
    pub const UINT32: u8 = 0x08;
    pub const INT64: u8 = 0x09;
    pub const UINT64: u8 = 0x0a;
    pub const BOOL: u8 = 0x0d;
    pub const BINARY: u8 = 0x0e;
    pub const GUID: u8 = 0x0f;
    pub const SIZE_T: u8 = 0x10;
    pub const FILETIME: u8 = 0x11;
    pub const SID: u8 = 0x13;
    pub const HEXINT32: u8 = 0x14;
    pub const HEXINT64: u8 = 0x15;
    pub const BINXML: u8 = 0x21;
    pub const ARRAY: u8 = 0x80;
    pub const STRING_ARRAY: u8 = STRING | ARRAY;
}
