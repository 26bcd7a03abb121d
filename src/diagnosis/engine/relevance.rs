//! Which kept events some incident could still select, known once every anchor is read: what
//! lets a large input's other kept events wait on disk (`crate::diagnosis::spill`) and come back
//! only when they can matter, so that what the diagnosis holds is bounded by its incidents, not
//! by the size of the logs (issue 24: memory flat at any size).
//!
//! The test is a superset of what [`run_signature`] selects, never a guess: an incident of a
//! signature starts and ends at anchors of that signature on that computer, its anchors no
//! further apart than the signature's gap, so evidence farther than its window and the gap from
//! every anchor, or whose join with the anchors can find no anchor value, is never
//! selected, whatever the clusters, transactions and consumed anchors turn out to be. Anchors
//! themselves are always kept (those that can never make a finding were let go before:
//! [`super::Feasible`]).

use super::*;

/// Per computer (by its name as diagnosis groups computers: trimmed, lowercase) and signature,
/// what its anchors span and the join values they offer.
pub struct Relevance {
    /// Per computer, the signatures it has anchors of (a fleet's five thousand hosts each have a
    /// few).
    computers: FxHashMap<String, Vec<(u32, Anchors)>>,
    /// Per signature: the anchor fields its evidence joins to (joins of `to = "anchor.…"`).
    targets: Vec<Vec<String>>,
}

struct Anchors {
    /// Every anchor's time, sorted once all are in (never empty).
    times: Vec<DateTime<Utc>>,
    /// Per field of `Relevance::targets`: the join keys anchors hold, and whether some anchor
    /// lacks the field (an `if_present` join is then skipped by an incident of only such anchors).
    values: Vec<(HashSet<JoinKey>, bool)>,
}

impl Relevance {
    /// What the anchors among `kept` say. Every anchor of the run must be among them.
    pub fn of<'m>(signatures: &[Signature], kept: impl IntoIterator<Item = &'m Matched>) -> Self {
        let targets: Vec<Vec<String>> = signatures
            .iter()
            .map(|s| {
                let mut fields: Vec<String> = s
                    .evidence
                    .iter()
                    .flat_map(|e| &e.joins)
                    .filter(|j| j.evidence.is_none())
                    .map(|j| j.target_field.clone())
                    .collect();
                fields.sort();
                fields.dedup();
                fields
            })
            .collect();
        let mut relevance = Relevance {
            computers: FxHashMap::default(),
            targets,
        };
        let mut keys = ComputerKeys::default();
        for m in kept {
            if !m.hits.iter().any(|h| is_anchor(signatures, h)) {
                continue;
            }
            let key = keys.key(&m.event.computer);
            if !relevance.computers.contains_key(key) {
                relevance.computers.insert(key.to_string(), Vec::new());
            }
            let per_signature = relevance.computers.get_mut(key).expect("inserted above");
            for h in m.hits.iter().filter(|h| is_anchor(signatures, h)) {
                let si = h.signature as usize;
                let fields = &relevance.targets[si];
                let at = match per_signature.iter().position(|(s, _)| *s == h.signature) {
                    Some(at) => at,
                    None => {
                        per_signature.push((
                            h.signature,
                            Anchors {
                                times: Vec::new(),
                                values: vec![(HashSet::new(), false); fields.len()],
                            },
                        ));
                        per_signature.len() - 1
                    }
                };
                let anchors = &mut per_signature[at].1;
                anchors.times.push(m.event.time);
                for (field, (values, lacking)) in fields.iter().zip(&mut anchors.values) {
                    match h.fields.get(field) {
                        Some(v) => {
                            values.insert(join_key(v));
                        }
                        None => *lacking = true,
                    }
                }
            }
        }
        for (_, anchors) in relevance.computers.values_mut().flatten() {
            anchors.times.sort_unstable();
        }
        relevance
    }

    /// A test of kept events against these anchors, with its own cache of computer names.
    pub fn tester<'r>(&'r self, signatures: &'r [Signature]) -> Tester<'r> {
        Tester {
            relevance: self,
            signatures,
            keys: ComputerKeys::default(),
        }
    }
}

/// Tests kept events one by one (see [`Relevance::tester`]).
pub struct Tester<'r> {
    relevance: &'r Relevance,
    signatures: &'r [Signature],
    keys: ComputerKeys,
}

impl Tester<'_> {
    /// Whether some incident could select this event, or it is an anchor.
    pub fn keeps(&mut self, m: &Matched) -> bool {
        let signatures = self.signatures;
        if m.hits.iter().any(|h| is_anchor(signatures, h)) {
            return true;
        }
        let Some(per_signature) = self
            .relevance
            .computers
            .get(self.keys.key(&m.event.computer))
        else {
            return false;
        };
        let slack = Duration::seconds(SLACK_SECONDS);
        m.hits.iter().any(|h| {
            let si = h.signature as usize;
            let Some((_, anchors)) = per_signature.iter().find(|(s, _)| *s == h.signature) else {
                return false;
            };
            let Some(ev) = signatures[si].evidence.get(h.evidence as usize) else {
                return false;
            };
            let t = m.event.time;
            let (first, last) = (anchors.times[0], anchors.times[anchors.times.len() - 1]);
            if let Bound::Within(d) = ev.before
                && t < first - d - slack
            {
                return false;
            }
            if let Bound::Within(d) = ev.after
                && t > last + d + slack
            {
                return false;
            }
            // Near some anchor: an incident's anchors follow each other within the signature's
            // gap, so a time inside an incident is within the gap of one of them, and a time
            // before or after it within the window of its first or last. Anchors spread over
            // the whole log no longer keep everything between them.
            let reach = |d: Duration| d + slack + signatures[si].gap;
            let from = match ev.after {
                Bound::Within(d) => anchors.times.partition_point(|a| *a < t - reach(d)),
                Bound::Unbounded => 0,
            };
            let Some(&near) = anchors.times.get(from) else {
                return false;
            };
            if let Bound::Within(d) = ev.before
                && near > t + reach(d)
            {
                return false;
            }
            ev.joins.iter().filter(|j| j.evidence.is_none()).all(|j| {
                let Some(at) = self.relevance.targets[si]
                    .iter()
                    .position(|f| *f == j.target_field)
                else {
                    return true;
                };
                let (values, lacking) = &anchors.values[at];
                if j.if_present && *lacking {
                    return true;
                }
                h.fields
                    .get(&j.field)
                    .is_some_and(|v| values.contains(&join_key(v)))
            })
        })
    }
}

pub(crate) fn is_anchor(signatures: &[Signature], h: &Hit) -> bool {
    signatures
        .get(h.signature as usize)
        .and_then(|s| s.evidence.get(h.evidence as usize))
        .is_some_and(|e| e.role == Role::Anchor)
}

/// Computer names as diagnosis groups them, made once per shared name rather than per event.
/// Each entry holds its name, so that no other name can take its address.
#[derive(Default)]
pub(super) struct ComputerKeys {
    by_address: FxHashMap<usize, (Arc<str>, String)>,
}

impl ComputerKeys {
    pub(super) fn key(&mut self, name: &Arc<str>) -> &str {
        let address = Arc::as_ptr(name) as *const u8 as usize;
        &self
            .by_address
            .entry(address)
            .or_insert_with(|| (name.clone(), computer_key(name)))
            .1
    }
}

/// The name diagnosis groups a computer by.
pub(crate) fn computer_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::diagnosis::Diagnoser;

    /// (signature, evidence definition, fields).
    pub(in crate::diagnosis::engine) type HitOf<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

    /// A kept event on `computer`, `minutes` after a fixed time, with these hits.
    pub(in crate::diagnosis::engine) fn event(
        d: &Diagnoser,
        computer: &str,
        minutes: i64,
        hits: &[HitOf],
    ) -> Matched {
        let hits: Vec<Hit> = hits
            .iter()
            .map(|(sig, ev, fields)| {
                let si = d.signatures.iter().position(|s| s.def.id == *sig).unwrap();
                let ei = d.signatures[si]
                    .evidence
                    .iter()
                    .position(|e| e.id == *ev)
                    .unwrap();
                Hit {
                    signature: si as u32,
                    evidence: ei as u32,
                    fields: Fields::of(fields),
                }
            })
            .collect();
        Matched {
            event: KeptEvent {
                source: 0,
                event_id: 1033,
                record_id: minutes as u64,
                header_record_id: None,
                time: DateTime::from_timestamp(1_500_000_000 + minutes * 60, 0).unwrap(),
                computer: Arc::from(computer),
                provider: Arc::from("MsiInstaller"),
            },
            hits: hits.into(),
        }
    }

    /// The installer's log names a file in use on EXMBX01 (msi-update-failed's cause).
    fn file_in_use(d: &Diagnoser, minutes: i64) -> Matched {
        event(
            d,
            "EXMBX01",
            minutes,
            &[(
                "msi-update-failed",
                "log_file_in_use",
                &[("path", "C:\\x.dll"), ("process", "a.exe"), ("pid", "4")],
            )],
        )
    }

    #[test]
    fn only_what_an_incident_could_select_is_kept() {
        let d = Diagnoser::builtin();
        let sigs = &d.signatures[..];
        let failed = [("product", "Contoso Agent"), ("msi_error", "1603")];
        let anchor = event(
            &d,
            "EXMBX01",
            0,
            &[("msi-update-failed", "msi_product_status", &failed)],
        );
        let ok = |computer: &str, minutes: i64, product: &str| {
            event(
                &d,
                computer,
                minutes,
                &[(
                    "msi-update-failed",
                    "msi_product_ok_later",
                    &[("product", product), ("status", "0")],
                )],
            )
        };
        // A cause of at most 3 hours before and 10 minutes after the failure.
        let in_use = |minutes: i64| file_in_use(&d, minutes);
        let kept = vec![anchor.clone()];
        let relevance = Relevance::of(sigs, &kept);
        let mut tester = relevance.tester(sigs);
        assert!(tester.keeps(&anchor));
        // Joined to the anchor's product, case and spacing of the computer aside; any time after.
        assert!(tester.keeps(&ok("EXMBX01", 60 * 24 * 30, "contoso agent")));
        assert!(tester.keeps(&ok(" exmbx01", 5, "Contoso Agent")));
        // Another product, another computer: no incident could select them.
        assert!(!tester.keeps(&ok("EXMBX01", 60, "Other Product")));
        assert!(!tester.keeps(&ok("EXMBX02", 60, "Contoso Agent")));
        // Inside and outside the cause's window (2 s of slack).
        assert!(tester.keeps(&in_use(-180)));
        assert!(tester.keeps(&in_use(10)));
        assert!(!tester.keeps(&in_use(-181)));
        assert!(!tester.keeps(&in_use(11)));
        // Without anchors of the signature, nothing of it is kept.
        let none = Relevance::of(sigs, &[]);
        assert!(!none.tester(sigs).keeps(&in_use(0)));
        // An event that is an anchor of any signature is kept, whatever else it is.
        let both = event(
            &d,
            "EXMBX09",
            0,
            &[
                ("msi-update-failed", "log_file_in_use", &[("pid", "4")]),
                ("restart-pending", "product_status_ok", &[("product", "X")]),
            ],
        );
        assert!(none.tester(sigs).keeps(&both));
    }

    #[test]
    fn evidence_between_distant_anchors_is_not_kept() {
        let d = Diagnoser::builtin();
        let sigs = &d.signatures[..];
        let failed = [("product", "Contoso Agent"), ("msi_error", "1603")];
        let failure = |minutes: i64| {
            event(
                &d,
                "EXMBX01",
                minutes,
                &[("msi-update-failed", "msi_product_status", &failed)],
            )
        };
        // A cause of at most 3 hours before and 10 minutes after a failure; two failures a month
        // apart.
        let in_use = |minutes: i64| file_in_use(&d, minutes);
        let month = 60 * 24 * 30;
        let kept = vec![failure(0), failure(month)];
        let relevance = Relevance::of(sigs, &kept);
        let mut tester = relevance.tester(sigs);
        assert!(tester.keeps(&in_use(-180)));
        assert!(tester.keeps(&in_use(month - 180)));
        assert!(tester.keeps(&in_use(month + 10)));
        // Two weeks from either failure: no incident's window reaches it.
        assert!(!tester.keeps(&in_use(month / 2)));
        // Within the signature's gap of an anchor, an incident may span it.
        let gap = sigs[kept[0].hits[0].signature as usize].gap.num_minutes();
        assert!(tester.keeps(&in_use(month - 180 - gap)));
        assert!(!tester.keeps(&in_use(month - 181 - gap - 1)));
    }
}
