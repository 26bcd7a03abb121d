//! Anchors that can never make a finding, found before correlation and let go (issue 24: memory
//! flat at any size). A signature's `requires` names evidence an incident must hold; where every
//! way to meet a group of it is evidence joined to the anchors' cluster key (the product, say),
//! an anchor whose key value no such evidence holds on its computer anchors incidents that fail,
//! and such incidents are dropped before they consume or show anything. A log of routine
//! installs holds tens of thousands of anchors of `restart-pending` (every successful install)
//! and none of the files in use or restarts that signature requires: those anchors, and what
//! joins them, are what made memory grow with the input.
//!
//! Exact, never a guess: only signatures without a `missing_log` alternative (whose incidents
//! failing `requires` are dropped whole), whose anchors all cluster on one field, on a computer
//! where every anchor of the signature holds that field (so that each cluster has one value,
//! and letting a value's anchors go cannot change how the others cluster); only groups whose
//! every member is an anchor of that signature (present with the value, or without the field)
//! or evidence joined to the anchors on that field without `if_present`. Windows are ignored,
//! which can only keep more.

use super::relevance::{ComputerKeys, is_anchor};
use super::*;

/// Which signatures' anchors may be let go, and what decides it.
#[derive(Debug, Default)]
pub struct Feasible {
    /// Per signature: the field its anchors cluster on, and its `requires` groups that can be
    /// decided from evidence values.
    plans: Vec<Option<Plan>>,
}

#[derive(Debug)]
struct Plan {
    field: String,
    groups: Vec<Vec<Member>>,
    /// The signature's anchor definitions.
    anchors: Vec<u32>,
}

#[derive(Debug, Clone)]
enum Member {
    /// An anchor definition: met by one of its anchors with the value, or without the field.
    Anchor(u32),
    /// Evidence joined to the anchors: met by one whose field (the join's own) has the value.
    Joined(u32, String),
}

impl Feasible {
    pub fn new(signatures: &[Signature]) -> Self {
        let plans = signatures.iter().map(Plan::of).collect();
        Feasible { plans }
    }

    /// Whether any signature's anchors may be let go at all.
    pub fn any(&self) -> bool {
        self.plans.iter().any(Option::is_some)
    }

    /// The field a hit's value is recorded from, when its definition decides a group.
    fn watched(&self, h: &Hit) -> Option<&str> {
        let plan = self.plans.get(h.signature as usize)?.as_ref()?;
        plan.groups.iter().flatten().find_map(|m| match m {
            Member::Anchor(e) if *e == h.evidence => Some(plan.field.as_str()),
            Member::Joined(e, field) if *e == h.evidence => Some(field.as_str()),
            _ => None,
        })
    }

    /// The plan of the signature this hit anchors, when it has one.
    fn plan_of_anchor(&self, h: &Hit) -> Option<&Plan> {
        self.plans
            .get(h.signature as usize)?
            .as_ref()
            .filter(|p| p.anchors.contains(&h.evidence))
    }

    /// Whether an event must wait in memory until everything is read, for
    /// [`super::Relevance`]: it anchors a signature whose anchors are never let go. Anchors that
    /// may be let go can wait on disk with the rest, and are read back first.
    pub fn must_stay(&self, signatures: &[Signature], m: &Matched) -> bool {
        m.hits
            .iter()
            .any(|h| is_anchor(signatures, h) && self.plan_of_anchor(h).is_none())
    }
}

impl Plan {
    fn of(sig: &Signature) -> Option<Plan> {
        if sig.def.missing_log.is_some() {
            return None;
        }
        let mut keys = sig
            .evidence
            .iter()
            .filter(|e| e.role == Role::Anchor)
            .map(|e| e.cluster_key.as_deref());
        let field = keys.next()??;
        if !keys.all(|k| k == Some(field)) {
            return None;
        }
        let member = |id: &str| -> Option<Member> {
            let (ei, ev) = sig.evidence.iter().enumerate().find(|(_, e)| e.id == id)?;
            if ev.role == Role::Anchor {
                return Some(Member::Anchor(ei as u32));
            }
            ev.joins
                .iter()
                .find(|j| j.evidence.is_none() && !j.if_present && j.target_field == field)
                .map(|j| Member::Joined(ei as u32, j.field.clone()))
        };
        // A group with the anchor itself, or with a member decided otherwise, can always be met.
        let groups: Vec<Vec<Member>> = sig
            .def
            .requires
            .iter()
            .filter(|group| group.iter().all(|id| id != "anchor"))
            .filter_map(|group| group.iter().map(|id| member(id)).collect())
            .collect();
        let anchors = sig
            .evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| e.role == Role::Anchor)
            .map(|(ei, _)| ei as u32)
            .collect();
        (!groups.is_empty()).then(|| Plan {
            field: field.to_string(),
            groups,
            anchors,
        })
    }
}

/// What the kept events show, per computer, of the evidence that decides: values seen per
/// (signature, definition), and whether some hit lacked the field. Built from the events
/// written to disk as they are written, and from those in memory before correlation.
#[derive(Default)]
pub struct Seen {
    /// Per (computer, signature, definition): the values seen, and whether some hit lacked the
    /// field.
    values: FxHashMap<(u32, u32, u32), (HashSet<JoinKey>, bool)>,
    /// (computer, signature) where some anchor lacks the cluster field: nothing is let go there.
    keyless: HashSet<(u32, u32)>,
    computers: Computers,
}

/// Computers by a number each, from their names as diagnosis groups them: asked for every kept
/// event, so without making a string per event.
#[derive(Default)]
struct Computers {
    keys: ComputerKeys,
    ids: FxHashMap<String, u32>,
}

impl Computers {
    fn id(&mut self, name: &Arc<str>) -> u32 {
        let key = self.keys.key(name);
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(key.to_string(), id);
        id
    }
}

impl Seen {
    pub fn see(&mut self, feasible: &Feasible, m: &Matched) {
        for h in m.hits.iter() {
            if let Some(plan) = feasible.plan_of_anchor(h)
                && h.fields.get(&plan.field).is_none()
            {
                let computer = self.computers.id(&m.event.computer);
                self.keyless.insert((computer, h.signature));
            }
            let Some(field) = feasible.watched(h) else {
                continue;
            };
            let computer = self.computers.id(&m.event.computer);
            let entry = self
                .values
                .entry((computer, h.signature, h.evidence))
                .or_default();
            match h.fields.get(field) {
                Some(v) => {
                    entry.0.insert(join_key(v));
                }
                None => entry.1 = true,
            }
        }
    }
}

/// Decides, from what was seen, whether an anchor hit can be let go.
pub struct Verdicts<'a> {
    feasible: &'a Feasible,
    seen: Seen,
}

impl<'a> Verdicts<'a> {
    /// `seen` must hold every kept event: those in memory are added here from `memory`.
    pub fn new<'m>(
        feasible: &'a Feasible,
        mut seen: Seen,
        memory: impl IntoIterator<Item = &'m Matched>,
    ) -> Self {
        for m in memory {
            seen.see(feasible, m);
        }
        Verdicts { feasible, seen }
    }

    /// Whether this hit, of an event on `computer` (a number from [`Computers::id`]), is an
    /// anchor of incidents that can never meet their signature's `requires`.
    fn futile(&self, computer: u32, h: &Hit) -> bool {
        let Some(plan) = self.feasible.plan_of_anchor(h) else {
            return false;
        };
        let Some(value) = h.fields.get(&plan.field) else {
            return false;
        };
        if self.seen.keyless.contains(&(computer, h.signature)) {
            return false;
        }
        let value = join_key(value);
        let seen = &self.seen.values;
        let met = |m: &Member| {
            let (e, lacking_counts) = match m {
                Member::Anchor(e) => (*e, true),
                Member::Joined(e, _) => (*e, false),
            };
            seen.get(&(computer, h.signature, e))
                .is_some_and(|(values, lacking)| {
                    values.contains(&value) || (lacking_counts && *lacking)
                })
        };
        plan.groups.iter().any(|group| !group.iter().any(met))
    }

    /// The event without its futile anchor hits; `None` when it has no hit left.
    pub fn prune(&mut self, m: Matched) -> Option<Matched> {
        if !m
            .hits
            .iter()
            .any(|h| self.feasible.plan_of_anchor(h).is_some())
        {
            return Some(m);
        }
        let computer = self.seen.computers.id(&m.event.computer);
        if !m.hits.iter().any(|h| self.futile(computer, h)) {
            return Some(m);
        }
        let hits: Vec<Hit> = m
            .hits
            .iter()
            .filter(|h| !self.futile(computer, h))
            .cloned()
            .collect();
        (!hits.is_empty()).then(|| Matched {
            event: m.event,
            hits: hits.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::relevance::tests::{HitOf, event};
    use super::*;
    use crate::diagnosis::Diagnoser;

    fn plan_of<'f>(d: &Diagnoser, f: &'f Feasible, id: &str) -> Option<&'f Plan> {
        let si = d.signatures().iter().position(|s| s.def.id == id).unwrap();
        f.plans[si].as_ref()
    }

    #[test]
    fn only_requires_that_values_decide_make_a_plan() {
        let d = Diagnoser::builtin();
        let f = Feasible::new(d.signatures());
        let restart = plan_of(&d, &f, "restart-pending").expect("files in use or a restart");
        assert_eq!(restart.field, "product");
        assert_eq!(restart.groups.len(), 1);
        // An anchor alone is enough: nothing to decide.
        assert!(plan_of(&d, &f, "msi-update-failed").is_none());
        // Incidents that fail `requires` may still be reported for a missing log.
        assert!(plan_of(&d, &f, "exchange-rollup-file-in-use").is_none());
    }

    #[test]
    fn anchors_no_required_evidence_can_join_are_let_go() {
        let d = Diagnoser::builtin();
        let sigs = d.signatures();
        let f = Feasible::new(sigs);
        let installed = |computer: &str, minutes: i64, product: &str| {
            let fields: &[(&str, &str)] = &[("product", product), ("status", "0")];
            let hits: &[HitOf] = &[
                ("restart-pending", "product_status_ok", fields),
                ("msi-update-failed", "msi_product_ok_later", fields),
            ];
            event(&d, computer, minutes, hits)
        };
        let in_use = |computer: &str, minutes: i64, product: &str| {
            let fields: &[(&str, &str)] = &[("product", product), ("pid", "4")];
            event(
                &d,
                computer,
                minutes,
                &[("restart-pending", "file_in_use", fields)],
            )
        };
        let restart = |computer: &str, minutes: i64, product: Option<&str>| {
            let with: &[(&str, &str)] = &[("product", product.unwrap_or("")), ("reason", "1")];
            let fields = if product.is_some() { with } else { &with[1..] };
            event(
                &d,
                computer,
                minutes,
                &[("restart-pending", "restart_for_files_in_use", fields)],
            )
        };
        let routine = installed("EXMBX01", 0, "Microsoft .NET Framework 4 Client Profile");
        let with_files_in_use = installed("EXMBX01", 20, "Contoso Agent");
        let with_restart = installed("EXMBX01", 40, "Fabrikam Tools");
        let elsewhere = installed("EXMBX01", 60, "Litware");
        let memory = vec![
            routine.clone(),
            with_files_in_use.clone(),
            with_restart.clone(),
            restart("EXMBX01", 41, Some("FABRIKAM TOOLS")),
            elsewhere.clone(),
        ];
        // Evidence that waited on disk: one file in use here, one on another computer.
        let mut spilled = Seen::default();
        spilled.see(&f, &in_use("exmbx01 ", 15, "Contoso Agent"));
        spilled.see(&f, &in_use("EXMBX02", 59, "Litware"));
        let mut v = Verdicts::new(&f, spilled, &memory);
        // Routine installs anchor nothing restart-pending could report, but stay the failed
        // signature's possible recovery.
        let pruned = v.prune(routine.clone()).expect("its other hit is left");
        assert_eq!(pruned.hits.len(), 1);
        assert_eq!(
            sigs[pruned.hits[0].signature as usize].def.id,
            "msi-update-failed"
        );
        for kept in [&with_files_in_use, &with_restart] {
            assert_eq!(v.prune(kept.clone()).unwrap().hits, kept.hits);
        }
        // Evidence on another computer is no evidence here.
        assert_eq!(v.prune(elsewhere.clone()).unwrap().hits.len(), 1);
        // An event with only futile anchor hits goes.
        let lone = event(
            &d,
            "EXMBX01",
            90,
            &[(
                "restart-pending",
                "product_status_ok",
                &[("product", "Litware")],
            )],
        );
        assert!(v.prune(lone.clone()).is_none());
        // Non-anchor hits are never let go.
        let evidence = in_use("EXMBX01", 5, "Nobody's Product");
        assert_eq!(v.prune(evidence.clone()).unwrap().hits, evidence.hits);
        // An anchor without the product may join any cluster: nothing of the signature goes.
        let mut with_keyless = memory.clone();
        with_keyless.push(restart("EXMBX01", 100, None));
        let mut v = Verdicts::new(&f, Seen::default(), &with_keyless);
        assert_eq!(v.prune(routine.clone()).unwrap().hits, routine.hits);
        assert_eq!(v.prune(lone.clone()).unwrap().hits, lone.hits);
    }

    /// Letting futile anchors go changes no finding: routine installs all day, one install with
    /// a file in use (restart-pending), one failure of the same product installed later. The
    /// engine alone and the diagnoser that prunes first give the same findings.
    #[test]
    fn letting_futile_anchors_go_changes_no_finding() {
        let d = Diagnoser::builtin();
        let sigs = d.signatures();
        let mut events = Vec::new();
        for i in 0..200 {
            let product = if i % 2 == 0 {
                "Routine A"
            } else {
                "Contoso Agent"
            };
            let fields: &[(&str, &str)] = &[("product", product), ("status", "0")];
            let hits: &[HitOf] = &[
                ("restart-pending", "product_status_ok", fields),
                ("msi-update-failed", "msi_product_ok_later", fields),
            ];
            events.push(event(&d, "EXMBX01", i * 7, hits));
        }
        let in_use: &[(&str, &str)] = &[
            ("product", "Contoso Agent"),
            ("path", "C:\\a.dll"),
            ("process", "a.exe"),
            ("pid", "4"),
        ];
        events.push(event(
            &d,
            "EXMBX01",
            6,
            &[("restart-pending", "file_in_use", in_use)],
        ));
        let failed: &[(&str, &str)] = &[("product", "Routine A"), ("msi_error", "1603")];
        events.push(event(
            &d,
            "EXMBX01",
            300,
            &[("msi-update-failed", "msi_product_status", failed)],
        ));
        let inputs = crate::diagnosis::Inputs::named(vec!["Application.evtx".into()]);
        let text = |f: &Vec<Finding>| serde_json::to_string(f).unwrap();
        let mut alone = Vec::new();
        super::super::diagnose_each(sigs, events.clone(), &inputs, |f| {
            alone.extend(f);
            std::ops::ControlFlow::Continue(())
        });
        let mut pruned = Vec::new();
        let kept = crate::diagnosis::Kept::from(events);
        d.diagnose_each(kept, &inputs, |f| {
            pruned.extend(f);
            std::ops::ControlFlow::Continue(())
        });
        let ids: Vec<&str> = alone.iter().map(|f| f.signature.as_str()).collect();
        assert!(ids.contains(&"restart-pending"), "{ids:?}");
        assert!(ids.contains(&"msi-update-failed"), "{ids:?}");
        assert_eq!(text(&alone), text(&pruned));
    }
}
