//! Time as CallOps keeps it: UTC, millisecond precision, written the same way
//! everywhere (RFC 3339 with exactly three fractional digits and `Z`), so that
//! stored timestamps sort as text and equal what the legacy `timestamp(3)`
//! columns held.

use chrono::{DateTime, SubsecRound, Utc};

/// The one text form of a timestamp: `2024-02-07T09:30:00.000Z`.
pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// A timestamp cut to the millisecond, the precision every stored time has.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(3)
}

/// Now, cut to the millisecond.
pub fn now() -> DateTime<Utc> {
    to_millis(Utc::now())
}

/// The canonical text of a timestamp.
pub fn format(t: &DateTime<Utc>) -> String {
    t.format(FORMAT).to_string()
}

/// Parses any RFC 3339 timestamp (any offset) into UTC at millisecond precision.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| to_millis(t.with_timezone(&Utc)))
}

/// Serde for `DateTime<Utc>` in the canonical form.
pub mod ms {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format(FORMAT))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).ok_or_else(|| D::Error::custom(format!("not an RFC 3339 timestamp: {text}")))
    }

    /// The same for `Option<DateTime<Utc>>` (`null` when absent).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.collect_str(&t.format(FORMAT)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) => parse(&text)
                    .map(Some)
                    .ok_or_else(|| D::Error::custom(format!("not an RFC 3339 timestamp: {text}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_has_millis_and_sorts_as_time() {
        let a = parse("2024-02-07T09:30:00Z").unwrap();
        let b = parse("2024-02-07T10:30:00.5+01:00").unwrap();
        assert_eq!(format(&a), "2024-02-07T09:30:00.000Z");
        assert_eq!(format(&b), "2024-02-07T09:30:00.500Z");
        assert!(format(&a) < format(&b));
        let c = parse("2024-02-07T09:30:00.123456Z").unwrap();
        assert_eq!(format(&c), "2024-02-07T09:30:00.123Z");
        assert!(parse("yesterday").is_none());
    }
}
