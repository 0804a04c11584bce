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

/// The most an answer's body may weigh as the Lambda's JSON carries it
/// (escaped): Lambda answers at most 6 MB, and the rest of the envelope,
/// headers included, fits in what is left.
pub const MAX_ANSWER_BYTES: usize = 5_000_000;

/// The most one page of records may weigh: an answer's bound, less room for
/// what the answer adds around them (its window, counts, cursor).
pub const MAX_PAGE_BYTES: usize = MAX_ANSWER_BYTES - 100_000;

/// What `value` weighs as JSON inside a Lambda answer's body (escaped once more).
pub fn json_weight<T: Serialize>(value: &T) -> usize {
    serde_json::to_string(value).map_or(0, |text| json_escaped_len(&text))
}

/// How many bytes `text` takes inside a JSON string (as serde_json escapes
/// it): what an answer's body weighs in the JSON a Lambda returns it in.
pub fn json_escaped_len(text: &str) -> usize {
    // Byte by byte: every byte of a multi-byte character is 0x80 or more and stays as it is.
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// A value as one cell's text: strings as they are, nothing as empty, the rest as JSON.
pub fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The columns a person reads a call by, first and in this order: which
/// call, when, by which agent, to or from whom, what kind, how it stands,
/// how it went, how long, what it cost.
pub const LEADING_COLUMNS: [&str; 9] = ["id", "callStartedAt", "voiceAgentId", "phoneNumber", "callType", "status", "outcome", "duration", "costCents"];

/// The columns of a call as a spreadsheet row: every field of the call,
/// by its JSON name, in one fixed order (so the rows of every part of an
/// export line up under the header of the first): [`LEADING_COLUMNS`], then
/// the rest by name.
pub fn call_columns() -> Vec<String> {
    let blank = crate::call::CallLog::new(
        crate::call::NewCall {
            org_id: "o".into(),
            voice_agent_id: "a".into(),
            phone_number: "+1".into(),
            call_type: crate::call::CallType::Inbound,
            status: crate::call::CallStatus::Completed,
            attempt: 0,
        },
        "c".into(),
        chrono::DateTime::UNIX_EPOCH,
    );
    let Ok(Value::Object(fields)) = serde_json::to_value(&blank) else { return Vec::new() };
    let mut columns: Vec<String> = LEADING_COLUMNS.iter().filter(|name| fields.contains_key(**name)).map(|name| name.to_string()).collect();
    let mut rest: Vec<String> = fields.keys().filter(|name| !LEADING_COLUMNS.contains(&name.as_str())).cloned().collect();
    rest.sort();
    columns.extend(rest);
    columns
}

/// A call as one row under [`call_columns`], every cell safe to open.
pub fn call_row(call: &crate::call::CallLog, columns: &[String]) -> Vec<String> {
    let fields = match serde_json::to_value(call) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    columns.iter().map(|column| spreadsheet_safe(&cell_text(fields.get(column).unwrap_or(&Value::Null))).into_owned()).collect()
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
    fn a_calls_row_reads_id_start_agent_number_type_status_outcome_duration_cost_then_the_rest() {
        let columns = call_columns();
        assert_eq!(columns[..LEADING_COLUMNS.len()], LEADING_COLUMNS.map(String::from), "every leading column is a field of the call");
        let rest = &columns[LEADING_COLUMNS.len()..];
        assert!(rest.is_sorted() && rest.contains(&"transcript".to_string()) && rest.contains(&"createdAt".to_string()), "{rest:?}");
    }

    #[test]
    fn the_escaped_length_is_what_serde_json_writes() {
        let every_control: String = (0u8..0x20).map(char::from).collect();
        for text in ["", "plain", "\"\"\"", "a\\b", "Zürich — 東京 🦷", "line\nline\r\n\ttab\u{7f}", every_control.as_str()] {
            assert_eq!(json_escaped_len(text), serde_json::to_string(text).unwrap().len() - 2, "{text:?}");
        }
    }

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
    fn a_call_row_has_every_field_under_its_column_and_runs_nothing() {
        let columns = call_columns();
        for field in ["id", "phoneNumber", "transcript", "costBreakdown", "returnedAt", "variableValues", "updatedAt"] {
            assert!(columns.iter().any(|c| c == field), "{field} in {columns:?}");
        }
        let mut call = crate::call::CallLog::new(
            crate::call::NewCall {
                org_id: "o".into(),
                voice_agent_id: "a".into(),
                phone_number: "+12125550142".into(),
                call_type: crate::call::CallType::Inbound,
                status: crate::call::CallStatus::Completed,
                attempt: 0,
            },
            "c1".into(),
            chrono::DateTime::UNIX_EPOCH,
        );
        call.summary = Some("=HYPERLINK(\"http://x\",\"click\")".into());
        call.cost_cents = Some(42);
        let row = call_row(&call, &columns);
        assert_eq!(row.len(), columns.len());
        let cell = |name: &str| row[columns.iter().position(|c| c == name).unwrap()].as_str();
        assert_eq!(cell("summary"), "'=HYPERLINK(\"http://x\",\"click\")");
        assert_eq!(cell("phoneNumber"), "'+12125550142");
        assert_eq!((cell("costCents"), cell("transcript"), cell("id")), ("42", "", "c1"));
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
