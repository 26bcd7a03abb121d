//! Record accounting for a .evtx file: where each chunk's records belong in the log (what its
//! header claims, what was read), the records a header counts that no chunk holds (lost and
//! counted), and the jumps in record IDs between undamaged chunks (a note, not damage). Apart from
//! the reading so that the reader says how records are read and this module how they are counted.

use super::super::InputReport;
use super::MAX_RECORDS_PER_CHUNK;

pub(super) type Ids = std::ops::RangeInclusive<u64>;

/// Where a chunk's records belong in the log: what its header claims and what was found. Held
/// for every chunk until the file is read, so its name is made only when a message needs it.
pub(super) struct Span {
    pub(super) name: SpanName,
    pub(super) claim: Option<Ids>,
    /// Lost whole, header and all: what it held is known only from its neighbours.
    pub(super) lost: bool,
    /// The runs of consecutive record IDs read from it.
    pub(super) seen: Vec<Ids>,
    /// IDs its header claims that were not read from it.
    pub(super) missing: Vec<Ids>,
    /// Records of it that failed with an error of their own, IDs unknown.
    pub(super) failed: u64,
}

/// How messages name a chunk.
#[derive(Debug, Clone, Copy)]
pub(super) enum SpanName {
    /// Its number in the file.
    Chunk(u64),
    /// Its place in the walk, for a chunk lost whole.
    Walked(u64),
}

impl std::fmt::Display for SpanName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpanName::Chunk(n) => write!(
                f,
                "chunk {n} (offset {})",
                super::FILE_HEADER + n * super::CHUNK
            ),
            SpanName::Walked(ordinal) => write!(f, "chunk #{ordinal}"),
        }
    }
}

impl Span {
    /// Its claim, when every record it claims was read from it and nothing else is to be said:
    /// the usual chunk, which [`KeptSpan`] holds in a few bytes.
    pub(super) fn plain_claim(&self) -> Option<(u64, u64)> {
        let claim = self.claim.as_ref()?;
        (matches!(self.name, SpanName::Chunk(_))
            && !self.lost
            && self.failed == 0
            && self.missing.is_empty()
            && self.seen.len() == 1
            && self.seen[0] == *claim)
            .then(|| (*claim.start(), *claim.end()))
    }

    pub(super) fn new(name: SpanName, claim: Option<Ids>) -> Self {
        Span {
            name,
            claim,
            lost: false,
            seen: Vec::new(),
            missing: Vec::new(),
            failed: 0,
        }
    }
}

/// A span as the file's accounting keeps it until every chunk is read: a large log has hundreds
/// of thousands of chunks, nearly all plain, and in runs.
pub(super) enum KeptSpan {
    /// Chunks `number..number + count` in the walk, plain, each claiming from one past where the
    /// one before ends: together `first..=last`. Past the first, each chunk's claim length is
    /// [`super::walk::Chunks::lens`]'s from `lens_at` (`None` for a chunk alone).
    Plain {
        number: u64,
        count: u64,
        first: u64,
        last: u64,
        lens_at: Option<usize>,
    },
    Whole(Box<Span>),
}

impl KeptSpan {
    pub(super) fn of(span: Span) -> Self {
        match (span.name, span.plain_claim()) {
            (SpanName::Chunk(number), Some((first, last))) => KeptSpan::Plain {
                number,
                count: 1,
                first,
                last,
                lens_at: None,
            },
            _ => KeptSpan::Whole(Box::new(span)),
        }
    }

    /// The usual chunk `number`, claiming `first..=first + len` (its length at `len_at` in the
    /// walk's lens), after `spans`: the run before it goes on when it follows that run.
    pub(super) fn push_usual(
        spans: &mut Vec<KeptSpan>,
        number: u64,
        first: u64,
        len: u32,
        len_at: usize,
    ) {
        let last_id = first + u64::from(len);
        if let Some(KeptSpan::Plain {
            number: n,
            count,
            last,
            lens_at: Some(at),
            ..
        }) = spans.last_mut()
            && *n + *count == number
            && last.checked_add(1) == Some(first)
            && *at + *count as usize == len_at
        {
            *count += 1;
            *last = last_id;
            return;
        }
        spans.push(KeptSpan::Plain {
            number,
            count: 1,
            first,
            last: last_id,
            lens_at: Some(len_at),
        });
    }

    fn claim(&self) -> Option<Ids> {
        match self {
            KeptSpan::Plain { first, last, .. } => Some(*first..=*last),
            KeptSpan::Whole(s) => s.claim.clone(),
        }
    }

    /// Each chunk's claim and name, in the walk's order.
    fn each_claim(&self, lens: &[u32], mut f: impl FnMut(Ids, SpanName)) {
        match self {
            KeptSpan::Plain {
                number,
                count,
                first,
                last,
                lens_at,
            } => match lens_at {
                Some(at) if *count > 1 => {
                    let mut from = *first;
                    for (i, len) in lens[*at..*at + *count as usize].iter().enumerate() {
                        let to = from + u64::from(*len);
                        f(from..=to, SpanName::Chunk(number + i as u64));
                        from = to.wrapping_add(1);
                    }
                }
                _ => f(*first..=*last, SpanName::Chunk(*number)),
            },
            KeptSpan::Whole(s) => {
                if let Some(claim) = s.claim.clone() {
                    f(claim, s.name);
                }
            }
        }
    }

    /// The names of its first and last chunks.
    fn ends(&self) -> (SpanName, SpanName) {
        match self {
            KeptSpan::Plain { number, count, .. } => (
                SpanName::Chunk(*number),
                SpanName::Chunk(number + count - 1),
            ),
            KeptSpan::Whole(s) => (s.name, s.name),
        }
    }

    fn lost(&self) -> bool {
        matches!(self, KeptSpan::Whole(s) if s.lost)
    }

    fn missing(&self) -> &[Ids] {
        match self {
            KeptSpan::Plain { .. } => &[],
            KeptSpan::Whole(s) => &s.missing,
        }
    }

    fn seen(&self) -> Vec<Ids> {
        match self {
            KeptSpan::Plain { first, last, .. } => vec![*first..=*last],
            KeptSpan::Whole(s) => s.seen.clone(),
        }
    }
}

/// Records a chunk header claims but the chunk does not hold are lost, unless another chunk
/// holds them: a writer other than Windows may claim a range that runs into the next chunk (the
/// independent writer's scenario claims IDs from 1 in every chunk). Records that failed with an
/// error of their own are already counted.
pub(super) fn account_for_missing_records(spans: &[KeptSpan], report: &mut InputReport) {
    // The common case, a whole log: nothing to look up.
    if spans.iter().all(|s| s.missing().is_empty()) {
        return;
    }
    let mut seen: Vec<(usize, Ids)> = spans
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.seen().into_iter().map(move |r| (i, r)))
        .collect();
    seen.sort_by_key(|(_, r)| *r.start());
    for (i, kept) in spans.iter().enumerate() {
        let KeptSpan::Whole(span) = kept else {
            continue;
        };
        if span.missing.is_empty() {
            continue;
        }
        let elsewhere: Vec<&Ids> = seen
            .iter()
            .filter(|(j, _)| *j != i)
            .map(|(_, r)| r)
            .collect();
        let absent: u64 = span
            .missing
            .iter()
            .map(|m| uncovered(m, &elsewhere))
            .sum::<u64>();
        let lost = absent.saturating_sub(span.failed);
        if lost == 0 {
            continue;
        }
        report.records_failed += lost;
        let claim = span.claim.as_ref().expect("missing IDs come from a claim");
        report.error(format!(
            "{}: its header counts records {}-{} ({}); {lost} of them are in no chunk of the file and are lost",
            span.name,
            claim.start(),
            claim.end(),
            claim.end() - claim.start() + 1
        ));
    }
}

/// How many IDs of `range` none of the `covers` (sorted by start) hold.
pub(super) fn uncovered(range: &Ids, covers: &[&Ids]) -> u64 {
    let mut next = *range.start();
    let mut count = 0;
    for c in covers {
        if *c.end() < next {
            continue;
        }
        if *c.start() > *range.end() {
            break;
        }
        if *c.start() > next {
            count += c.start() - next;
        }
        next = next.max(c.end().saturating_add(1));
        if next > *range.end() {
            return count;
        }
    }
    count + (range.end() - next + 1)
}

/// Records a log held are missing when record IDs jump from one chunk to the next in record
/// order. Beside a chunk lost whole, the jump is what that chunk held: counted as failed, up to
/// what the lost chunks could hold. Without one (volume shadow copies mix chunks of different
/// times), it is a note: nothing was damaged in the file that was sent.
pub(super) fn account_for_id_gaps(spans: &[KeptSpan], lens: &[u32], report: &mut InputReport) {
    let lost_chunks = spans.iter().filter(|s| s.lost()).count() as u64;
    // Chunk by chunk, in record order, each chunk looked at beside the one before it. A run of
    // chunks stands for its chunks when no other claim starts inside or beside it, so that they
    // would follow one another in that order too; else (copies, chunks of several logs) every
    // chunk is listed.
    let mut claimed: Vec<(Ids, SpanName, SpanName)> = spans
        .iter()
        .filter_map(|s| {
            let (first, last) = s.ends();
            Some((s.claim()?, first, last))
        })
        .collect();
    claimed.sort_by_key(|(r, _, _)| *r.start());
    if claimed.windows(2).any(|p| *p[1].0.start() <= *p[0].0.end()) {
        claimed.clear();
        for s in spans {
            s.each_claim(lens, |r, name| claimed.push((r, name, name)));
        }
        claimed.sort_by_key(|(r, _, _)| *r.start());
    }
    let mut room = lost_chunks * MAX_RECORDS_PER_CHUNK;
    // The note names the first few jumps and counts the rest: a file of chunks from many logs
    // jumps at nearly every chunk, and a text for each was 2% of a read of 512 MiB of them.
    const SHOWN: usize = 3;
    let mut unexplained = Vec::new();
    let mut not_shown = 0usize;
    for pair in claimed.windows(2) {
        let ((before, _, before_name), (after, after_name, _)) = (&pair[0], &pair[1]);
        if *after.start() <= before.end().saturating_add(1) {
            continue;
        }
        let (first, last) = (before.end() + 1, after.start() - 1);
        let missing = last - first + 1;
        if missing <= room {
            room -= missing;
            report.records_failed += missing;
            report.error(format!(
                "records {first}-{last} ({missing}) are missing between {before_name} and {after_name}, where the log's lost chunks held them"
            ));
        } else if unexplained.len() < SHOWN {
            unexplained.push(format!(
                "{first}-{last} ({missing}) between {before_name} and {after_name}"
            ));
        } else {
            not_shown += 1;
        }
    }
    if !unexplained.is_empty() {
        let more = match not_shown {
            0 => String::new(),
            n => format!("; and {n} more"),
        };
        report.notes.push(format!(
            "record IDs jump between chunks that are not damaged, so the file holds records of different times (a stale or partial copy, such as a volume shadow copy's): {}{more}",
            unexplained.join("; ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the accounting said.
    fn accounted(spans: &[KeptSpan], lens: &[u32]) -> (u64, Vec<String>, Vec<String>) {
        let mut report = InputReport::new("t.evtx", Some("evtx"), 0);
        account_for_missing_records(spans, &mut report);
        account_for_id_gaps(spans, lens, &mut report);
        (report.records_failed, report.errors, report.notes)
    }

    /// A walk's chunks: usual ones that follow the one before or jump (back, forward, onto
    /// another's IDs), chunks lost whole, and chunks with IDs missing.
    fn a_walk() -> impl Strategy<Value = Vec<(u8, u64, u32)>> {
        proptest::collection::vec((0u8..10, 0u64..400, 0u32..40), 0..60)
    }

    proptest! {
        /// Kept in runs, the usual chunks are accounted for as when each is kept alone: the same
        /// records lost, the same jumps between the same chunks.
        #[test]
        fn runs_account_as_their_chunks(walk in a_walk()) {
            let (mut runs, mut alone, mut lens) = (Vec::new(), Vec::new(), Vec::new());
            let mut next = 1u64;
            for (n, (what, at, len)) in walk.into_iter().enumerate() {
                let n = n as u64;
                let first = match what {
                    0..=5 => next,
                    _ => at,
                };
                let last = first + u64::from(len);
                match what {
                    0..=7 => {
                        KeptSpan::push_usual(&mut runs, n, first, len, lens.len());
                        lens.push(len);
                        alone.push(KeptSpan::Plain { number: n, count: 1, first, last, lens_at: None });
                    }
                    8 => {
                        let mut lost = Span::new(SpanName::Walked(n), None);
                        lost.lost = true;
                        runs.push(KeptSpan::Whole(Box::new(Span { ..lost })));
                        let mut lost = Span::new(SpanName::Walked(n), None);
                        lost.lost = true;
                        alone.push(KeptSpan::Whole(Box::new(lost)));
                    }
                    _ => {
                        let partly = || {
                            let mut s = Span::new(SpanName::Chunk(n), Some(first..=last));
                            s.seen.push(first..=first + u64::from(len / 2));
                            if len > 1 {
                                s.missing.push(first + u64::from(len / 2) + 1..=last);
                            }
                            s
                        };
                        runs.push(KeptSpan::of(partly()));
                        alone.push(KeptSpan::of(partly()));
                    }
                }
                next = last + 1;
            }
            prop_assert_eq!(accounted(&runs, &lens), accounted(&alone, &lens));
        }
    }
}
