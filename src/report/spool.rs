//! Where a writer keeps the rendered findings of a report whose summary comes first: in memory
//! while small, in an anonymous temporary file beyond that, so a fleet-sized report costs disk,
//! not memory.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

/// Beyond this, rendered findings go to a temporary file.
const IN_MEMORY: usize = 4 << 20;

#[derive(Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<File>,
    /// Set when no temporary file could be made: the spool then stays in memory, which costs
    /// memory but loses nothing.
    no_file: bool,
}

impl Spool {
    pub fn is_empty(&self) -> bool {
        self.memory.is_empty() && self.file.is_none()
    }

    /// Everything written so far, in order, to `out`; the spool is empty afterwards.
    pub fn drain_into(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            file.write_all(&self.memory)?;
            file.seek(SeekFrom::Start(0))?;
            io::copy(&mut file, out)?;
        } else {
            out.write_all(&self.memory)?;
        }
        self.memory.clear();
        Ok(())
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.memory.extend_from_slice(buf);
        if self.memory.len() >= IN_MEMORY && !self.no_file {
            if self.file.is_none() {
                match tempfile::tempfile() {
                    Ok(f) => self.file = Some(f),
                    Err(_) => {
                        self.no_file = true;
                        return Ok(buf.len());
                    }
                }
            }
            if let Some(f) = &mut self.file {
                f.write_all(&self.memory)?;
                self.memory.clear();
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_the_switch_to_a_file() {
        let mut spool = Spool::default();
        let mut expected = Vec::new();
        for i in 0..600_000u32 {
            let line = format!("line {i}\n");
            spool.write_all(line.as_bytes()).unwrap();
            expected.extend_from_slice(line.as_bytes());
        }
        assert!(
            expected.len() > IN_MEMORY,
            "the test must cross the threshold"
        );
        assert!(spool.file.is_some() || spool.no_file);
        let mut out = Vec::new();
        spool.drain_into(&mut out).unwrap();
        assert_eq!(out, expected);
        assert!(spool.is_empty());
    }
}
