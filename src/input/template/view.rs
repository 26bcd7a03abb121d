//! The on-demand view of a record: what the sink is asked before anything is built (provider, ID,
//! payload read lazily), the verdicts remembered per chunk, and the fallback to rendering.

use super::*;

/// What the fast path made of a record.
pub enum Outcome {
    /// An event, built without rendering.
    Event(Box<Event>),
    /// Its event ID is one no signature wants: nothing to build.
    Unwanted,
    /// Laid out in a way the fast path does not read: render it.
    Render,
}

/// [`event_from_binxml`] for a record the evtx crate has walked to.
pub fn event_from_template(
    record: &EvtxRecord,
    source: SourceId,
    cache: &mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
) -> Outcome {
    let start = record.binxml_offset as usize;
    event_from_binxml(
        record.chunk.data,
        start..start + record.binxml_size as usize,
        record.event_record_id,
        source,
        cache,
        interner,
        wants,
    )
}

/// Build the event of the record whose BinXml is `chunk[binxml]` from its template values,
/// skipping it when `wants` refuses its event ID. `header_record_id` is the record header's number.
pub fn event_from_binxml(
    chunk: &[u8],
    binxml: std::ops::Range<usize>,
    header_record_id: u64,
    source: SourceId,
    cache: &mut PlanCache,
    interner: &mut Interner,
    wants: impl Fn(u16) -> bool,
) -> Outcome {
    let (plan, raw_id) = match prepare(chunk, binxml, cache, wants, |_| true) {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let PlanCache {
        plans,
        strings,
        values,
        ..
    } = cache;
    let Some(provider) = provider_of(&plan, chunk, values, strings, interner) else {
        return Outcome::Render;
    };
    let Some(mut event) = build(
        &plan,
        raw_id,
        chunk,
        header_record_id,
        source,
        provider,
        strings,
        values,
        interner,
    ) else {
        return Outcome::Render;
    };
    match fields_from(&plan, values, chunk, plans, &mut event.payload, 0) {
        Some(()) => Outcome::Event(Box::new(event)),
        None => Outcome::Render,
    }
}

/// What the fast path made of a record, its payload left in the chunk to be read on demand.
pub enum Viewed<'a> {
    /// The event (without payload) and its payload, decoded field by field when read.
    Event(Box<Event>, PayloadView<'a>),
    /// The event with its payload built: its layout (a nested template) is not read on demand.
    Built(Box<Event>),
    /// Its event ID, or its provider, ID and payload together, are refused: nothing to build.
    Unwanted,
    Render,
}

impl From<Outcome> for Viewed<'_> {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Event(e) => Viewed::Built(e),
            Outcome::Unwanted => Viewed::Unwanted,
            Outcome::Render => Viewed::Render,
        }
    }
}

/// [`event_from_binxml`] without building the payload: signatures decode the fields they test.
/// `wants_provider` is asked of a template that names its provider, before any value is read;
/// `wants_payload` is asked whether the event can be kept at all, given its provider, ID and
/// payload. Both answers are remembered for the rest of the chunk, so each must depend on what
/// it is given alone.
#[allow(clippy::too_many_arguments)]
pub fn event_view<'a>(
    chunk: &'a [u8],
    binxml: std::ops::Range<usize>,
    header_record_id: u64,
    source: SourceId,
    cache: &'a mut PlanCache,
    interner: &mut Interner,
    wants_provider: impl Fn(&str) -> bool,
    wants: impl Fn(u16) -> bool,
    wants_payload: impl FnOnce(&str, u16, &dyn PayloadSource) -> bool,
) -> Viewed<'a> {
    let (plan, raw_id) = match prepare(chunk, binxml.clone(), cache, &wants, wants_provider) {
        Ok(p) => p,
        Err(Outcome::Unwanted) => return Viewed::Unwanted,
        Err(_) => return Viewed::Render,
    };
    let outer = cache.values.len();
    let on_demand = laid_out(&plan, chunk, cache);
    let provider = {
        let PlanCache {
            strings, values, ..
        } = &mut *cache;
        match provider_of(&plan, chunk, &values[..outer], strings, interner) {
            Some(p) => p,
            None => return Viewed::Render,
        }
    };
    let event_id = (raw_id & 0xffff) as u16;
    let known = on_demand
        .then(|| {
            verdict_key(
                &mut cache.key,
                &provider,
                event_id,
                chunk,
                &cache.values,
                &cache.segments,
            );
            cache.verdicts.get(cache.key.as_slice()).copied()
        })
        .flatten();
    // Equal keys mean equal bytes: a payload seen before was decodable then and is now.
    if !on_demand || (known.is_none() && !decodable(chunk, &cache.values, &cache.segments)) {
        return event_from_binxml(
            chunk,
            binxml,
            header_record_id,
            source,
            cache,
            interner,
            wants,
        )
        .into();
    }
    let PlanCache {
        strings,
        values,
        segments,
        verdicts,
        key,
        ..
    } = cache;
    let view = PayloadView {
        chunk,
        values,
        segments,
    };
    let wanted = known.unwrap_or_else(|| {
        let wanted = wants_payload(&provider, event_id, &view);
        verdicts.insert(key.as_slice().into(), wanted);
        wanted
    });
    if !wanted {
        return Viewed::Unwanted;
    }
    match build(
        &plan,
        raw_id,
        chunk,
        header_record_id,
        source,
        provider,
        strings,
        &values[..outer],
        interner,
    ) {
        Some(event) => Viewed::Event(Box::new(event), view),
        None => Viewed::Render,
    }
}

/// The identity of a record's payload within its chunk, for remembering what the sink answered:
/// the provider and event ID, then per payload template instance its plan (one per definition
/// in the chunk) and every value's type, size and bytes.
pub(crate) fn verdict_key(
    key: &mut Vec<u8>,
    provider: &str,
    event_id: u16,
    chunk: &[u8],
    values: &[RawValue],
    segments: &[Segment],
) {
    key.clear();
    key.extend_from_slice(&(provider.len() as u32).to_le_bytes());
    key.extend_from_slice(provider.as_bytes());
    key.extend_from_slice(&event_id.to_le_bytes());
    for s in segments {
        key.extend_from_slice(&(Arc::as_ptr(&s.plan) as usize).to_le_bytes());
        key.extend_from_slice(&(s.len as u32).to_le_bytes());
        for v in &values[s.base..s.base + s.len] {
            let bytes = v.bytes(chunk);
            key.push(v.ty);
            key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            key.extend_from_slice(bytes);
        }
    }
}

/// Lay out the record's payload for reading on demand: the outer template's own fields, or
/// nested payload templates (Windows' layout: `<EventData>` or `<UserData>` as one substitution)
/// whose fields are all direct. False for anything else, which is built instead.
pub(crate) fn laid_out(plan: &Arc<Plan>, chunk: &[u8], cache: &mut PlanCache) -> bool {
    let PlanCache {
        plans,
        values,
        segments,
        ..
    } = cache;
    segments.clear();
    let outer = values.len();
    let flat = |p: &Plan| !p.payload.iter().any(|f| matches!(f, FieldPlan::Nested(_)));
    if flat(plan) {
        segments.push(Segment {
            plan: plan.clone(),
            base: 0,
            len: outer,
        });
    } else {
        for f in &plan.payload {
            let FieldPlan::Nested(i) = f else {
                return false;
            };
            let Some(v) = values[..outer].get(usize::from(*i)).copied() else {
                return false;
            };
            match v.ty {
                value_type::NULL => continue,
                value_type::BINXML => {}
                _ => return false,
            }
            let base = values.len();
            let Some(def) = append_instance(chunk, v.at, v.at + v.size, values) else {
                return false;
            };
            let Some(inner) = plans.at(chunk, def) else {
                return false;
            };
            if !flat(&inner) {
                return false;
            }
            segments.push(Segment {
                plan: inner,
                base,
                len: values.len() - base,
            });
        }
    }
    true
}

/// Locate the record's values and its plan, and read its event ID.
pub(crate) fn prepare(
    chunk: &[u8],
    binxml: std::ops::Range<usize>,
    cache: &mut PlanCache,
    wants: impl Fn(u16) -> bool,
    wants_provider: impl Fn(&str) -> bool,
) -> Result<(Arc<Plan>, u64), Outcome> {
    let PlanCache { plans, values, .. } = cache;
    let (def, count) = instance_head(chunk, binxml.start, binxml.end).ok_or(Outcome::Render)?;
    // The provider first: a template that names one no signature reads (most of a busy log's
    // templates) refuses its records before a value is located. Their layout is still checked,
    // so that damage goes to rendering as before.
    let Ok(plan) = plans.unless_refused(chunk, def, wants_provider) else {
        return Err(if instance_holds(chunk, count, binxml.end) {
            Outcome::Unwanted
        } else {
            Outcome::Render
        });
    };
    locate_values(chunk, count, binxml.end, values).ok_or(Outcome::Render)?;
    let Some(plan) = plan else {
        // A template the fast path cannot plan may still be Windows' System template, whose
        // event ID sits in slot 3 (next to the FILETIME in 6 and the record ID in 10): an
        // unwanted ID needs no rendering either.
        return Err(match (values.get(3), values.get(6), values.get(10)) {
            (Some(id), Some(t), Some(r))
                if id.ty == value_type::UINT16
                    && t.ty == value_type::FILETIME
                    && r.ty == value_type::UINT64 =>
            {
                match unsigned(chunk, *id) {
                    Some(id) if !wants(id as u16) => Outcome::Unwanted,
                    _ => Outcome::Render,
                }
            }
            _ => Outcome::Render,
        });
    };
    let raw_id = slot_number(&plan.event_id, chunk, values).ok_or(Outcome::Render)?;
    if !wants((raw_id & 0xffff) as u16) {
        return Err(Outcome::Unwanted);
    }
    Ok((plan, raw_id))
}

/// Whether every payload template instance laid out by [`laid_out`] can be read on demand.
pub(crate) fn decodable(chunk: &[u8], values: &[RawValue], segments: &[Segment]) -> bool {
    segments
        .iter()
        .all(|s| on_demand(&s.plan, chunk, &values[s.base..s.base + s.len]))
}

/// Whether the record's payload can be read field by field: no nested template, and every value
/// it renders decodable (checked without decoding strings), so that reading a field on demand
/// gives what building the payload would have.
pub(crate) fn on_demand(plan: &Plan, chunk: &[u8], values: &[RawValue]) -> bool {
    plan.payload.iter().all(|f| match f {
        FieldPlan::Nested(_) => false,
        FieldPlan::Binary(i) => values
            .get(usize::from(*i))
            .is_some_and(|v| matches!(v.ty, value_type::NULL | value_type::BINARY)),
        FieldPlan::Field(_, Slot::Subst(i)) => values.get(usize::from(*i)).is_some_and(|v| {
            match v.ty {
                // Odd-length text is left to rendering, which decides what its last byte shows.
                value_type::STRING | value_type::STRING_ARRAY => utf16_valid(v.bytes(chunk)),
                value_type::BINXML => false,
                _ => decodes(chunk, *v),
            }
        }),
        FieldPlan::Field(..) => true,
    })
}

/// A record's payload on the fast path, read from the chunk one field at a time; it reads
/// exactly what [`fields_from`] would have built (a test compares both on every record).
pub struct PayloadView<'a> {
    pub(crate) chunk: &'a [u8],
    pub(crate) values: &'a [RawValue],
    pub(crate) segments: &'a [Segment],
}

impl PayloadView<'_> {
    /// Every `<Data>` / leaf slot and `<Binary>` slot, in document order, each with the values of
    /// its template instance.
    pub(crate) fn items(&self) -> impl Iterator<Item = (&FieldPlan, &[RawValue])> {
        self.segments.iter().flat_map(|s| {
            let values = &self.values[s.base..s.base + s.len];
            s.plan.payload.iter().map(move |f| (f, values))
        })
    }

    /// How many fields a payload slot renders as: none for a null value, one per item of a list
    /// (an empty list still renders one empty element), one otherwise.
    pub(crate) fn count(&self, slot: &Slot, values: &[RawValue]) -> usize {
        match slot {
            Slot::Subst(i) => match values.get(usize::from(*i)) {
                Some(v) if v.ty == value_type::NULL => 0,
                Some(v) if v.ty == value_type::STRING_ARRAY => {
                    array_items(v.bytes(self.chunk)).map_or(0, |items| items.count().max(1))
                }
                Some(_) => 1,
                None => 0,
            },
            _ => 1,
        }
    }

    /// The `k`-th field a payload slot renders as.
    pub(crate) fn text(&self, slot: &Slot, values: &[RawValue], k: usize) -> Option<String> {
        match slot {
            // One item of a list, decoded alone (as `decode` would have decoded it in the list).
            Slot::Subst(i)
                if values
                    .get(usize::from(*i))
                    .is_some_and(|v| v.ty == value_type::STRING_ARRAY) =>
            {
                let mut items = array_items(values[usize::from(*i)].bytes(self.chunk))?.peekable();
                if items.peek().is_none() {
                    return Some(String::new());
                }
                let item = items.nth(k)?;
                normalize_null(as_rendered(decode_utf16le(item)?))
            }
            Slot::Subst(i) => match decode(self.chunk, *values.get(usize::from(*i))?)? {
                Text::One(s) => normalize_null(s?),
                Text::Many(items) if items.is_empty() => Some(String::new()),
                Text::Many(mut items) if k < items.len() => normalize_null(items.swap_remove(k)),
                Text::Time(t) => Some(time_text(t)),
                Text::Bytes(b) => Some(crate::values::to_hex_upper(&b)),
                _ => None,
            },
            other => normalize_null(slot_text(other, self.chunk, values)?.unwrap_or_default()),
        }
    }
}

impl PayloadSource for PayloadView<'_> {
    fn positional(&self, index: usize) -> Option<Cow<'_, str>> {
        let mut at = 0;
        for (f, values) in self.items() {
            if let FieldPlan::Field(_, slot) = f {
                let n = self.count(slot, values);
                if index < at + n {
                    return self.text(slot, values, index - at).map(Cow::Owned);
                }
                at += n;
            }
        }
        None
    }

    fn named(&self, name: &str) -> Option<Cow<'_, str>> {
        self.items().find_map(|(f, values)| match f {
            FieldPlan::Field(Some(n), slot) if n == name && self.count(slot, values) > 0 => {
                Some(self.text(slot, values, 0).map(Cow::Owned))
            }
            _ => None,
        })?
    }

    fn binary(&self) -> Option<Cow<'_, [u8]>> {
        self.items()
            .filter_map(|(f, values)| match f {
                FieldPlan::Binary(i) => values.get(usize::from(*i)),
                _ => None,
            })
            .filter(|v| v.ty == value_type::BINARY)
            .last()
            .map(|v| Cow::Borrowed(v.bytes(self.chunk)))
    }
}
