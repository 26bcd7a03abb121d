//! What the file's report keeps of each chunk until the walk order is known (the crate's walk
//! starts at the oldest chunk, which only the last header may turn out to be): the usual chunk in
//! 16 bytes, its counts and times summed as it comes; the few others whole.

use super::accounting::Span;
use super::{FastPath, InputReport, LogSpan, chunks};

/// What became of one chunk of the file, as its block's work hands it over.
pub(super) enum Part {
    Empty,
    Bad(Box<evtx::err::EvtxError>),
    /// Every record its header claims was read, with nothing to say: the usual chunk.
    Clean(Clean),
    Read(Box<(InputReport, Span, FastPath)>),
}

pub(super) struct Clean {
    records_read: u64,
    records_failed: u64,
    records_used: u64,
    fast: FastPath,
    claim: (u64, u64),
    times: Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
}

impl Part {
    pub(super) fn of(report: InputReport, span: Span, fast: FastPath) -> Part {
        let clean = report.errors.is_empty()
            && report.errors_not_shown == 0
            && report.notes.is_empty()
            && report.chunks == 1
            && report.chunks_damaged == 0
            && report
                .log
                .as_ref()
                .is_none_or(|l| l.name.is_empty() && l.computer.is_empty());
        match (clean, span.plain_claim()) {
            (true, Some(claim)) if claim.1 - claim.0 < u64::from(u32::MAX) => Part::Clean(Clean {
                records_read: report.records_read,
                records_failed: report.records_failed,
                records_used: report.records_used,
                fast,
                claim,
                times: report.log.map(|l| (l.first, l.last)),
            }),
            _ => Part::Read(Box::new((report, span, fast))),
        }
    }
}

/// What the file's report keeps of each chunk until the walk order is known (the crate's walk
/// starts at the oldest chunk, which only the last header may turn out to be). A whole report
/// and span per chunk, with a copy of the path each, made memory grow with the file (issue 24):
/// a usual chunk is 16 bytes here, its counts and times summed as it comes, and only the few
/// others (lost, damaged, with something to say) are kept whole.
pub(super) struct Walk {
    pub(super) chunks: Vec<Seen>,
    pub(super) others: rustc_hash::FxHashMap<u64, Part>,
    pub(super) oldest: chunks::Oldest,
    /// The usual chunks' counts and times, summed: their order does not change them.
    pub(super) clean: InputReport,
}

#[derive(Clone, Copy)]
pub(super) struct Seen {
    pub(super) claim_first: u64,
    pub(super) claim_len: u32,
    pub(super) kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Empty,
    /// In `Walk::others`.
    Other,
    Clean(FastPath),
}

impl Walk {
    pub(super) fn new() -> Self {
        Walk {
            chunks: Vec::new(),
            others: Default::default(),
            oldest: Default::default(),
            clean: InputReport::new("", Some("evtx"), 0),
        }
    }

    /// The next chunk in number order.
    pub(super) fn add(&mut self, n: u64, head: Option<Option<(u64, u64)>>, part: Part) {
        self.oldest.see(head);
        let kind = match part {
            Part::Empty => Kind::Empty,
            Part::Clean(c) => {
                self.clean.chunks += 1;
                self.clean.records_read += c.records_read;
                self.clean.records_failed += c.records_failed;
                self.clean.records_used += c.records_used;
                if let Some((first, last)) = c.times {
                    self.clean.log =
                        LogSpan::merge(self.clean.log.take(), Some(LogSpan::times(first, last)));
                }
                self.chunks.push(Seen {
                    claim_first: c.claim.0,
                    claim_len: (c.claim.1 - c.claim.0) as u32,
                    kind: Kind::Clean(c.fast),
                });
                return;
            }
            other => {
                self.others.insert(n, other);
                Kind::Other
            }
        };
        self.chunks.push(Seen {
            claim_first: 0,
            claim_len: 0,
            kind,
        });
    }
}
