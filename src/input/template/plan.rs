//! A template definition walked into a [`Plan`]: which substitution slot holds each System field,
//! and which `<Data>` / `<UserData>` leaf each payload slot fills. A thread finds the plan of a
//! definition it has seen in an earlier chunk by the definition's shape, without walking it again.

use super::*;

/// Where a System field comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum Slot {
    #[default]
    Absent,
    Literal(String),
    Subst(u16),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldPlan {
    /// A `<Data>` or `<UserData>` leaf: its name, and where its text comes from.
    Field(Option<String>, Slot),
    /// `<Binary>` from a slot.
    Binary(u16),
    /// The payload continues in a nested template held by this slot.
    Nested(u16),
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub(crate) provider: Slot,
    pub(crate) event_id: Slot,
    pub(crate) qualifiers: Slot,
    pub(crate) level: Slot,
    pub(crate) time: Slot,
    pub(crate) record_id: Slot,
    pub(crate) channel: Slot,
    pub(crate) computer: Slot,
    pub(crate) sid: Slot,
    pub(crate) pid: Slot,
    pub(crate) payload: Vec<FieldPlan>,
    pub(crate) user_data: Option<String>,
}

/// The fast path's state for one chunk: each template's plan by definition offset, the text of
/// the strings that recur in every record (provider, computer, channel) by their bytes, and a
/// buffer for the values of the record at hand.
#[derive(Default)]
pub struct PlanCache {
    pub(crate) plans: Plans,
    pub(crate) strings: SharedStrings,
    /// The record's values: the outer instance's first, then those of its nested payloads.
    pub(crate) values: Vec<RawValue>,
    pub(crate) segments: Vec<Segment>,
    /// What the sink answered for each payload seen in the chunk, by [`verdict_key`] (at most one
    /// entry per record): a busy log repeats the same few payloads (a service starting,
    /// stopping), and most are refused.
    pub(crate) verdicts: HashMap<Box<[u8]>, bool>,
    pub(crate) key: Vec<u8>,
}

impl PlanCache {
    /// Empty for the next chunk (plans, strings and verdicts are one chunk's), keeping the memory:
    /// a reader reuses one cache per thread.
    pub fn clear(&mut self) {
        self.plans.by_offset.clear();
        self.strings.by_bytes.clear();
        self.strings.recent = Default::default();
        self.values.clear();
        self.segments.clear();
        self.verdicts.clear();
        self.key.clear();
    }
}

/// One template instance of a record's payload read on demand: its plan, and where its values
/// start and how many there are in [`PlanCache::values`].
pub(crate) struct Segment {
    pub(crate) plan: Arc<Plan>,
    pub(crate) base: usize,
    pub(crate) len: usize,
}

/// Each template's plan: the chunk's own by definition offset, and those of earlier chunks read
/// by this thread by their [`shape`]. A log's chunks define the same few templates again and
/// again; finding the plan by shape spares decoding every name into a string and walking them
/// (a fifth of a read of real chunks, issue 24).
#[derive(Default)]
pub struct Plans {
    pub(crate) by_offset: HashMap<u32, Planned>,
    by_shape: HashMap<Box<[u8]>, Option<Arc<Plan>>>,
    /// The bytes of `by_shape`'s keys, bounded so that a crafted log of ever new templates
    /// cannot make it grow without end.
    shape_bytes: usize,
    key: Vec<u8>,
}

/// The most bytes of shapes a thread keeps; past it, they are forgotten and learned again. At
/// 4 MiB a fleet of 10,000 small logs peaked 8 MiB higher (keys and plans, per thread); at 1 MiB
/// the 512 MiB log of real chunks, whose chunks come from many logs, relearned them and ran 4%
/// slower; 2 MiB costs neither.
const SHAPE_BYTES: usize = 2 << 20;

/// A definition of the chunk at hand: its plan, and whether the sink refused the provider its
/// template names (asked once per definition and chunk, for a named provider only).
#[derive(Default)]
pub(crate) struct Planned {
    plan: Option<Arc<Plan>>,
    provider_refused: Option<bool>,
}

impl Plans {
    /// The plan of the template defined at `def` in `chunk`.
    pub(crate) fn at(&mut self, chunk: &[u8], def: u32) -> Option<Arc<Plan>> {
        self.planned(chunk, def).plan.clone()
    }

    /// The plan of the template defined at `def`, unless that template names its provider and
    /// `wants_provider` refuses it: then `Err`, and every record of this template in the chunk
    /// can be refused without reading its values. A provider that comes from a value, or an
    /// empty one (which rendering decides on), is never refused here.
    pub(crate) fn unless_refused(
        &mut self,
        chunk: &[u8],
        def: u32,
        wants_provider: impl Fn(&str) -> bool,
    ) -> Result<Option<Arc<Plan>>, ()> {
        let planned = self.planned(chunk, def);
        let refused =
            *planned
                .provider_refused
                .get_or_insert_with(|| match planned.plan.as_deref() {
                    Some(Plan {
                        provider: Slot::Literal(p),
                        ..
                    }) if !p.is_empty() => !wants_provider(p),
                    _ => false,
                });
        if refused {
            Err(())
        } else {
            Ok(planned.plan.clone())
        }
    }

    fn planned(&mut self, chunk: &[u8], def: u32) -> &mut Planned {
        let Plans {
            by_offset,
            by_shape,
            shape_bytes,
            key,
        } = self;
        by_offset.entry(def).or_insert_with(|| Planned {
            plan: learned(by_shape, shape_bytes, key, chunk, def),
            provider_refused: None,
        })
    }
}

/// The plan of the definition at `def`, found by its shape among those this thread has planned,
/// or planned now and remembered (within [`SHAPE_BYTES`]).
fn learned(
    by_shape: &mut HashMap<Box<[u8]>, Option<Arc<Plan>>>,
    shape_bytes: &mut usize,
    key: &mut Vec<u8>,
    chunk: &[u8],
    def: u32,
) -> Option<Arc<Plan>> {
    // A definition the walk refuses has no plan: the record is rendered.
    shape(chunk, def, key)?;
    if let Some(plan) = by_shape.get(key.as_slice()) {
        return plan.clone();
    }
    let plan = plan_template(chunk, def).map(Arc::new);
    if *shape_bytes + key.len() > SHAPE_BYTES {
        by_shape.clear();
        *shape_bytes = 0;
    }
    *shape_bytes += key.len();
    by_shape.insert(key.as_slice().into(), plan.clone());
    plan
}

// ---------------------------------------------------------------------------------------------
// Walking a template definition

/// Interpret a template's tokens as an event plan.
pub(crate) fn plan_template(chunk: &[u8], def_offset: u32) -> Option<Plan> {
    let toks = tokens(chunk, def_offset)?;
    let mut plan = Plan::default();
    // The open elements' local names, borrowed from the tokens: no allocation per element.
    let mut stack: Vec<&str> = Vec::new();
    // The content of the element being read, and the attribute whose value comes next.
    let mut content: Option<Slot> = None;
    let mut attr: Option<&str> = None;
    let mut data_name: Option<String> = None;
    // Per open element: whether it has child elements (a leaf renders as a field even when empty).
    let mut has_children: Vec<bool> = Vec::new();
    for t in &toks {
        match t {
            Tok::Open(name) => {
                if let Some(parent) = has_children.last_mut() {
                    *parent = true;
                }
                has_children.push(false);
                stack.push(local(name));
                content = None;
                attr = None;
                data_name = None;
                if stack.len() == 3 && stack[1] == "UserData" {
                    plan.user_data = Some(stack[2].to_string());
                }
            }
            Tok::Attr(name) => attr = Some(local(name)),
            Tok::Text(_) | Tok::Subst(_) if attr.is_some() => {
                let slot = match t {
                    Tok::Text(s) => Slot::Literal(s.clone()),
                    Tok::Subst(i) => Slot::Subst(*i),
                    _ => return None,
                };
                let a = attr.take()?;
                match (stack.as_slice(), a) {
                    (["Event", "System", "Provider"], "Name") => plan.provider = slot,
                    (["Event", "System", "EventID"], "Qualifiers") => plan.qualifiers = slot,
                    (["Event", "System", "TimeCreated"], "SystemTime") => plan.time = slot,
                    (["Event", "System", "Security"], "UserID") => plan.sid = slot,
                    (["Event", "System", "Execution"], "ProcessID") => plan.pid = slot,
                    (["Event", "EventData", "Data"] | ["EventData", "Data"], "Name") => {
                        data_name = match slot {
                            Slot::Literal(s) => Some(s),
                            _ => return None,
                        }
                    }
                    _ => {}
                }
            }
            Tok::Text(s) => content = Some(merge(content, Slot::Literal(s.clone()))?),
            Tok::Subst(i) => {
                // A nested payload: directly in <Event> (EventData) or in <UserData>.
                if matches!(stack.as_slice(), ["Event"] | ["Event", "UserData"]) {
                    plan.payload.push(FieldPlan::Nested(*i));
                } else {
                    content = Some(merge(content, Slot::Subst(*i))?);
                }
            }
            Tok::CloseStart => attr = None,
            Tok::CloseEmpty | Tok::End => {
                let p = stack.as_slice();
                let slot = content.take();
                let leaf = !has_children.pop()?;
                match p {
                    ["Event", "System", "EventID"] => plan.event_id = slot?,
                    ["Event", "System", "Level"] => plan.level = slot.unwrap_or_default(),
                    ["Event", "System", "EventRecordID"] => {
                        plan.record_id = slot.unwrap_or_default()
                    }
                    ["Event", "System", "Channel"] => plan.channel = slot.unwrap_or_default(),
                    ["Event", "System", "Computer"] => plan.computer = slot.unwrap_or_default(),
                    ["Event", "EventData", "Data"] => plan.payload.push(FieldPlan::Field(
                        data_name.take(),
                        slot.unwrap_or(Slot::Literal(String::new())),
                    )),
                    ["Event", "EventData", "Binary"] => match slot {
                        Some(Slot::Subst(i)) => plan.payload.push(FieldPlan::Binary(i)),
                        None => {}
                        _ => return None,
                    },
                    ["Event", "UserData", _, ..] if p.len() >= 4 && leaf => {
                        let slot = slot.unwrap_or(Slot::Literal(String::new()));
                        plan.payload
                            .push(FieldPlan::Field(Some(p[p.len() - 1].to_string()), slot));
                    }
                    // A template holding only a payload: its root is <EventData> or the UserData element.
                    ["EventData", "Data"] => plan.payload.push(FieldPlan::Field(
                        data_name.take(),
                        slot.unwrap_or(Slot::Literal(String::new())),
                    )),
                    ["EventData", "Binary"] => match slot {
                        Some(Slot::Subst(i)) => plan.payload.push(FieldPlan::Binary(i)),
                        None => {}
                        _ => return None,
                    },
                    [root, .., name] if root != &"Event" && root != &"EventData" => {
                        plan.user_data.get_or_insert_with(|| root.to_string());
                        if leaf {
                            let slot = slot.unwrap_or(Slot::Literal(String::new()));
                            plan.payload
                                .push(FieldPlan::Field(Some(name.to_string()), slot));
                        }
                    }
                    [root] if root != &"Event" && root != &"EventData" => {
                        plan.user_data = Some(root.to_string());
                    }
                    _ => {}
                }
                stack.pop()?;
            }
        }
    }
    if !stack.is_empty() {
        return None;
    }
    Some(plan)
}

/// Text followed by a substitution (or two of either) in one element: rare; rendering handles it.
pub(crate) fn merge(current: Option<Slot>, next: Slot) -> Option<Slot> {
    match current {
        None => Some(next),
        Some(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Values
