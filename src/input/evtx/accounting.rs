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
/// of thousands of chunks, nearly all plain.
pub(super) enum KeptSpan {
    Plain { number: u64, claim: (u64, u64) },
    Whole(Box<Span>),
}

impl KeptSpan {
    pub(super) fn of(span: Span) -> Self {
        match (span.name, span.plain_claim()) {
            (SpanName::Chunk(number), Some(claim)) => KeptSpan::Plain { number, claim },
            _ => KeptSpan::Whole(Box::new(span)),
        }
    }

    fn name(&self) -> SpanName {
        match self {
            KeptSpan::Plain { number, .. } => SpanName::Chunk(*number),
            KeptSpan::Whole(s) => s.name,
        }
    }

    fn claim(&self) -> Option<Ids> {
        match self {
            KeptSpan::Plain { claim, .. } => Some(claim.0..=claim.1),
            KeptSpan::Whole(s) => s.claim.clone(),
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
            KeptSpan::Plain { claim, .. } => vec![claim.0..=claim.1],
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
pub(super) fn account_for_id_gaps(spans: &[KeptSpan], report: &mut InputReport) {
    let lost_chunks = spans.iter().filter(|s| s.lost()).count() as u64;
    let mut claimed: Vec<(Ids, SpanName)> = spans
        .iter()
        .filter_map(|s| Some((s.claim()?, s.name())))
        .collect();
    claimed.sort_by_key(|(r, _)| *r.start());
    let mut room = lost_chunks * MAX_RECORDS_PER_CHUNK;
    // The note names the first few jumps and counts the rest: a file of chunks from many logs
    // jumps at nearly every chunk, and a text for each was 2% of a read of 512 MiB of them.
    const SHOWN: usize = 3;
    let mut unexplained = Vec::new();
    let mut not_shown = 0usize;
    for pair in claimed.windows(2) {
        let ((before, before_name), (after, after_name)) = (&pair[0], &pair[1]);
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
