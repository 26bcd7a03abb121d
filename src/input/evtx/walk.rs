//! What the file's report keeps of each chunk until the walk order is known (the crate's walk
//! starts at the oldest chunk, which only the last header may turn out to be): the usual chunks
//! in runs (4 bytes a chunk), their counts and times summed as they come; the few others whole.

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
/// the usual chunks are kept in runs, their counts and times summed as they come, and only the
/// few others (lost, damaged, with something to say) are kept whole.
pub(super) struct Walk {
    pub(super) chunks: Chunks,
    pub(super) others: rustc_hash::FxHashMap<u64, Part>,
    pub(super) oldest: chunks::Oldest,
    /// The usual chunks' counts and times, summed: their order does not change them.
    pub(super) clean: InputReport,
}

/// Every chunk read, in number order, as runs of chunks alike: a log's usual chunks follow one
/// another, each claiming the record IDs from one past where the one before ends, so a log of
/// any size is a handful of runs. What names each chunk's records again is 4 bytes a chunk: how
/// many IDs past its first it claims (before, 16 bytes here and 32 more for its span, and the
/// 16 GiB input peaked 6-14 MiB above the 1 GiB one).
#[derive(Default)]
pub(super) struct Chunks {
    runs: Vec<Run>,
    /// Per usual chunk, in number order: its last claimed ID less its first.
    pub(super) lens: Vec<u32>,
}

#[derive(Clone, Copy)]
struct Run {
    /// The first chunk's number, and how many follow in the run.
    first: u64,
    count: u64,
    kind: Kind,
    /// For usual chunks: the first chunk's first claimed ID, where its length is in `lens`, and
    /// the ID after the last chunk's claim (`None` past `u64::MAX`: nothing follows it).
    claim_first: u64,
    lens_at: usize,
    next_claim: Option<u64>,
}

/// One chunk of a walk.
pub(super) struct Chunk {
    pub(super) number: u64,
    pub(super) kind: Kind,
    /// A usual chunk's claim: its first ID, and where its length is in [`Chunks::lens`].
    pub(super) claim_first: u64,
    pub(super) len_at: usize,
}

impl Chunks {
    fn push(&mut self, n: u64, kind: Kind, claim: Option<(u64, u64)>) {
        if let Some(last) = self.runs.last_mut()
            && last.first + last.count == n
            && last.kind == kind
        {
            match (kind, claim) {
                (Kind::Clean(_), Some((first, end))) if last.next_claim == Some(first) => {
                    self.lens.push((end - first) as u32);
                    last.count += 1;
                    last.next_claim = end.checked_add(1);
                    return;
                }
                (Kind::Clean(_), _) => {}
                _ => {
                    last.count += 1;
                    return;
                }
            }
        }
        let (claim_first, next_claim) = match claim {
            Some((first, end)) => {
                self.lens.push((end - first) as u32);
                (first, end.checked_add(1))
            }
            None => (0, None),
        };
        self.runs.push(Run {
            first: n,
            count: 1,
            kind,
            claim_first,
            lens_at: self.lens.len() - usize::from(claim.is_some()),
            next_claim,
        });
    }

    /// Every chunk of `range` that was read, in number order.
    pub(super) fn each(&self, range: std::ops::Range<u64>, mut f: impl FnMut(Chunk)) {
        let from = self
            .runs
            .partition_point(|r| r.first + r.count <= range.start);
        for run in &self.runs[from..] {
            if run.first >= range.end {
                break;
            }
            let skip = range.start.saturating_sub(run.first);
            let upto = (range.end - run.first).min(run.count);
            let clean = matches!(run.kind, Kind::Clean(_));
            // A usual chunk's first ID follows from the claims before it in the run.
            let mut claim = run.claim_first;
            if clean {
                for len in &self.lens[run.lens_at..run.lens_at + skip as usize] {
                    claim = claim.wrapping_add(u64::from(*len) + 1);
                }
            }
            for i in skip..upto {
                let len_at = run.lens_at + i as usize;
                f(Chunk {
                    number: run.first + i,
                    kind: run.kind,
                    claim_first: claim,
                    len_at,
                });
                if clean {
                    claim = claim.wrapping_add(u64::from(self.lens[len_at]) + 1);
                }
            }
        }
    }
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
            chunks: Chunks::default(),
            others: Default::default(),
            oldest: Default::default(),
            clean: InputReport::new("", Some("evtx"), 0),
        }
    }

    /// The next chunk in number order.
    pub(super) fn add(&mut self, n: u64, head: Option<Option<(u64, u64)>>, part: Part) {
        self.oldest.see(head);
        match part {
            Part::Empty => self.chunks.push(n, Kind::Empty, None),
            Part::Clean(c) => {
                self.clean.chunks += 1;
                self.clean.records_read += c.records_read;
                self.clean.records_failed += c.records_failed;
                self.clean.records_used += c.records_used;
                if let Some((first, last)) = c.times {
                    self.clean.log =
                        LogSpan::merge(self.clean.log.take(), Some(LogSpan::times(first, last)));
                }
                self.chunks.push(n, Kind::Clean(c.fast), Some(c.claim));
            }
            other => {
                self.others.insert(n, other);
                self.chunks.push(n, Kind::Other, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Chunks kept in runs come back as they went in, over any range of chunk numbers: their
        /// kind and claim, chunks of zeros and others included, claims that follow, jump, or
        /// reach the last ID there is.
        #[test]
        fn chunks_come_back_from_their_runs(
            pushed in proptest::collection::vec((0u8..6, 0u64..50, 0u32..30), 0..50),
            from in 0u64..60,
            len in 0u64..60,
        ) {
            let mut chunks = Chunks::default();
            let mut kept = Vec::new();
            let mut next = 1u64;
            for (n, (what, jump, len)) in pushed.into_iter().enumerate() {
                let n = n as u64;
                let (kind, claim) = match what {
                    0 => (Kind::Empty, None),
                    1 => (Kind::Other, None),
                    _ => {
                        let first = match what {
                            2 => jump,
                            3 => u64::MAX - u64::from(len),
                            _ => next,
                        };
                        let fast = if what == 5 { FastPath::WithRender } else { FastPath::Complete };
                        (Kind::Clean(fast), Some((first, first + u64::from(len))))
                    }
                };
                chunks.push(n, kind, claim);
                kept.push((n, kind, claim));
                if let Some((_, last)) = claim {
                    next = last.wrapping_add(1);
                }
            }
            let mut got = Vec::new();
            chunks.each(from..from + len, |c| {
                let claim = matches!(c.kind, Kind::Clean(_))
                    .then(|| (c.claim_first, c.claim_first + u64::from(chunks.lens[c.len_at])));
                got.push((c.number, c.kind, claim));
            });
            let want: Vec<_> = kept.into_iter().filter(|(n, _, _)| (from..from + len).contains(n)).collect();
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(g.0 == w.0 && g.1 == w.1 && g.2 == w.2, "{:?} against {:?}", (g.0, g.2), (w.0, w.2));
            }
        }
    }

    /// A log's usual chunks, each claiming from one past where the one before ends, are one
    /// run however many they are: 4 bytes a chunk.
    #[test]
    fn a_logs_usual_chunks_are_one_run() {
        let mut chunks = Chunks::default();
        for n in 0..100_000u64 {
            chunks.push(
                n,
                Kind::Clean(FastPath::Complete),
                Some((1 + n * 200, n * 200 + 200)),
            );
        }
        chunks.push(100_000, Kind::Empty, None);
        chunks.push(100_001, Kind::Empty, None);
        assert_eq!(chunks.runs.len(), 2);
        assert_eq!(chunks.lens.len(), 100_000);
    }
}
