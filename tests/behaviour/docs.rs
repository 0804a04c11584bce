//! The docs stay true: every link in the README, `docs/` and `infra/TABLE.md`
//! leads to a file of this repository and, when it names one, a heading
//! that exists; every path they name in code is there; no source file
//! passes 500 lines outside tests and data; the README stays a front door (at most 200 lines); and the
//! README's quickstart runs as written (its dates computed, never stale)
//! against a local host, as does every HTTP example of the docs; every
//! other command is checked against what it names (the CLI's own parser,
//! the workspace's packages and benches, the scripts).

use std::path::{Path, PathBuf};

use callops_tests::{DEMO_TOKEN, TestHost};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The documents the checks read, relative to the root.
fn documents() -> Vec<String> {
    let mut docs = vec!["README.md".to_string(), "infra/TABLE.md".to_string()];
    let mut more: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// A heading as GitHub makes its anchor: lower case, no punctuation but `-`, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '`' | '*' | '_'))
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a document's headings (code blocks left out).
fn anchors(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            let heading = line.trim_start_matches('#');
            if heading.starts_with(' ') {
                found.push(slug(heading));
            }
        }
    }
    found
}

/// Every `[label](target)` of a text.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        match after.find(')') {
            Some(end) if !after[..end].contains(char::is_whitespace) => found.push(after[..end].to_string()),
            _ => {}
        }
        rest = &rest[at + 2..];
    }
    found
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn every_link_in_the_docs_leads_to_a_file_and_heading_of_this_repository() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(root().join(&doc)).unwrap();
        let dir = Path::new(&doc).parent().unwrap_or(Path::new(""));
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').map_or((target.as_str(), None), |(p, a)| (p, Some(a)));
            let resolved = if path.is_empty() { PathBuf::from(&doc) } else { normalise(&dir.join(path)) };
            if resolved.starts_with("..") || resolved.is_absolute() {
                broken.push(format!("{doc}: {target} leaves the repository"));
                continue;
            }
            let file = root().join(&resolved);
            if !file.exists() {
                broken.push(format!("{doc}: {target}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|e| e == "md")
                && !anchors(&std::fs::read_to_string(&file).unwrap()).iter().any(|a| a == anchor)
            {
                broken.push(format!("{doc}: {target}: no such heading"));
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
    assert_eq!(
        slug("Patient data: roles, the audit log, retention and patients' requests"),
        "patient-data-roles-the-audit-log-retention-and-patients-requests"
    );
}

/// Every `code span` of a text that names a path in the repository's own folders.
fn named_paths(text: &str) -> Vec<String> {
    const FOLDERS: [&str; 6] = ["shared/", "functions/", "infra/", "tests/", "docs/", ".ci/"];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| FOLDERS.iter().any(|f| span.starts_with(f)) && !span.contains(char::is_whitespace) && !span.contains('*'))
        .map(|span| span.trim_end_matches(['.', ',', ':']).split(['#', ':']).next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_path_the_docs_name_exists() {
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(root().join(&doc)).unwrap();
        missing.extend(named_paths(&text).into_iter().filter(|path| !root().join(path).exists()).map(|path| format!("{doc}: `{path}`")));
    }
    assert!(missing.is_empty(), "the docs name files that are not there (moved or renamed?): {missing:#?}");
    assert_eq!(
        named_paths("see `shared/domain/src/placement/` and `infra/template.yaml`, not `cargo test`"),
        ["shared/domain/src/placement/", "infra/template.yaml"]
    );
}

/// The lines of a source file a reader must hold: a Rust file's up to its
/// tests, any other file whole.
fn code_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let is_rust = path.extension().is_some_and(|e| e == "rs");
    text.lines().take_while(|line| !(is_rust && line.starts_with("#[cfg(test)]"))).count()
}

#[test]
fn no_source_file_passes_500_lines_outside_tests_and_data() {
    const SKIPPED: [&str; 6] = ["tests", "benches", "data", "vendor", "target", "node_modules"];
    // The SAM template and the OpenAPI document are declarations, read by section: data here.
    const SOURCES: [&str; 6] = ["rs", "js", "css", "html", "sh", "py"];
    let mut long = Vec::new();
    let mut stack: Vec<PathBuf> = ["shared", "functions", "infra"].iter().map(|dir| root().join(dir)).collect();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
            let name = entry.file_name().unwrap_or_default().to_string_lossy().to_string();
            if entry.is_dir() {
                if !SKIPPED.contains(&name.as_str()) {
                    stack.push(entry);
                }
            } else if entry.extension().is_some_and(|e| SOURCES.iter().any(|s| e == *s)) && !name.ends_with("_tests.rs") && !name.ends_with(".min.js") {
                let lines = code_lines(&entry);
                if lines > 500 {
                    long.push(format!("{} ({lines} lines)", entry.strip_prefix(root()).unwrap().display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "split these by job (a file a reader can hold is at most 500 lines, tests and data aside): {long:#?}");
}

#[test]
fn the_readme_is_a_front_door() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 200, "the README has {lines} lines: reference belongs in docs/");
    for command in ["cargo run -p callops -- dev", "infra/scripts/test.sh"] {
        assert!(readme.contains(command), "the README gives {command}");
    }
    for doc in documents().iter().filter(|d| d.starts_with("docs/")) {
        assert!(readme.contains(&format!("]({doc})")), "the README's index names {doc}");
    }
}

/// The README's quickstart, run as written by `sh` with `curl`, against a
/// local host on its own port: the consent is recorded, the call scheduled,
/// read back and listed.
/// An `sh` example of the docs: its text, and the marker comment on the line before it, if any.
struct Example {
    doc: String,
    marker: Option<String>,
    script: String,
}

fn sh_examples() -> Vec<Example> {
    let mut found = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(root().join(&doc)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut at = 0;
        while at < lines.len() {
            if lines[at].starts_with("```") && lines[at] != "```" {
                let fence = lines[at];
                let end = (at + 1..lines.len()).find(|&i| lines[i] == "```").expect("every code block ends");
                let marker = lines[..at].iter().rev().find(|l| !l.trim().is_empty()).filter(|l| l.starts_with("<!--")).map(|l| l.to_string());
                assert!(fence == "```sh" || fence == "```text", "{doc}: a {fence} block: an example is a `sh` block a test runs, or `text`");
                if fence == "```sh" {
                    found.push(Example { doc: doc.clone(), marker, script: lines[at + 1..end].join("\n") });
                }
                at = end;
            }
            at += 1;
        }
    }
    found
}

/// The commands of a script: continuation lines joined, comments left out.
fn commands(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(|line| line.split(" #").next().unwrap_or_default().trim().to_string())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// The packages of the workspace, by name, with their manifests.
fn manifests() -> std::collections::BTreeMap<String, String> {
    let mut found = std::collections::BTreeMap::new();
    for dir in ["shared", "functions"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let manifest = entry.unwrap().path().join("Cargo.toml");
            if manifest.exists() {
                found.insert(manifest.clone(), std::fs::read_to_string(&manifest).unwrap());
            }
        }
    }
    for manifest in [root().join("infra/local/Cargo.toml"), root().join("tests/Cargo.toml")] {
        found.insert(manifest.clone(), std::fs::read_to_string(&manifest).unwrap());
    }
    found
        .into_values()
        .map(|text| {
            let name = text.lines().find_map(|l| l.strip_prefix("name = \"")).map(|rest| rest.trim_end_matches('"').to_string()).unwrap();
            (name, text)
        })
        .collect()
}

/// Why a command that is not an HTTP request cannot go stale, or what is wrong with it.
fn check_command(command: &str, packages: &std::collections::BTreeMap<String, String>) -> Result<(), String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["cargo", "run", "-p", "callops", "--", args @ ..] => callops::cli::parse(std::iter::once("callops").chain(args.iter().copied())).map(|_| ()),
        ["cargo", "bench", "-p", package, "--bench", bench] => {
            let manifest = packages.get(*package).ok_or(format!("no package {package}"))?;
            manifest.contains(&format!("name = \"{bench}\"")).then_some(()).ok_or(format!("{package} has no bench {bench}"))
        }
        ["cargo", "build", "--release", rest @ ..] => rest.chunks(2).try_for_each(|pair| match pair {
            ["-p", package] if packages.contains_key(*package) => Ok(()),
            other => Err(format!("not a package of the workspace: {other:?}")),
        }),
        [script] if script.starts_with("infra/scripts/") => {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(root().join(script)).map_err(|e| format!("{script}: {e}"))?.permissions().mode();
            (mode & 0o111 != 0).then_some(()).ok_or(format!("{script} is not executable"))
        }
        _ => Err("a command no test runs or checks: run it in a test, or mark its block `<!-- not run: why -->`".into()),
    }
}

#[tokio::test]
async fn every_example_in_the_docs_runs_or_is_checked() {
    let packages = manifests();
    let (mut ran, mut checked, mut problems) = (0, 0, Vec::new());
    for example in sh_examples() {
        let marker = example.marker.as_deref().unwrap_or_default();
        if marker.starts_with("<!-- not run:") || marker.starts_with("<!-- quickstart:") {
            // Not runnable here (AWS), or the quickstart, which its own test runs and reads.
            continue;
        }
        if example.script.contains("curl ") {
            for command in commands(&example.script).iter().filter(|c| c.contains("curl ")) {
                let fails_on_error = command.split_whitespace().any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('f'));
                if !fails_on_error {
                    problems.push(format!("{}: curl without -f cannot fail the example: {command}", example.doc));
                }
            }
            let host = TestHost::start(true).await;
            let script = example.script.replace("http://127.0.0.1:3000", &host.base);
            let output = tokio::task::spawn_blocking(move || std::process::Command::new("bash").arg("-euo").arg("pipefail").arg("-c").arg(&script).output())
                .await
                .unwrap()
                .expect("bash runs");
            if !output.status.success() {
                problems.push(format!(
                    "{}: the example failed ({}):\n{}\n{}",
                    example.doc,
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            ran += 1;
            continue;
        }
        for command in commands(&example.script) {
            match check_command(&command, &packages) {
                Ok(()) => checked += 1,
                Err(why) => problems.push(format!("{}: `{command}`: {why}", example.doc)),
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(ran >= 3 && checked >= 10, "the examples were found: {ran} run, {checked} checked");
    let packages = manifests();
    assert!(check_command("cargo run -p callops -- migrate --org acme", &packages).is_err(), "a command missing a required flag is caught");
    assert!(check_command("cargo bench -p callops --bench nothing", &packages).is_err());
    assert!(check_command("rm -rf /", &packages).is_err());
}

#[tokio::test]
async fn the_readmes_quickstart_runs_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let marker = readme.find("<!-- quickstart:").expect("the quickstart is marked");
    let block = &readme[marker..];
    let start = block.find("```sh\n").unwrap() + "```sh\n".len();
    let script = &block[start..start + block[start..].find("```").unwrap()];
    assert!(script.contains("BASE=http://127.0.0.1:3000"), "{script}");
    let host = TestHost::start(true).await;
    let script = script.replace("BASE=http://127.0.0.1:3000", &format!("BASE={}", host.base));
    let output =
        tokio::task::spawn_blocking(move || std::process::Command::new("sh").arg("-eu").arg("-c").arg(&script).output()).await.unwrap().expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the quickstart failed: {}\n{stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    let scheduled: serde_json::Value = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .find(|v: &serde_json::Value| v["callType"] == "OUTBOUND_FOLLOWUP")
        .expect("the scheduled call is printed");
    let id = scheduled["id"].as_str().unwrap();
    let (status, call) = host.get(&format!("/api/calls/{id}"), Some(DEMO_TOKEN)).await;
    assert_eq!((status.as_u16(), call["phoneNumber"].as_str()), (200, Some("+12125550142")), "{call}");
    assert!(stdout.matches(id).count() >= 2, "the call is read back by its id: {stdout}");
}

/// The template's parameters: each name, and whether it has a default.
fn template_parameters() -> std::collections::BTreeMap<String, bool> {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    template["Parameters"].as_mapping().unwrap().iter().map(|(name, spec)| (name.as_str().unwrap().to_string(), spec.get("Default").is_some())).collect()
}

#[test]
fn the_deploy_guide_names_every_template_parameter_and_its_deploy_command_every_required_one() {
    let guide = std::fs::read_to_string(root().join("docs/deploying.md")).unwrap();
    let parameters = template_parameters();
    // The guide's table: one row per parameter, saying whether it is required.
    let section = guide.split("## 3. Every parameter").nth(1).expect("the parameter section").split("\n## ").next().unwrap();
    let rows: std::collections::BTreeMap<String, bool> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once("` | "))
        .map(|(name, rest)| (name.to_string(), rest.starts_with("yes |")))
        .collect();
    let wanted: std::collections::BTreeMap<String, bool> = parameters.iter().map(|(name, has_default)| (name.clone(), !has_default)).collect();
    assert_eq!(rows, wanted, "docs/deploying.md's parameter table (name, required) against infra/template.yaml");
    // The deploy command names every parameter without a default.
    let deploy = sh_examples().into_iter().find(|e| e.doc.ends_with("deploying.md") && e.script.contains("sam deploy")).expect("a deploy command");
    for (name, has_default) in &parameters {
        if !has_default {
            assert!(deploy.script.contains(&format!("{name}=")), "the deploy command leaves out the required {name}");
        }
    }
}
