//! Kept events that wait on disk until every anchor is read (issue 24: memory flat at any size).
//! A large input keeps events of the kinds signatures quote beside a failure (installs that
//! succeeded, services that changed state) in proportion to its size; most of them are near no
//! failure. Past a budget they are written to an unnamed temporary file, and when reading ends
//! only those some incident could select ([`crate::diagnosis::engine::Relevance`]) come back.
//! Anchors that may never make a finding ([`crate::diagnosis::engine::Feasible`]: a routine
//! install is a possible `restart-pending`) wait in a file of their own, read back first.
//!
//! The encoding is this module's own: the file lives for one run, is read back by the build that
//! wrote it, and holds shared strings (`Arc<str>`) that come back shared through the run's sets.
//! A serde format would need serde on every kept type for no gain. It is still read as input that
//! may be wrong (a disk error, a file changed under us): a bad length is an error, never a panic.

use super::Diagnoser;
use super::engine::{Hit, KeptEvent, Matched};
use super::signature::{FieldValue, Fields};
use chrono::DateTime;
use rustc_hash::FxHashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::sync::Arc;

/// Events written so far, in the order they were handed over (to a temporary file; tests give
/// other storage).
pub struct SpillWriter<F: Write = File> {
    file: BufWriter<F>,
    events: u64,
    /// Bytes of the batches written whole: a batch the disk refused part of is not among them.
    committed: u64,
}

impl SpillWriter {
    /// An unnamed file in the system's temporary directory: removed by the system when it is
    /// closed, even if the run is killed.
    pub fn new() -> io::Result<Self> {
        Ok(Self::over(tempfile::tempfile()?))
    }
}

impl<F: Write + Read + Seek> SpillWriter<F> {
    fn over(file: F) -> Self {
        SpillWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            events: 0,
            committed: 0,
        }
    }

    /// Writes a batch whole or not at all: on an error, what was written before it is still read
    /// back, and the caller keeps this batch.
    pub fn write(&mut self, batch: &[Matched]) -> io::Result<()> {
        // One event's bytes at a time: the batch is not held twice.
        let mut buf = Vec::with_capacity(256);
        let mut bytes = 0u64;
        for m in batch {
            buf.clear();
            encode(&mut buf, m);
            self.file.write_all(&buf)?;
            bytes += buf.len() as u64;
        }
        self.file.flush()?;
        self.events += batch.len() as u64;
        self.committed += bytes;
        Ok(())
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Done writing: the events of the batches written whole, ready to be read back (each read
    /// starts from the file's start).
    pub fn finish(self) -> io::Result<Spilled<F>> {
        // Every whole batch was flushed when it was written; what is still buffered belongs to a
        // batch the disk refused, which its caller kept.
        let (file, _) = self.file.into_parts();
        Ok(Spilled {
            file,
            events: self.events,
            committed: self.committed,
        })
    }
}

/// Events on disk, read back as often as needed.
pub struct Spilled<F = File> {
    file: F,
    events: u64,
    committed: u64,
}

impl<F: Read + Seek> Spilled<F> {
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Hands back each event, in the order written, with its strings shared through the run's
    /// sets (the names of computers and providers through a map of this read's own). Each call
    /// reads the file from its start.
    pub fn read_each(
        &mut self,
        diagnoser: &Diagnoser,
        mut each: impl FnMut(Matched),
    ) -> io::Result<()> {
        self.file.rewind()?;
        let mut input = BufReader::with_capacity(1 << 20, (&mut self.file).take(self.committed));
        let mut names: FxHashMap<String, Arc<str>> = FxHashMap::default();
        let mut strings = Strings {
            names: &mut names,
            diagnoser,
            scratch: Vec::new(),
        };
        for _ in 0..self.events {
            each(decode(&mut input, &mut strings)?);
        }
        let mut rest = [0u8; 1];
        if input.read(&mut rest)? != 0 {
            return Err(bad("more bytes than the events written"));
        }
        Ok(())
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("evtriage's temporary file of kept events is damaged: {what}"),
    )
}

/// A string, its length first (in 8 bytes: an Event XML input may hold a value of any length).
fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn encode(buf: &mut Vec<u8>, m: &Matched) {
    let e = &m.event;
    buf.extend_from_slice(&e.source.to_le_bytes());
    buf.extend_from_slice(&e.event_id.to_le_bytes());
    buf.extend_from_slice(&e.record_id.to_le_bytes());
    match e.header_record_id {
        Some(h) => {
            buf.push(1);
            buf.extend_from_slice(&h.to_le_bytes());
        }
        None => buf.push(0),
    }
    buf.extend_from_slice(&e.time.timestamp().to_le_bytes());
    buf.extend_from_slice(&e.time.timestamp_subsec_nanos().to_le_bytes());
    put_str(buf, &e.computer);
    put_str(buf, &e.provider);
    buf.extend_from_slice(&(m.hits.len() as u32).to_le_bytes());
    for h in m.hits.iter() {
        buf.extend_from_slice(&h.signature.to_le_bytes());
        buf.extend_from_slice(&h.evidence.to_le_bytes());
        buf.extend_from_slice(&(h.fields.0.len() as u32).to_le_bytes());
        for f in h.fields.0.iter() {
            put_str(buf, &f.name);
            put_str(buf, &f.value);
            match &f.quoted {
                Some(q) => {
                    buf.push(1);
                    put_str(buf, q);
                }
                None => buf.push(0),
            }
        }
    }
}

struct Strings<'a> {
    names: &'a mut FxHashMap<String, Arc<str>>,
    diagnoser: &'a Diagnoser,
    /// The bytes of the string being read: most strings are already shared, and are looked up
    /// from here without a copy of their own.
    scratch: Vec<u8>,
}

/// The one copy of a computer's or provider's name for this read.
fn share_name(names: &mut FxHashMap<String, Arc<str>>, s: &str) -> Arc<str> {
    if let Some(found) = names.get(s) {
        return found.clone();
    }
    let shared: Arc<str> = Arc::from(s);
    names.insert(s.to_string(), shared.clone());
    shared
}

fn take<const N: usize>(input: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    input.read_exact(&mut b).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => bad("it ends inside an event"),
        _ => e,
    })?;
    Ok(b)
}

fn take_u32(input: &mut impl Read) -> io::Result<u32> {
    Ok(u32::from_le_bytes(take(input)?))
}

/// A string as [`put_str`] wrote it, in `scratch`. Values have no cap (an Event XML file can
/// hold a value of any length), so the length is trusted only as far as the bytes are there: the
/// buffer grows with what is read, and a damaged length ends the file rather than allocating its
/// size.
fn take_str<'s>(input: &mut impl Read, scratch: &'s mut Vec<u8>) -> io::Result<&'s str> {
    let len = u64::from_le_bytes(take(input)?);
    scratch.clear();
    // At most a MiB reserved ahead of the bytes.
    scratch.reserve(len.min(1 << 20) as usize);
    input.take(len).read_to_end(scratch)?;
    if scratch.len() as u64 != len {
        return Err(bad("it ends inside an event"));
    }
    std::str::from_utf8(scratch).map_err(|_| bad("a string that is not UTF-8"))
}

fn take_flag(input: &mut impl Read) -> io::Result<bool> {
    match take::<1>(input)?[0] {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(bad("a flag that is neither 0 nor 1")),
    }
}

fn decode(input: &mut impl Read, strings: &mut Strings) -> io::Result<Matched> {
    let source = take_u32(input)?;
    let event_id = u16::from_le_bytes(take(input)?);
    let record_id = u64::from_le_bytes(take(input)?);
    let header_record_id = match take_flag(input)? {
        true => Some(u64::from_le_bytes(take(input)?)),
        false => None,
    };
    let seconds = i64::from_le_bytes(take(input)?);
    let nanos = take_u32(input)?;
    let time =
        DateTime::from_timestamp(seconds, nanos).ok_or_else(|| bad("a time out of range"))?;
    let computer = share_name(strings.names, take_str(input, &mut strings.scratch)?);
    let provider = share_name(strings.names, take_str(input, &mut strings.scratch)?);
    let count = take_u32(input)?;
    let signatures = strings.diagnoser.signatures.len() as u32;
    // The run's set of values, locked once per event rather than once per string.
    let mut set = strings
        .diagnoser
        .shared_values
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let mut value = |s: &str| super::signature::SharedValues::share(&mut set, s);
    let mut hits: Vec<Hit> = Vec::new();
    for _ in 0..count {
        let signature = take_u32(input)?;
        let evidence = take_u32(input)?;
        if signature >= signatures
            || evidence as usize
                >= strings.diagnoser.signatures[signature as usize]
                    .evidence
                    .len()
        {
            return Err(bad("a hit of no loaded signature"));
        }
        let n = take_u32(input)?;
        let mut values = Vec::new();
        for _ in 0..n {
            let name = value(take_str(input, &mut strings.scratch)?);
            let text = value(take_str(input, &mut strings.scratch)?);
            let quoted = match take_flag(input)? {
                true => Some(value(take_str(input, &mut strings.scratch)?)),
                false => None,
            };
            values.push(FieldValue {
                name,
                value: text,
                quoted,
            });
        }
        let mut fields = Fields(values.into());
        // As matching shares them: two definitions that pulled the same fields share one list.
        if let Some(earlier) = hits.iter().find(|h| h.fields == fields) {
            fields.share_with(&earlier.fields);
        }
        hits.push(Hit {
            signature,
            evidence,
            fields,
        });
    }
    Ok(Matched {
        event: KeptEvent {
            source,
            event_id,
            record_id,
            header_record_id,
            time,
            computer,
            provider,
        },
        hits: strings.diagnoser.shared_hits.share(hits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::Collector;

    fn kept(diagnoser: &Diagnoser, quoted: bool, header: Option<u64>) -> Matched {
        let fields = Fields(
            vec![
                FieldValue {
                    name: "product".into(),
                    value: "exchange server 2007 — ré".into(),
                    quoted: quoted.then(|| "Exchange Server 2007 — Ré".into()),
                },
                FieldValue {
                    name: "status".into(),
                    value: "1603".into(),
                    quoted: None,
                },
            ]
            .into(),
        );
        Matched {
            event: KeptEvent {
                source: 3,
                event_id: 1033,
                record_id: 9_000_000_001,
                header_record_id: header,
                time: DateTime::from_timestamp(1_190_000_000, 123_456_700).unwrap(),
                computer: "EXMBX01.contoso.local".into(),
                provider: "MsiInstaller".into(),
            },
            hits: diagnoser.shared_hits.share(vec![
                Hit {
                    signature: 0,
                    evidence: 0,
                    fields: fields.clone(),
                },
                Hit {
                    signature: 1,
                    evidence: 0,
                    fields,
                },
            ]),
        }
    }

    #[test]
    fn events_come_back_as_they_were_written() {
        let diagnoser = Diagnoser::builtin();
        let events = vec![
            kept(&diagnoser, true, Some(7)),
            kept(&diagnoser, false, None),
        ];
        let mut writer = SpillWriter::new().unwrap();
        writer.write(&events).unwrap();
        writer.write(&events[..1]).unwrap();
        let mut spilled = writer.finish().unwrap();
        assert_eq!(spilled.events(), 3);
        let mut back = Vec::new();
        spilled.read_each(&diagnoser, |m| back.push(m)).unwrap();
        assert_eq!(back.len(), 3);
        for (b, e) in back.iter().zip(events.iter().chain(&events[..1])) {
            assert_eq!(b.event, e.event);
            assert_eq!(b.hits, e.hits);
        }
        // Shared again through the run's sets: one list for equal hit lists, one name per computer.
        assert!(Arc::ptr_eq(&back[0].hits, &back[2].hits));
        assert!(Arc::ptr_eq(
            &back[0].event.computer,
            &back[1].event.computer
        ));
    }

    #[test]
    fn a_value_of_any_length_comes_back() {
        // Event XML has no cap on a value: 65 MiB, past the 64 MiB a reader once assumed here.
        let diagnoser = Diagnoser::builtin();
        let mut event = kept(&diagnoser, false, None);
        let long: Arc<str> = "é".repeat(65 << 19).into();
        event.hits = vec![Hit {
            signature: 0,
            evidence: 0,
            fields: Fields(
                vec![FieldValue {
                    name: "message".into(),
                    value: long.clone(),
                    quoted: None,
                }]
                .into(),
            ),
        }]
        .into();
        let mut writer = SpillWriter::new().unwrap();
        writer.write(std::slice::from_ref(&event)).unwrap();
        let mut back = Vec::new();
        writer
            .finish()
            .unwrap()
            .read_each(&diagnoser, |m| back.push(m))
            .unwrap();
        assert_eq!(back[0].hits[0].fields.get("message"), Some(&*long));
    }

    /// Storage that refuses to grow past a size, as a full disk does.
    struct Full {
        bytes: std::io::Cursor<Vec<u8>>,
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let room = self.room.saturating_sub(self.bytes.get_ref().len());
            if room == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "no room"));
            }
            self.bytes.write(&buf[..buf.len().min(room)])
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for Full {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.bytes.read(buf)
        }
    }

    impl Seek for Full {
        fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
            self.bytes.seek(to)
        }
    }

    #[test]
    fn a_batch_the_disk_refuses_is_not_read_back_and_those_before_it_are() {
        let diagnoser = Diagnoser::builtin();
        let one = vec![kept(&diagnoser, true, Some(7))];
        let mut size = Vec::new();
        encode(&mut size, &one[0]);
        // Room for two events and part of a third: the first two batches fit, the third does not.
        let mut writer = SpillWriter::over(Full {
            bytes: Default::default(),
            room: size.len() * 2 + size.len() / 2,
        });
        // Each batch reaches the storage when it is written (flushed), not at the end.
        writer.write(&one).unwrap();
        writer.write(&one).unwrap();
        assert!(writer.write(&one).is_err());
        assert_eq!(writer.events(), 2);
        let mut back = 0;
        writer
            .finish()
            .unwrap()
            .read_each(&diagnoser, |m| {
                assert_eq!(m.event, one[0].event);
                back += 1;
            })
            .unwrap();
        assert_eq!(back, 2);
    }

    #[test]
    fn what_comes_back_before_damage_is_handed_over_and_the_run_goes_on() {
        let diagnoser = Diagnoser::builtin();
        let event = kept(&diagnoser, false, None);
        let mut bytes = Vec::new();
        encode(&mut bytes, &event);
        let whole = bytes.len();
        encode(&mut bytes, &event);
        bytes.truncate(whole + 10);
        let spilled = || Spilled {
            file: std::io::Cursor::new(bytes.clone()),
            events: 2,
            committed: bytes.len() as u64,
        };
        let mut back = Vec::new();
        assert!(spilled().read_each(&diagnoser, |m| back.push(m)).is_err());
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].event, event.event);
        // Diagnosis goes on with what came back and hands the error over.
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        file.rewind().unwrap();
        let kept = crate::diagnosis::Kept {
            memory: Default::default(),
            spilled: Some(Spilled {
                file,
                events: 2,
                committed: bytes.len() as u64,
            }),
            spilled_anchors: None,
            seen: Default::default(),
        };
        // The event's source is 3: four inputs.
        let inputs = crate::diagnosis::Inputs::named(
            (0..4).map(|i| format!("Application{i}.evtx")).collect(),
        );
        let (_, error) =
            diagnoser.diagnose_each(kept, &inputs, |_| std::ops::ControlFlow::Continue(()));
        assert!(error.is_some_and(|e| e.to_string().contains("ends inside an event")));
    }

    #[test]
    fn a_damaged_file_is_an_error_not_a_panic() {
        let diagnoser = Diagnoser::builtin();
        let mut bytes = Vec::new();
        encode(&mut bytes, &kept(&diagnoser, true, Some(7)));
        for cut in 0..bytes.len() {
            let mut strings = Strings {
                names: &mut FxHashMap::default(),
                diagnoser: &diagnoser,
                scratch: Vec::new(),
            };
            assert!(
                decode(&mut &bytes[..cut], &mut strings).is_err(),
                "cut at {cut}"
            );
        }
        // A flag that is not one (byte 14), a computer name longer than the file (its length,
        // 35..43), a hit of a signature never loaded (88..92).
        for (at, value, why) in [
            (14usize, 9u8, "neither 0 nor 1"),
            (42, 0xff, "ends inside an event"),
            (91, 0xff, "no loaded signature"),
        ] {
            let mut bad = bytes.clone();
            bad[at] = value;
            let mut strings = Strings {
                names: &mut FxHashMap::default(),
                diagnoser: &diagnoser,
                scratch: Vec::new(),
            };
            let e = decode(&mut &bad[..], &mut strings).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn a_collector_with_a_budget_writes_what_may_wait_and_keeps_the_anchors_that_stay() {
        let diagnoser = Diagnoser::builtin();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
        let collector = Collector::new(&diagnoser).spilling_after(1);
        let mut files: Vec<_> = std::fs::read_dir(dir.join("kb940006-rollup-failed"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
            .collect();
        files.sort();
        let found = crate::input::discover_found(&files, 0);
        crate::input::read_all(&found.files, &collector, &crate::input::NoProgress);
        assert!(collector.spilled() > 0, "nothing waited on disk");
        let kept = collector.into_kept().unwrap();
        assert!(kept.memory.iter().all(|m| diagnoser.must_stay(m)));
        assert!(!kept.memory.is_empty());
        let mut spilled = kept.spilled.expect("spilled");
        let mut back = 0;
        spilled
            .read_each(&diagnoser, |m| {
                assert!(!diagnoser.must_stay(&m));
                back += 1;
            })
            .unwrap();
        assert!(back > 0);
        // A second read gives the same events again, from the file's start.
        let mut again = 0;
        spilled.read_each(&diagnoser, |_| again += 1).unwrap();
        assert_eq!(again, back);
    }
}
