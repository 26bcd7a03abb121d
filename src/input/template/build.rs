//! Building an [`Event`] from a plan and a record's values.

use super::*;

pub(crate) fn fields_from(
    plan: &Plan,
    values: &[RawValue],
    chunk: &[u8],
    plans: &mut Plans,
    payload: &mut Payload,
    depth: usize,
) -> Option<()> {
    if depth > 4 {
        return None;
    }
    if let Some(u) = &plan.user_data {
        payload.user_data = Some(u.clone());
    }
    payload.fields.reserve(plan.payload.len());
    for f in &plan.payload {
        match f {
            FieldPlan::Field(name, slot) => match slot {
                Slot::Subst(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
                    // A null value leaves the element out, as rendering does.
                    Text::One(None) => {}
                    Text::One(Some(s)) => payload.fields.push(Field {
                        name: name.clone(),
                        value: normalize_null(s),
                    }),
                    // An empty list still renders as one empty element.
                    Text::Many(items) if items.is_empty() => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(String::new()),
                    }),
                    Text::Many(items) => {
                        for s in items {
                            payload.fields.push(Field {
                                name: name.clone(),
                                value: normalize_null(s),
                            });
                        }
                    }
                    Text::Time(t) => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(time_text(t)),
                    }),
                    Text::Bytes(b) => payload.fields.push(Field {
                        name: name.clone(),
                        value: Some(crate::values::to_hex_upper(&b)),
                    }),
                    Text::Nested(..) => return None,
                },
                other => payload.fields.push(Field {
                    name: name.clone(),
                    value: normalize_null(slot_text(other, chunk, values)?.unwrap_or_default()),
                }),
            },
            FieldPlan::Binary(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
                Text::Bytes(b) => payload.binary = Some(b),
                Text::One(None) => {}
                _ => return None,
            },
            FieldPlan::Nested(i) => match decode(chunk, *values.get(usize::from(*i))?)? {
                Text::Nested(v) => {
                    let mut inner = Vec::new();
                    let def = parse_instance(chunk, v.at, v.at + v.size, &mut inner)?;
                    let plan = plans.at(chunk, def)?;
                    fields_from(&plan, &inner, chunk, plans, payload, depth + 1)?;
                }
                Text::One(None) => {}
                _ => return None,
            },
        }
    }
    Some(())
}

pub(crate) fn normalize_null(s: String) -> Option<String> {
    (s != "(NULL)").then_some(s)
}

/// The record's provider name, shared; `None` when it has none. An empty attribute is not
/// rendered, so an empty provider name is no provider at all.
pub(crate) fn provider_of(
    plan: &Plan,
    chunk: &[u8],
    values: &[RawValue],
    strings: &mut SharedStrings,
    interner: &mut Interner,
) -> Option<Arc<str>> {
    slot_shared(
        Shared::Provider,
        &plan.provider,
        chunk,
        values,
        strings,
        interner,
    )?
    .filter(|p| !p.is_empty())
}

pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    plan: &Plan,
    raw_id: u64,
    chunk: &[u8],
    header_record_id: u64,
    source: SourceId,
    provider: Arc<str>,
    strings: &mut SharedStrings,
    values: &[RawValue],
    interner: &mut Interner,
) -> Option<Event> {
    let time = match &plan.time {
        Slot::Subst(i) => match values.get(usize::from(*i))? {
            v if v.ty == value_type::FILETIME => filetime(v.le(chunk, 8)?)?,
            _ => return None,
        },
        Slot::Literal(s) => crate::values::parse_system_time(s)?,
        Slot::Absent => return None,
    };
    let record_id = match &plan.record_id {
        Slot::Absent => header_record_id,
        slot => {
            slot_text(slot, chunk, values)?;
            slot_number(slot, chunk, values).unwrap_or(header_record_id)
        }
    };
    let computer = slot_shared(
        Shared::Computer,
        &plan.computer,
        chunk,
        values,
        strings,
        interner,
    )?;
    let channel = slot_shared(
        Shared::Channel,
        &plan.channel,
        chunk,
        values,
        strings,
        interner,
    )?;
    Some(Event {
        source,
        record_id,
        header_record_id: (record_id != header_record_id).then_some(header_record_id),
        time,
        computer: computer.unwrap_or_else(|| interner.get("")),
        channel: channel.unwrap_or_else(|| interner.get("")),
        provider,
        event_id: (raw_id & 0xffff) as u16,
        qualifiers: slot_number(&plan.qualifiers, chunk, values)
            .and_then(|q| u16::try_from(q).ok())
            .or_else(|| u16::try_from(raw_id >> 16).ok().filter(|q| *q != 0)),
        level: slot_number(&plan.level, chunk, values).and_then(|l| u8::try_from(l).ok()),
        user_sid: slot_text(&plan.sid, chunk, values)?.filter(|s| !s.is_empty()),
        process_id: slot_number(&plan.pid, chunk, values).and_then(|p| u32::try_from(p).ok()),
        payload: Payload::default(),
        from_text_log: false,
    })
}
