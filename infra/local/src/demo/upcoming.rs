//! The calls a newcomer watches: a few scheduled once, in the next
//! minutes, to US patients inside their calling hours; and the numbers
//! the tests call, somewhere in their morning whatever the hour.

use callops_aws::store::CallStore;
use callops_domain::{CallLog, CallType, DomainError, time};
use chrono::{DateTime, Duration, Utc};

use super::{CUSTOMERS, DEMO_ORG, consent_on_intake};

/// Number prefixes (all but the last four digits) across the world's
/// zones, a few hours apart: at any moment one of them is in its morning.
const AROUND_THE_CLOCK: &[&str] = &[
    "+1212555",  // New York
    "+1312555",  // Chicago
    "+1303555",  // Denver
    "+1503555",  // Portland, Oregon (Pacific; not California, whose 9 a.m. telemarketing opening the tests do not expect)
    "+1808555",  // Honolulu
    "+1671555",  // Guam
    "+6129876",  // Sydney
    "+8131234",  // Tokyo
    "+656234",   // Singapore
    "+662123",   // Bangkok
    "+91222345", // Mumbai
    "+9714234",  // Dubai
    "+7495123",  // Moscow
    "+30210123", // Athens
    "+2721123",  // Cape Town
    "+49301234", // Berlin
    "+44207946", // London
    "+55212345", // Rio de Janeiro
    "+1787555",  // Puerto Rico
];

/// A number whose callee's local time is now between 09:00 and 13:00 (so a
/// call to it is inside every calling-hours rule now and for some hours
/// more), ending in `last4`. `None` only if no prefix is (which the list is
/// made to rule out).
pub fn number_in_its_morning(last4: u16, now: DateTime<Utc>) -> Option<String> {
    static ZONES: std::sync::OnceLock<Vec<(&'static str, Vec<chrono_tz::Tz>)>> = std::sync::OnceLock::new();
    let zones = ZONES.get_or_init(|| AROUND_THE_CLOCK.iter().map(|p| (*p, callops_domain::placement::callee::zones_of_number(&format!("{p}0000")))).collect());
    zones
        .iter()
        .find(|(_, zones)| !zones.is_empty() && zones.iter().all(|zone| (9..13).contains(&chrono::Timelike::hour(&now.with_timezone(zone)))))
        .map(|(prefix, _)| format!("{prefix}{:04}", last4 % 10_000))
        .filter(|number| callops_domain::phone::normalize(number).is_ok())
}

/// US number prefixes (all but the last four digits) from the Caribbean to
/// the Pacific, for the demo's calls to come: a US dental practice calls US patients.
const US_PATIENTS: &[&str] = &[
    "+1787555", // Puerto Rico (Atlantic)
    "+1212555", // New York (Eastern)
    "+1312555", // Chicago (Central)
    "+1303555", // Denver (Mountain)
    "+1310555", // Los Angeles (Pacific)
    "+1808555", // Honolulu (Hawaii)
    "+1671555", // Guam (Chamorro)
];

/// A US number ending in `last4` whose callee's clock reads between 09:00
/// and 17:00 now (on every zone the number may be in), so a call to it fits
/// the practice's hours and the law's; New York's when none does (the call
/// then waits for its morning).
pub fn us_number_in_hours(last4: u16, now: DateTime<Utc>) -> String {
    let in_hours = |prefix: &&&str| {
        let zones = callops_domain::placement::callee::zones_of_number(&format!("{prefix}0000"));
        !zones.is_empty() && zones.iter().all(|zone| (9..17).contains(&chrono::Timelike::hour(&now.with_timezone(zone))))
    };
    let prefix = US_PATIENTS.iter().find(in_hours).unwrap_or(&"+1212555");
    format!("{prefix}{:04}", last4 % 10_000)
}

/// A few outbound calls for the demo practice's front desk, in the next
/// minutes, to US patients whose clock is in the practice's hours (or at
/// their next opening), each patient's consent on record: scheduled through
/// the same use case as `POST /api/outbound/schedule`, so every rule
/// applies, and a newcomer watches them dialed, played and reported.
/// Scheduled once: each under its own idempotency key, so a restart finds
/// them and schedules nothing more. Returns each call, and whether this run scheduled it.
pub async fn schedule_upcoming(calls: &callops_service::Calls, now: DateTime<Utc>) -> Result<Vec<(CallLog, bool)>, DomainError> {
    let caller = callops_domain::caller::Caller::system(DEMO_ORG, "demo");
    let mut scheduled = Vec::new();
    for (i, customer) in CUSTOMERS.iter().take(3).enumerate() {
        let key = format!("demo-upcoming-{i}");
        let key = callops_domain::idempotency::IdempotencyKey::from_header_values([key.as_bytes()])?.expect("a key");
        let id = callops_domain::idempotency::scheduled_call_id(DEMO_ORG, &key);
        if let Some(earlier) = calls.store().get_call(DEMO_ORG, &id).await? {
            scheduled.push((earlier.call, false));
            continue;
        }
        let number = us_number_in_hours(9_100 + i as u16, now);
        consent_on_intake(calls.store(), &caller, &number, now).await?;
        let ask = callops_service::schedule::CallToSchedule {
            number: callops_domain::phone::normalize(&number)?,
            call_type: CallType::OutboundFollowup,
            at: time::to_millis(now + Duration::seconds(45 * (i as i64 + 1))),
            purpose: Some("Check in after the visit".into()),
            notes: None,
            customer_name: Some((*customer).into()),
            campaign_id: None,
            agent_id: Some("front-desk".into()),
            variables: Default::default(),
            whereabouts: Default::default(),
            move_to_calling_hours: true,
            allow_duplicate: false,
        };
        let done = calls.schedule_call(&caller, ask, Some((key, "demo-upcoming".into())), now).await?;
        scheduled.push((done.call, !done.replayed));
    }
    Ok(scheduled)
}

#[cfg(test)]
mod morning_tests {
    use super::*;

    #[test]
    fn some_number_is_in_its_morning_at_every_hour_of_the_year() {
        for prefix in AROUND_THE_CLOCK {
            let number = format!("{prefix}0142");
            assert!(callops_domain::phone::normalize(&number).is_ok(), "{number} is not a valid number");
            assert_eq!(callops_domain::placement::callee::zones_of_number(&number).len(), 1, "{number}: one zone");
        }
        let start = callops_domain::time::parse("2024-01-01T00:00:00Z").unwrap();
        for hour in 0..(366 * 24 / 3) {
            let now = start + Duration::hours(3 * hour) + Duration::minutes(hour % 60);
            assert!(number_in_its_morning(142, now).is_some(), "none at {now}");
        }
    }
}
