//! The `events/` scenario files are real data: each one is appended to a fresh store through the
//! binary and `state --json` is compared with `tests/events_expect/<name>.json`, a subset of the
//! state worked out by hand from `rules.md`. The subset matching is a port of
//! `../shared/acceptance/run.py` (key-field pairing of array elements, `$exact`, `$items`,
//! `$without`, `$len`, `$in`, `$lte`, `$gte`, `$type`), so an expectation means the same here and
//! there. The acceptance runner itself is also run over `tests/scenarios/` and the shared samples
//! when it is present beside the checkout.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::{Map, Value};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn events_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir().join("events"))
        .expect("events/ exists")
        .map(|entry| entry.expect("readable events/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no events/*.jsonl files");
    files
}

fn ledger(db: &Path) -> Command {
    let mut command = Command::cargo_bin("partner-ledger").expect("binary partner-ledger is built");
    command
        .env_remove("PARTNER_LEDGER_DB")
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(db);
    command
}

// ------------------------------------------------------------------ subset matching (run.py)

const ARRAY_FORMS: [&str; 4] = ["$exact", "$items", "$without", "$len"];

fn key_names(name: &str) -> &'static [&'static str] {
    match name {
        "memberships" => &["line", "offer", "source"],
        "benefits" => &["offer", "term_start", "type", "source"],
        "tokens" => &["token"],
        "product_keys" => &["key"],
        "vs_subscriptions" => &["subscription"],
        "obligations" => &["kind", "offer"],
        "designations" => &["solution_area", "source"],
        "absorbed" => &["account"],
        _ => &[],
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 160 {
        format!("{}...", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

fn scalar_eq(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Bool(_), _) | (_, Value::Bool(_)) => false,
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => expected == actual,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::Null => "null",
    }
}

fn only_keys(map: &Map<String, Value>, allowed: &[&str]) -> bool {
    !map.is_empty() && map.keys().all(|key| allowed.contains(&key.as_str()))
}

fn compare_ordered(actual: &Value, bound: &Value) -> Option<std::cmp::Ordering> {
    match (actual, bound) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        _ => None,
    }
}

/// Differences between the expected subset and the actual value (empty: it matches).
fn differences(expected: &Value, actual: &Value, path: &str, name: &str) -> Vec<String> {
    if let Value::Object(map) = expected {
        if let Some(choices) = map.get("$in") {
            let choices = choices.as_array().cloned().unwrap_or_default();
            if choices.iter().any(|choice| scalar_eq(choice, actual)) {
                return vec![];
            }
            return vec![format!(
                "{path}: expected one of {}, got {}",
                short(&Value::Array(choices)),
                short(actual)
            )];
        }
        if only_keys(map, &["$lte", "$gte"]) {
            let first = map.values().next().expect("non-empty");
            let same_kind = type_name(first) == type_name(actual);
            let within = |key: &str, ok: fn(std::cmp::Ordering) -> bool| {
                map.get(key)
                    .is_none_or(|bound| compare_ordered(actual, bound).is_some_and(ok))
            };
            let ok = same_kind
                && within("$lte", |o| o != std::cmp::Ordering::Greater)
                && within("$gte", |o| o != std::cmp::Ordering::Less);
            return if ok {
                vec![]
            } else {
                vec![format!(
                    "{path}: expected {}, got {}",
                    short(expected),
                    short(actual)
                )]
            };
        }
        if map.len() == 1 && map.contains_key("$type") {
            let wanted: Vec<String> = match &map["$type"] {
                Value::Array(names) => names
                    .iter()
                    .filter_map(|n| n.as_str().map(String::from))
                    .collect(),
                Value::String(one) => vec![one.clone()],
                _ => vec![],
            };
            let got = type_name(actual);
            return if wanted.iter().any(|w| w == got) {
                vec![]
            } else {
                vec![format!(
                    "{path}: expected type {}, got {got}",
                    wanted.join("/")
                )]
            };
        }
        if only_keys(map, &ARRAY_FORMS) {
            return array_form_differences(map, actual, path, name);
        }
        let Value::Object(actual_map) = actual else {
            return vec![format!("{path}: expected an object, got {}", short(actual))];
        };
        let mut diffs = Vec::new();
        for (key, value) in map {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match actual_map.get(key) {
                None => diffs.push(format!("{sub}: missing (expected {})", short(value))),
                Some(actual_value) => diffs.extend(differences(value, actual_value, &sub, key)),
            }
        }
        return diffs;
    }
    if let Value::Array(items) = expected {
        return list_differences(items, actual, path, name, false);
    }
    if scalar_eq(expected, actual) {
        vec![]
    } else {
        vec![format!(
            "{path}: expected {}, got {}",
            short(expected),
            short(actual)
        )]
    }
}

fn array_form_differences(
    forms: &Map<String, Value>,
    actual: &Value,
    path: &str,
    name: &str,
) -> Vec<String> {
    let Value::Array(elements) = actual else {
        return vec![format!("{path}: expected an array, got {}", short(actual))];
    };
    let mut diffs = Vec::new();
    if let Some(length) = forms.get("$len").and_then(Value::as_u64) {
        if elements.len() as u64 != length {
            diffs.push(format!(
                "{path}: expected {length} element(s), got {}: {}",
                elements.len(),
                short(actual)
            ));
        }
    }
    if let Some(Value::Array(exact)) = forms.get("$exact") {
        diffs.extend(list_differences(exact, actual, path, name, true));
    }
    if let Some(Value::Array(items)) = forms.get("$items") {
        diffs.extend(list_differences(items, actual, path, name, false));
    }
    if let Some(Value::Array(without)) = forms.get("$without") {
        for partial in without {
            if let Some(hit) = elements
                .iter()
                .find(|element| differences(partial, element, path, name).is_empty())
            {
                diffs.push(format!(
                    "{path}: expected no element matching {}, found {}",
                    short(partial),
                    short(hit)
                ));
            }
        }
    }
    diffs
}

fn key_fields<'a>(name: &str, element: &'a Value) -> Vec<(&'static str, &'a Value)> {
    let Value::Object(map) = element else {
        return vec![];
    };
    key_names(name)
        .iter()
        .filter_map(|key| {
            map.get(*key)
                .filter(|v| !v.is_object() && !v.is_array())
                .map(|v| (*key, v))
        })
        .collect()
}

fn list_differences(
    expected: &[Value],
    actual: &Value,
    path: &str,
    name: &str,
    exact: bool,
) -> Vec<String> {
    let Value::Array(elements) = actual else {
        return vec![format!("{path}: expected an array, got {}", short(actual))];
    };
    let mut diffs = Vec::new();
    if exact && elements.len() != expected.len() {
        diffs.push(format!(
            "{path}: expected exactly {} element(s), got {}: {}",
            expected.len(),
            elements.len(),
            short(actual)
        ));
    }
    let mut used = vec![false; elements.len()];
    for wanted in expected {
        let keys = key_fields(name, wanted);
        let candidates: Vec<usize> = (0..elements.len())
            .filter(|&i| !used[i])
            .filter(|&i| {
                keys.is_empty()
                    || keys.iter().all(|(key, value)| {
                        elements[i].get(*key).is_some_and(|a| scalar_eq(value, a))
                    })
            })
            .collect();
        if let Some(&hit) = candidates
            .iter()
            .find(|&&i| differences(wanted, &elements[i], path, name).is_empty())
        {
            used[hit] = true;
            continue;
        }
        let label = if keys.is_empty() {
            format!("{path}[{}]", short(wanted))
        } else {
            let parts: Vec<String> = keys
                .iter()
                .map(|(k, v)| format!("{k}={}", short(v)))
                .collect();
            format!("{path}[{}]", parts.join(","))
        };
        match candidates.first() {
            Some(&first) => {
                diffs.extend(differences(wanted, &elements[first], &label, name));
                used[first] = true;
            }
            None => diffs.push(format!(
                "{label}: no such element (have: {})",
                short(actual)
            )),
        }
    }
    diffs
}

// ------------------------------------------------------------------ the tests

fn check_events_file(file: &Path) -> Vec<String> {
    let stem = file
        .file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned();
    let expect_path = manifest_dir()
        .join("tests/events_expect")
        .join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&expect_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));
    let spec: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", expect_path.display()));

    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("store");
    let append = ledger(&db)
        .arg("append")
        .arg(file)
        .output()
        .expect("append runs");
    if !append.status.success() {
        return vec![format!(
            "{stem}: append exited {:?}: {}",
            append.status.code(),
            String::from_utf8_lossy(&append.stderr).trim()
        )];
    }

    let mut failures = Vec::new();
    let queries = spec["queries"].as_array().cloned().unwrap_or_default();
    for (index, query) in queries.iter().enumerate() {
        let account = query["account"].as_str().expect("query.account");
        let as_of = query["as_of"].as_str().expect("query.as_of");
        let mut command = ledger(&db);
        command.args(["state", account, "--as-of", as_of]);
        if let Some(known_at) = query.get("known_at").and_then(Value::as_str) {
            command.args(["--known-at", known_at]);
        }
        command.arg("--json");
        let where_ = format!(
            "{stem} query {} [{account} --as-of {as_of}{}]",
            index + 1,
            query
                .get("known_at")
                .and_then(Value::as_str)
                .map(|k| format!(" --known-at {k}"))
                .unwrap_or_default()
        );
        let output = command.output().expect("state runs");
        if !output.status.success() {
            failures.push(format!(
                "{where_}: exit {:?}: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
            continue;
        }
        match serde_json::from_slice::<Value>(&output.stdout) {
            Err(e) => failures.push(format!("{where_}: stdout is not JSON ({e})")),
            Ok(actual) => failures.extend(
                differences(&query["expect"], &actual, "", "")
                    .into_iter()
                    .map(|d| format!("{where_}: {d}")),
            ),
        }
    }
    failures
}

#[test]
fn events_files_give_the_expected_state_at_their_key_dates() {
    let failures: Vec<String> = events_files()
        .iter()
        .flat_map(|file| check_events_file(file))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn all_events_files_append_together_in_one_call() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("store");
    let files = events_files();
    let output = ledger(&db)
        .arg("append")
        .args(&files)
        .output()
        .expect("append runs");
    assert!(
        output.status.success(),
        "append of all events files exited {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    let total: usize = files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .expect("readable")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count()
        })
        .sum();
    let log = ledger(&db).arg("log").output().expect("log runs");
    assert!(log.status.success());
    let stored = String::from_utf8_lossy(&log.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(stored, total, "every event of events/ is stored once");
}

fn acceptance_runner() -> Option<PathBuf> {
    let runner = manifest_dir().join("../shared/acceptance/run.py");
    runner.is_file().then_some(runner)
}

fn run_acceptance(extra: &[&str]) {
    let Some(runner) = acceptance_runner() else {
        println!("note: ../shared/acceptance/run.py is not beside this checkout; skipped");
        return;
    };
    let binary = assert_cmd::cargo::cargo_bin("partner-ledger");
    let output = StdCommand::new("python3")
        .arg(&runner)
        .args(extra)
        .arg("--bin")
        .arg(&binary)
        .args(["-j", "4"])
        .current_dir(manifest_dir())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) => {
            println!("note: python3 could not be started ({e}); skipped");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "acceptance runner failed (exit {:?}):\n{stdout}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn own_scenarios_pass_the_acceptance_runner() {
    run_acceptance(&["--dir", "tests/scenarios"]);
}

#[test]
fn shared_sample_scenarios_pass_the_acceptance_runner() {
    run_acceptance(&[]);
}

#[test]
fn subset_matching_follows_the_runner() {
    let actual: Value = serde_json::json!({
        "tokens": [{"token": "A", "status": "issued", "seats": 5}, {"token": "B", "status": "activated"}],
        "memberships": [{"line": "action_pack", "offer": "action_pack", "status": "active", "start": "2024-01-01"}],
        "known_at": null
    });
    let ok = serde_json::json!({
        "tokens": {"$items": [{"token": "B", "status": "activated"}], "$without": [{"token": "C"}]},
        "memberships": {"$exact": [{"offer": "action_pack", "status": {"$in": ["active", "merged"]},
                                    "start": {"$gte": "2023-12-31"}}]},
        "known_at": {"$type": ["null", "string"]}
    });
    assert!(
        differences(&ok, &actual, "", "").is_empty(),
        "{:?}",
        differences(&ok, &actual, "", "")
    );
    let wrong = serde_json::json!({
        "tokens": {"$exact": [{"token": "A", "seats": 5.0}]},
        "memberships": [{"offer": "learning_action_pack"}]
    });
    assert_eq!(differences(&wrong, &actual, "", "").len(), 2);
}
