//! Fills a signature's summary and remediation templates with what the finding established: the
//! update and its package, the processes that held files, and each service with the start type it
//! must go back to, as `Set-Service` and `sc.exe` spell it. A command whose values are unknown is
//! left out rather than printed with a hole in it.

use super::finding::{Finding, Step};
use super::signature::Signature;
use crate::knowledge::{self, StartType};
use std::collections::HashMap;

type Vars = HashMap<&'static str, String>;

fn finding_vars(f: &Finding) -> Vars {
    let mut v = Vars::new();
    v.insert("computer", f.computer.clone());
    v.insert(
        "first_seen",
        f.first_seen.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    v.insert(
        "last_seen",
        f.last_seen.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    let mut put = |k: &'static str, val: Option<String>| {
        if let Some(val) = val.filter(|s| !s.is_empty()) {
            v.insert(k, val);
        }
    };
    put("update", f.update.title.clone());
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
    put("hresult", f.error.hresult.clone());
    put(
        "wu_hresult",
        f.error
            .hresult
            .clone()
            .filter(|_| f.error.hresult_source == Some("windows_update")),
    );
    put("msi_error", f.error.msi.map(|c| c.to_string()));
    put("meaning", f.error.meaning.map(str::to_string));
    put("installer_message", f.error.installer_message.clone());
    put("log_file", f.error.log_file.clone());
    put(
        "update_or_product",
        f.update.title.clone().or_else(|| f.update.product.clone()),
    );
    if let Some(by) = f.services.iter().find_map(|s| s.disabled_by.clone()) {
        v.insert("disabled_by", by);
    }
    v.insert(
        "attempts",
        f.evidence
            .iter()
            .filter(|e| e.role == super::signature::Role::Anchor)
            .count()
            .to_string(),
    );
    v.insert("services_count", f.services.len().to_string());
    v.insert(
        "services_still_disabled_count",
        f.services
            .iter()
            .filter(|s| s.still_disabled)
            .count()
            .to_string(),
    );
    v.insert(
        "services_list",
        f.services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    if !f.locked_files.is_empty() {
        v.insert(
            "processes_list",
            f.locked_files
                .iter()
                .map(|l| match (&l.process, l.pid) {
                    (Some(p), Some(pid)) => format!("{p} (PID {pid})"),
                    (Some(p), None) => p.clone(),
                    (None, Some(pid)) => format!("PID {pid}"),
                    (None, None) => "an unnamed process".into(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
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
                    v.insert("path", p.clone());
                }
                if let Some(p) = &lf.process {
                    v.insert("process", p.clone());
                }
                if let Some(p) = lf.pid {
                    v.insert("pid", p.to_string());
                }
                if let Some(i) = &lf.image {
                    v.insert("image", i.clone());
                }
                v
            })
            .collect(),
    );
    let service_vars = |s: &super::finding::ServiceInfo| {
        let mut v = Vars::new();
        v.insert("name", s.name.clone());
        v.insert(
            "display_name",
            s.display_name.clone().unwrap_or_else(|| s.name.clone()),
        );
        v.insert("original_start", s.original_start.clone());
        if let Some(st) = StartType::parse_name(&s.original_start) {
            v.insert("original_start_display", st.display().to_string());
            v.insert("sc_start", st.as_str().to_string());
            if let Some(ps) = st.powershell() {
                v.insert("ps_start", ps.to_string());
            }
        }
        v
    };
    l.insert("services", f.services.iter().map(service_vars).collect());
    l.insert(
        "services_to_restore",
        f.services
            .iter()
            .filter(|s| s.still_disabled)
            .map(service_vars)
            .collect(),
    );
    let mut to_start: Vec<&super::finding::ServiceInfo> = f
        .services
        .iter()
        .filter(|s| s.still_disabled && s.original_start == "auto")
        .collect();
    to_start.sort_by_key(|s| knowledge::start_order(&s.name));
    l.insert(
        "services_to_start",
        to_start.into_iter().map(service_vars).collect(),
    );
    l
}

/// Replace `{name}` with its value; `None` when a named value is unknown.
fn fill(template: &str, vars: &Vars, outer: &Vars) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && close > 0 =>
            {
                let name = &after[..close];
                out.push_str(vars.get(name).or_else(|| outer.get(name))?);
                rest = &after[close + 1..];
            }
            // Not a placeholder (PowerShell script blocks): keep the brace.
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Fill the text, leaving unknown values visible as such rather than dropping the sentence.
fn fill_text(template: &str, vars: &Vars) -> String {
    fill(template, vars, &Vars::new()).unwrap_or_else(|| {
        let mut with_unknowns = vars.clone();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            if let Some(close) = after.find('}') {
                let name = &after[..close];
                if let Some(known) = NAMES.iter().find(|n| **n == name)
                    && !with_unknowns.contains_key(known)
                {
                    with_unknowns.insert(known, "(not in the logs)".into());
                }
                rest = &after[close + 1..];
            } else {
                break;
            }
        }
        fill(template, &with_unknowns, &Vars::new()).unwrap_or_else(|| template.to_string())
    })
}

const NAMES: &[&str] = &[
    "computer",
    "first_seen",
    "last_seen",
    "update",
    "kb",
    "kb_number",
    "product",
    "package",
    "package_name",
    "hresult",
    "msi_error",
    "meaning",
    "installer_message",
    "log_file",
    "update_or_product",
    "services_count",
    "services_still_disabled_count",
    "services_list",
    "processes_list",
    "disabled_by",
];

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
            other => lists.get(other).is_some_and(|l| !l.is_empty()) || vars.contains_key(other),
        }
    };
    let mut summary = fill_text(&sig.def.summary, &vars);
    for more in &sig.def.summary_more {
        if let Some(sentence) = fill(more, &vars, &Vars::new()) {
            summary.push(' ');
            summary.push_str(&sentence);
        }
    }
    let mut steps = Vec::new();
    for step in &sig.def.remediation {
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
        let vars = &vars;
        let render_cmds = |templates: &[String]| -> Vec<String> {
            items
                .iter()
                .flat_map(|item| templates.iter().filter_map(move |t| fill(t, item, vars)))
                .collect()
        };
        steps.push(Step {
            id: step.id.clone(),
            title: fill_text(&step.title, vars),
            text: fill_text(&step.text, vars),
            powershell: render_cmds(&step.powershell),
            cmd: render_cmds(&step.cmd),
        });
    }
    (summary, steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknowns_drop_the_line() {
        let mut v = Vars::new();
        v.insert("name", "MSExchangeIS".into());
        v.insert("ps_start", "Automatic".into());
        assert_eq!(
            fill(
                "Set-Service -Name {name} -StartupType {ps_start}",
                &v,
                &Vars::new()
            )
            .as_deref(),
            Some("Set-Service -Name MSExchangeIS -StartupType Automatic")
        );
        assert_eq!(
            fill("sc.exe config {name} start= {sc_start}", &v, &Vars::new()),
            None
        );
        // Script blocks are not placeholders.
        assert_eq!(
            fill(
                "Where-Object { $_.Name -like 'MSExchange*' }",
                &v,
                &Vars::new()
            )
            .as_deref(),
            Some("Where-Object { $_.Name -like 'MSExchange*' }")
        );
        assert_eq!(
            fill_text("Update {update} failed", &v),
            "Update (not in the logs) failed"
        );
    }
}
