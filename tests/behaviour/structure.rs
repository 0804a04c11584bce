//! The floor plan, kept. In the domain: `call` imports no capability room,
//! no room imports another in a circle, and inside the domain an import
//! names its room (the root re-exports are for the other crates). In the
//! store: no module imports another in a circle (the call-item codec is
//! its own module, below the writes). Read from the sources themselves, so
//! a new file is held to it without being listed.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// The rooms (folders) and root files a source file imports, with the file that does.
type Edges = BTreeMap<String, BTreeSet<(String, String)>>;

/// A file's code, without its tests (they may reach anywhere) and comments.
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The first name of every path that starts at `prefix` (`crate::`, `super::`), groups included.
fn heads(code: &str, prefix: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(found) = code[at..].find(prefix) {
        let word = at + found;
        let start = word + prefix.len();
        at = start;
        if word > 0 && (bytes[word - 1].is_ascii_alphanumeric() || bytes[word - 1] == b'_') {
            continue;
        }
        if bytes.get(start) == Some(&b'{') {
            let (mut depth, mut item, mut end) = (1, String::new(), start + 1);
            while depth > 0 && end < bytes.len() {
                match bytes[end] {
                    b'{' => depth += 1,
                    b'}' => depth -= 1,
                    _ => {}
                }
                if depth == 1 && bytes[end] == b',' || depth == 0 {
                    heads.push(first_name(&item));
                    item.clear();
                } else if depth >= 1 {
                    item.push(bytes[end] as char);
                }
                end += 1;
            }
        } else {
            heads.push(first_name(&code[start..]));
        }
    }
    heads.retain(|h| !h.is_empty());
    heads
}

fn first_name(text: &str) -> String {
    text.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// Every import between the rooms under `src` (its folders, and each file at
/// its top), by paths that start at `prefix`, and every import through a
/// root re-export (a path to a capitalised name).
fn read(src: &Path, prefix: &str) -> (Edges, Vec<String>) {
    let rooms: BTreeSet<String> =
        std::fs::read_dir(src).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let (mut edges, mut through_root) = (Edges::new(), Vec::new());
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().to_string_lossy().replace('\\', "/");
            if !rel.ends_with(".rs") || rel == "lib.rs" || rel == "mod.rs" {
                continue;
            }
            let room = match rel.split_once('/') {
                Some((room, _)) => room.to_string(),
                None => format!("root:{}", rel.trim_end_matches(".rs")),
            };
            for head in heads(&code_of(&std::fs::read_to_string(&path).unwrap()), prefix) {
                if head.starts_with(char::is_uppercase) {
                    through_root.push(format!("{rel}: crate::{head}"));
                    continue;
                }
                let to = if rooms.contains(&head) { head } else { format!("root:{head}") };
                if to != room {
                    edges.entry(room.clone()).or_default().insert((to, rel.clone()));
                }
            }
        }
    }
    (edges, through_root)
}

/// A circle among the rooms, if there is one.
fn circle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(at: &str, edges: &Edges, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|p| p == at) {
            let mut found = path[start..].to_vec();
            found.push(at.to_string());
            return Some(found);
        }
        if !done.insert(at.to_string()) {
            return None;
        }
        path.push(at.to_string());
        for (to, _) in edges.get(at).into_iter().flatten() {
            if let Some(found) = visit(to, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|room| visit(room, edges, &mut Vec::new(), &mut done))
}

fn domain() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/domain/src")
}

fn store() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/aws/src/store")
}

/// The circle `edges` hold, told with the files that make each step, or nothing.
fn circle_told(edges: &Edges) -> Option<String> {
    let found = circle(edges)?;
    let steps = found.windows(2).map(|pair| {
        let files: Vec<&str> = edges[&pair[0]].iter().filter(|(to, _)| *to == pair[1]).map(|(_, f)| f.as_str()).collect();
        format!("{} -> {} ({})", pair[0], pair[1], files.join(", "))
    });
    Some(steps.collect::<Vec<_>>().join("\n"))
}

#[test]
fn no_room_of_the_domain_imports_another_in_a_circle() {
    let (edges, _) = read(&domain(), "crate::");
    assert!(edges.contains_key("placement") && edges.contains_key("ending"), "the check reads the domain's rooms: {:?}", edges.keys());
    let found = circle_told(&edges);
    assert!(found.is_none(), "the domain's rooms import each other in a circle:\n{}", found.unwrap_or_default());
}

#[test]
fn no_module_of_the_store_imports_another_in_a_circle() {
    let (edges, _) = read(&store(), "super::");
    assert!(edges.contains_key("root:calls") && edges.contains_key("root:effects"), "the check reads the store's modules: {:?}", edges.keys());
    let found = circle_told(&edges);
    assert!(found.is_none(), "the store's modules import each other in a circle:\n{}", found.unwrap_or_default());
}

#[test]
fn the_call_imports_no_capability() {
    let (edges, _) = read(&domain(), "crate::");
    let reached: Vec<String> =
        edges.get("call").into_iter().flatten().filter(|(to, _)| !to.starts_with("root:")).map(|(to, file)| format!("{file} imports {to}")).collect();
    assert!(reached.is_empty(), "call/ is the ground: it imports the shared words only, not {reached:?}");
}

#[test]
fn inside_the_domain_an_import_names_its_room() {
    let (_, through_root) = read(&domain(), "crate::");
    assert!(through_root.is_empty(), "name the room (crate::call::CallLog), not the root re-export: {through_root:?}");
}

#[test]
fn the_check_sees_a_circle_and_a_root_import_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("callops-structure-{}", std::process::id()));
    for room in ["call", "placement"] {
        std::fs::create_dir_all(dir.join(room)).unwrap();
    }
    std::fs::write(dir.join("call/mod.rs"), "use crate::placement::may_place;\n").unwrap();
    std::fs::write(dir.join("placement/mod.rs"), "use crate::{time, call::{CallLog, CallType}, CallStatus};\n#[cfg(test)]\nuse crate::agent::X;\n").unwrap();
    let (edges, through_root) = read(&dir, "crate::");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(circle(&edges), Some(vec!["call".into(), "placement".into(), "call".into()]));
    assert_eq!(through_root, vec!["placement/mod.rs: crate::CallStatus".to_string()]);
    assert!(edges["placement"].iter().any(|(to, _)| to == "root:time"));
    assert!(!edges["placement"].iter().any(|(to, _)| to == "agent"), "test code may reach anywhere");
}
