//! Fills a signature's summary and remediation templates with what the finding established: the
//! update and its package, the processes that held files, and each service with the start type it
//! must go back to. Sentences take any value as text (the report escapes it for display);
//! commands take values only through [`command::render`], by the kind the vocabulary gives each
//! placeholder. A command whose values are unknown is left out rather than printed with a hole in
//! it; one whose value fails its kind's check is left out with a sentence that says why.

use super::command::{self, Shell, Value};
use super::finding::{Finding, ServiceInfo, Step};
use super::signature::Signature;
use super::vocabulary::{self, Piece};
use crate::knowledge::{self, StartType};
use std::collections::HashMap;

type Vars = HashMap<&'static str, Value>;

fn known(s: impl Into<String>) -> Value {
    Value::Known(s.into())
}

fn finding_vars(f: &Finding) -> Vars {
    let mut v = Vars::new();
    v.insert("computer", known(f.computer.clone()));
    // For people, and for commands (`Get-Date` parses ISO 8601 with a Z as UTC).
    for (name, time, format) in [
        ("first_seen", f.first_seen, "%Y-%m-%d %H:%M:%S UTC"),
        ("last_seen", f.last_seen, "%Y-%m-%d %H:%M:%S UTC"),
        ("first_seen_iso", f.first_seen, "%Y-%m-%dT%H:%M:%SZ"),
        ("last_seen_iso", f.last_seen, "%Y-%m-%dT%H:%M:%SZ"),
    ] {
        v.insert(name, known(time.format(format).to_string()));
    }
    let mut put = |k: &'static str, val: Option<String>| {
        if let Some(val) = val.filter(|s| !s.is_empty()) {
            v.insert(k, known(val));
        }
    };
    put("update", f.update.title.clone());
    put("windows", f.windows.as_ref().map(|w| w.name.clone()));
    put(
        "pending_update",
        f.superseded_by.as_ref().map(|p| {
            format!(
                "{} replaces {}: it started installing on {} UTC and has not finished{}. Restart the computer to let the installation finish, then check Windows Update again; {} itself need not be installed.",
                p.update,
                f.update.title.as_deref().unwrap_or("the failed update"),
                crate::escape::time(p.started),
                if p.restarted_since {
                    ""
                } else {
                    ", and the computer has not restarted since"
                },
                f.update.kb.as_deref().unwrap_or("the failed update")
            )
        }),
    );
    put(
        "waiting_days",
        f.waiting_for_restart
            .as_ref()
            .filter(|w| w.days >= 1)
            .map(|w| w.days.to_string()),
    );
    put("kb", f.update.kb.clone());
    put(
        "kb_number",
        f.update
            .kb
            .as_ref()
            .map(|k| k.trim_start_matches("KB").to_string()),
    );
    put("product", f.update.product.clone());
    put("package", f.update.package.clone());
    put(
        "package_name",
        f.update
            .package
            .as_deref()
            .filter(|p| {
                p.to_ascii_lowercase().ends_with(".msp") || p.to_ascii_lowercase().ends_with(".msi")
            })
            .map(|p| p.rsplit(['\\', '/']).next().unwrap_or(p).to_string()),
    );
    put(
        "app_package",
        f.update
            .title
            .as_deref()
            .and_then(knowledge::app_package)
            .map(str::to_string),
    );
    put("unchecked", Some(f.unchecked.join("; ")));
    put(
        "exchange_version",
        exchange_version(f).map(|v| v.to_string()),
    );
    put("hresult", f.error.hresult.clone());
    put(
        "wu_hresult",
        f.error
            .hresult
            .clone()
            .filter(|_| f.error.hresult_source.as_deref() == Some("windows_update")),
    );
    put("msi_error", f.error.msi.map(|c| c.to_string()));
    put("meaning", f.error.meaning.as_deref().map(str::to_string));
    put("installer_message", f.error.installer_message.clone());
    put("log_file", f.error.log_file.clone());
    put(
        "update_or_product",
        f.update.title.clone().or_else(|| f.update.product.clone()),
    );
    put(
        "disabled_by",
        f.services.iter().find_map(|s| s.disabled_by.clone()),
    );
    // Attempts as the event logs count them: a text log's lines about the same failure are not
    // attempts of their own.
    v.insert(
        "attempts",
        known(
            f.evidence
                .iter()
                .filter(|e| {
                    e.role == super::signature::Role::Anchor
                        && !e.provider.starts_with(crate::event::TEXT_PROVIDER_PREFIX)
                })
                .count()
                .to_string(),
        ),
    );
    if let Some(log) = &f.error.installer_log {
        v.insert("installer_log", known(log.file.clone()));
        if let Some(a) = &log.failed_action {
            v.insert("failed_action", known(a.clone()));
        }
    }
    if let Some(saved) = &f.saved_start_modes
        && saved.stale
    {
        v.insert("saved_state_problem", known(saved.note.clone()));
    }
    let from = |what: &str| {
        f.services
            .iter()
            .filter(|s| s.original_start_from == what)
            .count()
    };
    let sources: Vec<String> = [
        ("event_log", "the System log's 7040 records"),
        ("saved_state", "the start modes setup saved before it disabled them"),
        ("defaults", "evtriage's table of the Exchange version's default start types, not read from these logs"),
    ]
    .into_iter()
    .filter(|(k, _)| from(k) > 0)
    .map(|(k, words)| format!("{} from {words}", from(k)))
    .collect();
    if !sources.is_empty() && from("event_log") < f.services.len() {
        v.insert("start_types_source", known(sources.join("; ")));
    }
    // MsiInstaller 1035 reports a reconfiguration of an installed product, not an install.
    let anchors = || {
        f.evidence
            .iter()
            .filter(|e| e.role == super::signature::Role::Anchor)
    };
    // A reconfiguration is said as such when Windows Installer's status records say so (1035)
    // and none says install (1033): its 11708 "Installation failed" beside it is the same act.
    let reconfigured =
        anchors().any(|e| e.event_id == 1035) && !anchors().any(|e| e.event_id == 1033);
    v.insert(
        "operation",
        known(if reconfigured {
            "reconfigure"
        } else {
            "install"
        }),
    );
    v.insert("services_count", known(f.services.len().to_string()));
    v.insert(
        "services_still_disabled_count",
        known(
            f.services
                .iter()
                .filter(|s| s.still_disabled)
                .count()
                .to_string(),
        ),
    );
    v.insert(
        "services_list",
        known(
            f.services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
    );
    if !f.locked_files.is_empty() {
        v.insert(
            "processes_list",
            known({
                // A process that held several files is named once.
                let mut named: Vec<String> = Vec::new();
                for l in &f.locked_files {
                    let name = match (&l.process, l.pid) {
                        (Some(p), Some(pid)) => format!("{p} (PID {pid})"),
                        (Some(p), None) => p.clone(),
                        (None, Some(pid)) => format!("PID {pid}"),
                        (None, None) => "an unnamed process".into(),
                    };
                    if !named.contains(&name) {
                        named.push(name);
                    }
                }
                named.join(", ")
            }),
        );
    }
    v
}

fn service_vars(s: &ServiceInfo) -> Vars {
    let mut v = Vars::new();
    let name = if s.name_is_key {
        known(s.name.clone())
    } else {
        Value::DisplayNameOnly(s.name.clone())
    };
    v.insert("name", name.clone());
    v.insert("service", name);
    v.insert(
        "display_name",
        known(s.display_name.clone().unwrap_or_else(|| s.name.clone())),
    );
    v.insert("original_start", known(s.original_start.clone()));
    if let Some(st) = StartType::parse_name(&s.original_start) {
        v.insert("original_start_display", known(st.display()));
        v.insert("sc_start", known(st.as_str()));
        if let Some(ps) = st.powershell() {
            v.insert("ps_start", known(ps));
        }
    }
    v
}

/// The Exchange version the finding's update or product names.
fn exchange_version(f: &Finding) -> Option<u16> {
    [&f.update.title, &f.update.product]
        .into_iter()
        .flatten()
        .find_map(|t| crate::services::exchange_version(t))
}

/// A service of `data/services/exchange.tsv` with its default start type as the one to restore.
fn default_service_vars(s: &crate::services::ExchangeService) -> Vars {
    let mut v = Vars::new();
    v.insert("name", known(s.key));
    v.insert("service", known(s.key));
    v.insert("display_name", known(s.display));
    v.insert("original_start", known(s.start.as_str()));
    v.insert("original_start_display", known(s.start.display()));
    v.insert("sc_start", known(s.start.as_str()));
    if let Some(ps) = s.start.powershell() {
        v.insert("ps_start", known(ps));
    }
    v
}

/// The lists a step can name in `when` and `foreach`, each item with its own variables.
fn lists(f: &Finding) -> HashMap<&'static str, Vec<Vars>> {
    let mut l: HashMap<&'static str, Vec<Vars>> = HashMap::new();
    l.insert(
        "locked_files",
        f.locked_files
            .iter()
            .map(|lf| {
                let mut v = Vars::new();
                if let Some(p) = &lf.path {
                    v.insert("path", known(p.clone()));
                }
                if let Some(p) = &lf.process {
                    v.insert("process", known(p.clone()));
                }
                if let Some(p) = lf.pid {
                    v.insert("pid", known(p.to_string()));
                }
                if let Some(i) = &lf.image {
                    v.insert("image", known(i.clone()));
                }
                v
            })
            .collect(),
    );
    l.insert(
        "apps_to_close",
        f.apps_to_close
            .iter()
            .map(|full| {
                // A name not of a package's shape is left for the command's check to withhold
                // with a sentence, not dropped.
                let mut v = Vars::new();
                v.insert(
                    "app",
                    known(knowledge::package_name(full).unwrap_or(full.as_str())),
                );
                v.insert("app_full_name", known(full.clone()));
                v
            })
            .collect(),
    );
    l.insert("services", f.services.iter().map(service_vars).collect());
    l.insert(
        "services_to_restore",
        f.services
            .iter()
            .filter(|s| s.still_disabled)
            .map(service_vars)
            .collect(),
    );
    let mut to_start: Vec<&ServiceInfo> = f
        .services
        .iter()
        .filter(|s| s.still_disabled && s.original_start == "auto")
        .collect();
    to_start.sort_by_key(|s| knowledge::start_order(&s.name));
    l.insert(
        "services_to_start",
        to_start.into_iter().map(service_vars).collect(),
    );
    let mut defaults = exchange_version(f)
        .map(crate::services::defaults)
        .unwrap_or_default();
    // Stable: the table's order within each rank (Active Directory Topology first).
    defaults.sort_by_key(|s| knowledge::start_order(s.key));
    l.insert(
        "default_services_to_start",
        defaults
            .iter()
            .filter(|s| s.start == StartType::Auto)
            .map(|s| default_service_vars(s))
            .collect(),
    );
    l.insert(
        "default_services",
        defaults.into_iter().map(default_service_vars).collect(),
    );
    l
}

fn lookup<'v>(name: &str, vars: &'v Vars, outer: &'v Vars) -> Option<&'v Value> {
    vars.get(name).or_else(|| outer.get(name))
}

/// Replace `{name}` with its value as text; `None` when a named value is unknown.
fn fill(template: &str, vars: &Vars, outer: &Vars) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    for piece in vocabulary::pieces(template) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole(name) => out.push_str(lookup(name, vars, outer)?.text()),
        }
    }
    Some(out)
}

/// Fill a sentence template, saying only what is known: a parenthesis whose value is not in the
/// logs is left out, the update or computer a sentence is about falls back to a plain noun, and a
/// sentence that still names an unknown value is left out whole. Nothing prints a placeholder for
/// a value that is missing.
fn fill_text(template: &str, vars: &Vars) -> String {
    let known = |name: &str| vars.get(name).is_some_and(|v| !v.text().is_empty());
    let mut out: Vec<String> = Vec::new();
    for sentence in sentences(template) {
        let sentence = without_unknown_parentheses(sentence, &known);
        let mut text = String::with_capacity(sentence.len());
        let mut complete = true;
        for piece in vocabulary::pieces(&sentence) {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Hole(name) => match vars.get(name) {
                    Some(v) if known(name) => text.push_str(v.text()),
                    _ => match fallback(name, text.trim().is_empty()) {
                        Some(noun) => text.push_str(noun),
                        None => complete = false,
                    },
                },
            }
        }
        if complete {
            out.push(text);
        }
    }
    out.join(" ")
}

/// The sentences of a template: split after a full stop followed by a space.
fn sentences(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(". ") {
        out.push(&rest[..=at]);
        rest = &rest[at + 2..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The sentence without each `( … )` that names a value not known (and the space before it).
fn without_unknown_parentheses(sentence: &str, known: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(sentence.len());
    let mut rest = sentence;
    while let Some(open) = rest.find('(') {
        let Some(close) = rest[open..].find(')').map(|c| open + c) else {
            break;
        };
        let inner = &rest[open..=close];
        let unknown = vocabulary::pieces(inner)
            .iter()
            .any(|p| matches!(p, Piece::Hole(name) if !known(name)));
        out.push_str(if unknown {
            rest[..open].trim_end()
        } else {
            &rest[..=close]
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// What a sentence says when the update or computer it is about is not in the logs.
fn fallback(name: &str, starts_sentence: bool) -> Option<&'static str> {
    match (name, starts_sentence) {
        ("update_or_product" | "update", true) => Some("An update"),
        ("update_or_product" | "update", false) => Some("the update"),
        ("product", true) => Some("A product"),
        ("product", false) => Some("the product"),
        ("computer", _) => Some("the computer"),
        _ => None,
    }
}

/// One command for one shell: `Ok(None)` when a value it names is not known, `Err` with the
/// sentence to show when a value fails its check.
fn fill_command(
    template: &str,
    shell: Shell,
    vars: &Vars,
    outer: &Vars,
) -> Result<Option<String>, String> {
    let mut out = String::with_capacity(template.len() + 32);
    for piece in vocabulary::pieces(template) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole(name) => {
                let Some(value) = lookup(name, vars, outer) else {
                    return Ok(None);
                };
                // Load-time checks guarantee every placeholder is in the vocabulary.
                let kind = vocabulary::placeholder(name)
                    .map(|p| p.kind)
                    .unwrap_or(command::Kind::Text);
                match command::render(shell, kind, value) {
                    Ok(text) => out.push_str(&text),
                    Err(why) => {
                        return Err(command::withheld(shell, template, kind, value.text(), &why));
                    }
                }
            }
        }
    }
    Ok(Some(out))
}

/// The summary and the steps that apply to `finding`. `done` is whether the signature's
/// `done_when` evidence was all found (the flag `update_installed`).
pub fn render(sig: &Signature, finding: &Finding, done: bool) -> (String, Vec<Step>) {
    let vars = finding_vars(finding);
    let lists = lists(finding);
    let flag = |name: &str| -> bool {
        match name {
            "update_installed" => done && !sig.def.done_when.is_empty(),
            "action_required" => finding.action_required,
            "resolved" => finding.status == super::finding::Status::Resolved,
            "log_missing" => !finding.unchecked.is_empty(),
            "installer_log_read" => finding.error.installer_log.is_some(),
            "saved_state_stale" => finding.saved_start_modes.as_ref().is_some_and(|s| s.stale),
            "windows_10_or_later" => finding
                .windows
                .as_ref()
                .is_some_and(|w| w.windows_10_or_later),
            "windows_before_10" => finding
                .windows
                .as_ref()
                .is_some_and(|w| !w.windows_10_or_later),
            "superseded" => finding.superseded_by.is_some(),
            cause if vocabulary::cause(cause).is_some() => {
                finding.likely_causes.iter().any(|c| c.cause == cause)
            }
            other => lists.get(other).is_some_and(|l| !l.is_empty()) || vars.contains_key(other),
        }
    };
    let template = match &sig.def.missing_log {
        Some(m) if !finding.unchecked.is_empty() => &m.summary,
        _ => &sig.def.summary,
    };
    let mut summary = fill_text(template, &vars);
    for more in &sig.def.summary_more {
        if let Some(sentence) = fill(more, &vars, &Vars::new()) {
            if !summary.is_empty() {
                summary.push(' ');
            }
            summary.push_str(&sentence);
        }
    }
    let mut steps = Vec::new();
    // A resolved failure that needs nothing more gets no steps: it asks for no action.
    let nothing_to_do =
        finding.status == super::finding::Status::Resolved && !finding.action_required;
    for step in sig.def.remediation.iter().filter(|_| !nothing_to_do) {
        if let Some(cond) = &step.when {
            let ok = cond
                .split('&')
                .map(str::trim)
                .all(|c| match c.strip_prefix('!') {
                    Some(neg) => !flag(neg),
                    None => flag(c),
                });
            if !ok {
                continue;
            }
        }
        let items: Vec<Vars> = match &step.foreach {
            Some(list) => lists.get(list.as_str()).cloned().unwrap_or_default(),
            None => vec![Vars::new()],
        };
        let mut withheld: Vec<String> = Vec::new();
        let mut render_cmds = |templates: &[String], shell: Shell| -> Vec<String> {
            let mut out = Vec::new();
            for item in &items {
                for t in templates {
                    match fill_command(t, shell, item, &vars) {
                        Ok(Some(c)) => out.push(c),
                        Ok(None) => {}
                        Err(why) => {
                            if !withheld.contains(&why) {
                                withheld.push(why);
                            }
                        }
                    }
                }
            }
            out
        };
        let powershell = render_cmds(&step.powershell, Shell::PowerShell);
        let cmd = render_cmds(&step.cmd, Shell::Cmd);
        steps.push(Step {
            id: step.id.clone(),
            title: fill_text(&step.title, &vars),
            text: fill_text(&step.text, &vars),
            powershell,
            cmd,
            withheld,
        });
    }
    (summary, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&'static str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (*k, known(*v))).collect()
    }

    #[test]
    fn commands_quote_their_values_and_unknowns_drop_the_line() {
        let v = vars(&[("name", "MSExchangeIS"), ("ps_start", "Automatic")]);
        let ps = |t: &str, v: &Vars| fill_command(t, Shell::PowerShell, v, &Vars::new());
        assert_eq!(
            ps("Set-Service -Name {name} -StartupType {ps_start}", &v),
            Ok(Some(
                "Set-Service -Name 'MSExchangeIS' -StartupType Automatic".into()
            ))
        );
        assert_eq!(
            fill_command(
                "sc.exe config {name} start= {sc_start}",
                Shell::Cmd,
                &v,
                &Vars::new()
            ),
            Ok(None)
        );
        // Script blocks are not placeholders.
        assert_eq!(
            ps("Where-Object { $_.Name -like 'MSExchange*' }", &v),
            Ok(Some("Where-Object { $_.Name -like 'MSExchange*' }".into()))
        );
        let evil = vars(&[("name", "MSExchangeIS;calc"), ("ps_start", "Automatic")]);
        let why = ps("Set-Service -Name {name} -StartupType {ps_start}", &evil).unwrap_err();
        assert!(
            why.contains("Set-Service") && why.contains("MSExchangeIS;calc"),
            "{why}"
        );
        // Nothing prints a placeholder for a value that is missing.
        assert_eq!(fill_text("{update} failed.", &v), "An update failed.");
        assert_eq!(
            fill_text("It failed with 0x80246013 ({meaning}), 1 time(s).", &v),
            "It failed with 0x80246013, 1 time(s)."
        );
        assert_eq!(
            fill_text(
                "Setup failed. Files were in use: {processes_list}. Start {name}.",
                &v
            ),
            "Setup failed. Start MSExchangeIS."
        );
        assert_eq!(
            fill("{name}", &v, &Vars::new()).as_deref(),
            Some("MSExchangeIS")
        );
    }
}
