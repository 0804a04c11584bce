//! Records as a spreadsheet opens them: one row per record, one column per
//! field, nested values as compact JSON, and no cell a spreadsheet would
//! run as a formula (OWASP's CSV injection advice: a cell starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`).

use serde::Serialize;
use serde_json::{Map, Value};

/// `cell` as a spreadsheet may open it without running it.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// A value as one cell's text: strings as they are, nothing as empty, the rest as JSON.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Rows of records of several kinds: the first column names the kind,
/// then the union of every record's fields (each record's by name), in the order first seen.
#[derive(Debug, Default)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<(String, Map<String, Value>)>,
}

impl Table {
    pub fn add<T: Serialize>(&mut self, kind: &str, record: &T) {
        let Ok(Value::Object(fields)) = serde_json::to_value(record) else { return };
        for name in fields.keys() {
            if !self.columns.contains(name) {
                self.columns.push(name.clone());
            }
        }
        self.rows.push((kind.to_string(), fields));
    }

    /// The header, then each row, every cell safe to open.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::with_capacity(self.rows.len() + 1);
        rows.push(std::iter::once("record".to_string()).chain(self.columns.iter().cloned()).collect());
        for (kind, fields) in &self.rows {
            let cells = self.columns.iter().map(|column| spreadsheet_safe(&cell_text(fields.get(column).unwrap_or(&Value::Null))).into_owned());
            rows.push(std::iter::once(kind.clone()).chain(cells).collect());
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_that_would_run_as_formulas_are_quoted_and_the_rest_kept() {
        for (cell, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+12125550142", "'+12125550142"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain", "plain"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(spreadsheet_safe(cell), safe);
        }
    }

    #[test]
    fn a_table_has_every_field_of_every_record() {
        let mut table = Table::default();
        table.add("call", &json!({"id": "c1", "transcript": "=cmd|' /C calc'!A0", "cost": 12, "tags": ["a"]}));
        table.add("consent", &json!({"id": "k1", "basis": "prior_express"}));
        let rows = table.rows();
        assert_eq!(rows[0], ["record", "cost", "id", "tags", "transcript", "basis"]);
        assert_eq!(rows[1], ["call", "12", "c1", "[\"a\"]", "'=cmd|' /C calc'!A0", ""]);
        assert_eq!(rows[2], ["consent", "", "k1", "", "", "prior_express"]);
    }
}
