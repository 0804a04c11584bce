//! A patient's text to the practice's number ([`callops_domain::consent::texts`]
//! says what it means): an opt-out is honoured as every other channel's is
//! ([`crate::opt_out`]) before the answer goes back; an opt-in to texts is
//! put on the record and brings no voice consent back; a request for help
//! is answered with the practice's name and callback number. The message's
//! words are never stored: only what they meant.
//!
//! A message is handled once: Twilio may deliver the same `MessageSid` again
//! (a retry, the fallback URL), and the redelivery is answered as the first
//! was, from a marker kept while a redelivery can come.

use callops_aws::store::{AuditStore, MarkerStore, SettingsStore};
use callops_domain::{
    DomainError,
    caller::{Actor, Caller},
    consent::{
        Channel,
        texts::{TextMeaning, read_text, twilio_answers},
    },
    phone::do_not_call_key,
    records::audit::{Action, AuditEntry},
};
use chrono::{DateTime, Duration, Utc};

use crate::{Calls, opt_out::OptOut};

/// One inbound text, as Twilio's webhook gives it.
#[derive(Debug, Clone)]
pub struct InboundText {
    pub message_sid: String,
    pub from: String,
    pub body: String,
    /// Twilio's Advanced Opt-Out verdict (`STOP`, `START`, `HELP`), when it sent one.
    pub opt_out_type: Option<String>,
}

/// What was done, and the text to send back (none: say nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextHandled {
    /// `opt_out`, `opt_in`, `help`, `other`, or `not_a_number` (a sender CallOps cannot call).
    pub meaning: String,
    pub reply: Option<String>,
    /// The calls it cancelled (0 on a redelivery).
    pub cancelled_calls: usize,
    /// A redelivery of a message already handled.
    pub repeated: bool,
}

/// How long a handled message's id is kept: far longer than Twilio retries or falls back.
const SEEN_FOR: Duration = Duration::days(7);

/// The longest `MessageSid` taken (Twilio's are 34 characters).
const MAX_SID: usize = 64;

fn seen_marker(message_sid: &str) -> String {
    format!("twilio-sms#{message_sid}")
}

/// Whether `sid` is a Twilio message id in shape (letters and digits, bounded).
pub fn valid_message_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= MAX_SID && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Calls {
    /// Handles one text to a tenant's number ([`self`](crate::texts)).
    pub async fn receive_text(&self, org_id: &str, text: &InboundText, now: DateTime<Utc>) -> Result<TextHandled, DomainError> {
        if !valid_message_sid(&text.message_sid) {
            return Err(DomainError::invalid("invalid_message_sid", "MessageSid must be Twilio's message id: letters and digits"));
        }
        let marker = seen_marker(&text.message_sid);
        if let Some(seen) = self.store.marker(org_id, &marker).await? {
            return Ok(TextHandled {
                meaning: seen.get("meaning").cloned().unwrap_or_default(),
                reply: seen.get("reply").cloned().filter(|r| !r.is_empty()),
                cancelled_calls: 0,
                repeated: true,
            });
        }
        let handled = self.handle_text(org_id, text, now).await?;
        let fields = [("meaning", handled.meaning.clone()), ("reply", handled.reply.clone().unwrap_or_default())];
        self.store.put_marker(org_id, &marker, &fields, Some(now + SEEN_FOR)).await?;
        Ok(handled)
    }

    async fn handle_text(&self, org_id: &str, text: &InboundText, now: DateTime<Utc>) -> Result<TextHandled, DomainError> {
        let handled =
            |meaning: &str, reply: Option<String>, cancelled_calls: usize| TextHandled { meaning: meaning.into(), reply, cancelled_calls, repeated: false };
        let Some(number) = do_not_call_key(&text.from) else {
            // A short code or an alphanumeric sender: no number CallOps could call.
            return Ok(handled("not_a_number", None, 0));
        };
        let system = Caller::system(org_id, "twilio-sms");
        match read_text(&text.body, text.opt_out_type.as_deref()) {
            TextMeaning::OptOut { how } => {
                let opt_out = OptOut {
                    number,
                    channel: Channel::Sms,
                    source: Some("text to the practice's number".into()),
                    reason: Some(format!("texted an opt-out ({how})")),
                    by: Actor::system("twilio-sms"),
                };
                let done = self.opt_out(&system, opt_out, now).await?;
                // Twilio confirms its own keywords; a revocation in other words gets the one confirmation the law allows (64.1200(a)(12)).
                let reply = if twilio_answers(&text.body, text.opt_out_type.as_deref()) {
                    None
                } else {
                    let settings = self.store.settings(org_id).await?;
                    let name = settings.practice_name.as_deref().unwrap_or("We");
                    Some(format!("{name}: your request is recorded. We will not call or text you again unless you ask us to."))
                };
                Ok(handled("opt_out", reply, done.cancelled_calls))
            }
            TextMeaning::OptIn => {
                let entry = AuditEntry::new(&system, Action::TextsResumed, &number, serde_json::Map::new(), now);
                self.store.record_audit(&[entry]).await?;
                Ok(handled("opt_in", None, 0))
            }
            TextMeaning::Help => {
                let settings = self.store.settings(org_id).await?;
                let reply = match (settings.practice_name.as_deref(), settings.callback_number.as_deref()) {
                    (Some(name), Some(number)) => format!("{name}. Questions? Call us at {number}. Reply STOP to stop our calls and texts."),
                    (Some(name), None) => format!("{name}. Reply STOP to stop our calls and texts."),
                    _ => "Reply STOP to stop our calls and texts.".to_string(),
                };
                Ok(handled("help", Some(reply), 0))
            }
            TextMeaning::Other => Ok(handled("other", None, 0)),
        }
    }
}
