//! Zip archives of case folders, as a customer sends them: Windows' "Send to > Compressed folder"
//! writes deflate members with `/` between folders (stored for what does not compress), and names
//! in the OEM code page unless they need UTF-8 (then the UTF-8 flag is set).

use std::io::{Cursor, Write};
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

/// How a member is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    Deflated,
    Stored,
}

/// A zip of `members` (name inside the archive, bytes), in that order.
pub fn zip_members(members: &[(&str, &[u8])], packing: Packing) -> Vec<u8> {
    zip_members_at(members, packing, None)
}

/// [`zip_members`], every member last written at `modified` (local wall-clock time: year,
/// month, day, hour, minute, second), or at the zip format's 1980-01-01 without it.
pub fn zip_members_at(
    members: &[(&str, &[u8])],
    packing: Packing,
    modified: Option<(u16, u8, u8, u8, u8, u8)>,
) -> Vec<u8> {
    let method = match packing {
        Packing::Deflated => CompressionMethod::Deflated,
        Packing::Stored => CompressionMethod::Stored,
    };
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let mut options = SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    if let Some((y, mo, d, h, mi, s)) = modified
        && let Ok(t) = zip::DateTime::from_date_and_time(y, mo, d, h, mi, s)
    {
        options = options.last_modified_time(t);
    }
    for (name, bytes) in members {
        w.start_file(*name, options).expect("zip member");
        w.write_all(bytes).expect("zip write");
    }
    w.finish().expect("zip finish").into_inner()
}

/// A zip of every file under `dir`, named by their paths relative to `prefix` (a folder inside
/// the archive, or empty), sorted.
pub fn zip_dir(dir: &std::path::Path, prefix: &str, packing: Packing) -> std::io::Result<Vec<u8>> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let owned: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel))?;
            let name = if prefix.is_empty() {
                rel
            } else {
                format!("{prefix}/{rel}")
            };
            Ok((name, bytes))
        })
        .collect::<std::io::Result<_>>()?;
    let members: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    Ok(zip_members(&members, packing))
}

fn collect(
    root: &std::path::Path,
    dir: &std::path::Path,
    out: &mut Vec<String>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/"),
            );
        }
    }
    Ok(())
}
