//! One test per load error: a valid signature changed in one place, and the message it must give.
//! Every message names the file; those about one evidence definition or one step name its line.

use super::Signature;

const VALID: &str = r#"id = "sample"
title = "A sample signature"
severity = "error"
priority = 1
summary = "{update_or_product} failed on {computer}."
requires = [["anchor"]]

[incident]
gap = "30m"

[status]
each = "disabled"
key = "service"
restored_by = "restored"

[patterns]
product_pattern = '(?i)^Microsoft'

[[evidence]]
id = "failed"
role = "anchor"
describe = "the failure"
provider = "MsiInstaller"
event_ids = [1023]
fields = { product = "Data[0]", msi_error = "Data[2]:number" }
where = [{ field = "product", matches = "product_pattern" }]
cluster_key = "product"

[[evidence]]
id = "disabled"
role = "effect"
describe = "a service disabled"
provider = "Service Control Manager"
event_ids = [7040]
fields = { service = "param4|param1", new_start = "param3:start_type" }
where = [{ field = "new_start", equals = "disabled" }]
window = { before = "3h", after = "10m" }

[[evidence]]
id = "restored"
role = "recovery"
describe = "the service restored"
provider = "Service Control Manager"
event_ids = [7040]
fields = { service = "param4|param1" }
window = { after = "end" }
join = [{ field = "service", to = "disabled.service" }]

[[remediation]]
id = "restore"
when = "services_to_restore"
title = "Restore"
text = "Give each service its start type back."
foreach = "services_to_restore"
powershell = ["{service} | Set-Service -StartupType {ps_start}"]
cmd = ["sc.exe config {name} start= {sc_start}"]

[fixtures]
match = ["samples/kb940006-rollup-failed"]
no_match = ["gen:kb-system-scm-only"]
"#;

/// The error `VALID` gives with `from` replaced by `to`.
fn error(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from}");
    let text = VALID.replacen(from, to, 1);
    match Signature::from_toml("sample.toml", &text) {
        Ok(_) => panic!("{from} → {to} loaded"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("signature sample.toml: "), "{message}");
            message
        }
    }
}

fn says(from: &str, to: &str, expected: &str) {
    let message = error(from, to);
    assert!(message.contains(expected), "{from} → {to}: {message}");
}

#[test]
fn the_valid_signature_loads() {
    Signature::from_toml("sample.toml", VALID).unwrap();
}

#[test]
fn toml_and_schema_errors() {
    says("priority = 1", "priority = \"high\"", "invalid type");
    says(
        "severity = \"error\"",
        "severity = \"fatal\"",
        "unknown variant",
    );
    says(
        "gap = \"30m\"",
        "gap = \"30 minutes\"",
        "incident gap '30 minutes'",
    );
    says("gap = \"30m\"", "gap = \"99999999d\"", "at most a century");
    says(
        "gap = \"30m\"",
        "gap = \"30m\"\nsplit_at = \"updat\"",
        "split_at 'updat' is no anchor's field",
    );
    says(
        "title = \"A sample signature\"",
        "title = \"t\"\ncolour = \"red\"",
        "unknown field `colour`",
    );
}

#[test]
fn causes_and_action_errors() {
    says(
        "window = { before = \"3h\", after = \"10m\" }",
        "window = { before = \"3h\", after = \"10m\" }\nlikely_cause = \"component_store_damaged\"",
        "likely_cause is for evidence of role = \"cause\"",
    );
    says(
        "role = \"effect\"",
        "role = \"cause\"\nlikely_cause = \"gremlins\"",
        "likely_cause 'gremlins' is not a cause (causes: component_store_damaged, deployment_service_crashed)",
    );
    says(
        "[incident]",
        "[action]\nwaits_for_restart = \"a week\"\n\n[incident]",
        "waits_for_restart 'a week' is not a duration",
    );
    says(
        "when = \"services_to_restore\"",
        "when = \"services_to_restore & store_damaged\"",
        "'store_damaged' is not a flag",
    );
    // A cause's name is a flag a step may use.
    let ok = VALID.replacen(
        "when = \"services_to_restore\"",
        "when = \"services_to_restore & !component_store_damaged\"",
        1,
    );
    Signature::from_toml("sample.toml", &ok).unwrap();
}

#[test]
fn evidence_errors_name_the_line() {
    let line = VALID.lines().position(|l| l == "id = \"failed\"").unwrap() + 1;
    let m = error("event_ids = [1023]", "event_ids = []");
    assert!(
        m.contains(&format!("line {line}: evidence failed: no event_ids")),
        "{m}"
    );
    says("id = \"restored\"", "id = \"disabled\"", "defined twice");
    says(
        "event_ids = [1023]",
        "event_ids = [\"11729-11101\"]",
        "event ID range '11729-11101' runs backwards",
    );
    says(
        "event_ids = [1023]",
        "event_ids = [\"11101..11729\"]",
        "is not written as \"low-high\"",
    );
    says(
        "msi_error = \"Data[2]:number\"",
        "msi_eror = \"Data[2]:number\"",
        "unknown field name 'msi_eror'",
    );
    says(
        "msi_error = \"Data[2]:number\"",
        "msi_error = \"Data[two]\"",
        "is not Data[n]",
    );
    says(
        "msi_error = \"Data[2]:number\"",
        "msi_error = \"Data[2]:numeric\"",
        "unknown transform 'numeric'",
    );
    says(
        "msi_error = \"Data[2]:number\"",
        "msi_error = \"Data[2]:msi_product_code\"",
        "transform and source do not fit",
    );
    says(
        "{ field = \"product\", matches",
        "{ field = \"update\", matches",
        "condition on 'update'",
    );
    says(
        "equals = \"disabled\" }",
        "equals = \"disabled\", present = true }",
        "exactly one test",
    );
    says(
        "matches = \"product_pattern\"",
        "matches = \"product_patern\"",
        "no pattern named 'product_patern'",
    );
    says(
        "product_pattern = '(?i)^Microsoft'",
        "product_pattern = '(?i)^Microsoft('",
        "pattern 'product_pattern'",
    );
    says(
        "before = \"3h\"",
        "before = \"three hours\"",
        "is not a duration",
    );
    says(
        "{ field = \"service\", to = \"disabled.service\" }",
        "{ field = \"sid\", to = \"disabled.service\" }",
        "join on 'sid'",
    );
    says(
        "to = \"disabled.service\"",
        "to = \"disabled\"",
        "is not evidence.field",
    );
    says(
        "to = \"disabled.service\"",
        "to = \"later.service\"",
        "'later' is not an evidence defined above",
    );
    says(
        "to = \"disabled.service\"",
        "to = \"disabled.sid\"",
        "has no field 'sid'",
    );
    says(
        "cluster_key = \"product\"",
        "cluster_key = \"update\"",
        "cluster_key 'update'",
    );
}

#[test]
fn signature_level_errors() {
    says(
        "role = \"anchor\"",
        "role = \"cause\"",
        "no evidence has role = \"anchor\"",
    );
    says(
        "requires = [[\"anchor\"]]",
        "requires = [[\"anchr\"]]",
        "'anchr' names no evidence",
    );
    says(
        "restored_by = \"restored\"\n",
        "",
        "status needs each, key and restored_by together",
    );
    says(
        "match = [\"samples/kb940006-rollup-failed\"]",
        "match = [\"/etc/passwd\"]",
        "fixture '/etc/passwd'",
    );
    says(
        "no_match = [\"gen:kb-system-scm-only\"]",
        "no_match = [\"gen:\"]",
        "fixture 'gen:'",
    );
}

#[test]
fn summary_and_remediation_errors_name_the_line() {
    let line = VALID.lines().position(|l| l == "id = \"restore\"").unwrap() + 1;
    let m = error("{ps_start}\"]", "{ps_strat}\"]");
    assert!(
        m.contains(&format!(
            "line {line}: remediation restore: powershell: unknown placeholder {{ps_strat}}"
        )),
        "{m}"
    );
    says(
        "failed on {computer}.",
        "failed on {computr}.",
        "summary: unknown placeholder {computr}",
    );
    says(
        "when = \"services_to_restore\"",
        "when = \"services_to_restor\"",
        "'services_to_restor' is not a flag",
    );
    says(
        "foreach = \"services_to_restore\"",
        "foreach = \"service_list\"",
        "is not a list",
    );
    says(
        "[\"{service} | Set-Service -StartupType {ps_start}\"]",
        "[\"Write-Host {computer}\"]",
        "free text",
    );
    says(
        "[\"{service} | Set-Service -StartupType {ps_start}\"]",
        "['Write-Host \"{name}\"']",
        "outside quotes",
    );
    says(
        "[\"sc.exe config {name} start= {sc_start}\"]",
        "[\"sc.exe config {service}\"]",
        "never enters a cmd command",
    );
    says(
        "text = \"Give each service its start type back.\"",
        "text = \"{name}\"",
        "needs the matching foreach",
    );
}

#[test]
fn missing_log_is_checked_like_the_rest() {
    let with = |requires: &str, summary: &str| {
        format!(
            "[missing_log]\nlog = \"System\"\nrequires = {requires}\nsummary = \"{summary}\"\nunchecked = \"which services\"\n\n[incident]"
        )
    };
    // Loads when well formed.
    let ok = VALID.replacen(
        "[incident]",
        &with("[[\"anchor\"]]", "{computer}: {unchecked}."),
        1,
    );
    Signature::from_toml("sample.toml", &ok).unwrap();
    says(
        "[incident]",
        &with("[[\"anchr\"]]", "x"),
        "'anchr' names no evidence",
    );
    says(
        "[incident]",
        &with("[]", "x"),
        "missing_log needs a log and requires",
    );
    says(
        "[incident]",
        &with("[[\"anchor\"]]", "{computr}"),
        "missing_log:",
    );
}
