//! Backing off before trying again: what DynamoDB asks of a client whose
//! batch came back with unprocessed items or whose transaction was
//! cancelled for throttling, so a busy table is given room instead of being
//! sent the same work at once.

use std::time::Duration;

/// How many times a batch is sent before what DynamoDB still leaves
/// unprocessed is an error (about six seconds of pauses in all).
pub const BATCH_ATTEMPTS: u32 = 10;

/// The pause before attempt `attempt + 1` (`attempt` from 1): exponential
/// from 20 ms, at most one second, with full jitter.
pub fn pause(attempt: u32) -> Duration {
    let ceiling = 20u64.saturating_mul(1 << attempt.min(10)).min(1_000);
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
}

/// Sleeps for [`pause`].
pub async fn back_off(attempt: u32) {
    tokio::time::sleep(pause(attempt)).await;
}

/// Before the `send`th send of a batch (from 1): nothing before the first,
/// a growing pause before each resend, an error once [`BATCH_ATTEMPTS`]
/// sends left items unprocessed.
pub async fn before_batch_send(send: u32) -> Result<(), callops_domain::DomainError> {
    match send {
        0 | 1 => Ok(()),
        n if n > BATCH_ATTEMPTS => {
            Err(callops_domain::DomainError::Unavailable(format!("DynamoDB left a batch's items unprocessed after {BATCH_ATTEMPTS} sends")))
        }
        n => {
            back_off(n - 1).await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_and_stay_under_a_second() {
        assert!(pause(1) <= Duration::from_millis(40));
        assert!(pause(4) >= Duration::from_millis(160));
        assert!((1..40).all(|attempt| pause(attempt) <= Duration::from_secs(1)));
    }
}
