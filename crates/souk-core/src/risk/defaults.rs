//! What ships: the rule set a marketplace starts with (saved as version 1 the first time a
//! decision needs rules), and a small compiled list of disposable email domains.

use souk_risk::Mode;

/// One default rule: its id, its text and whether it acts.
pub struct DefaultRule {
    pub id: &'static str,
    pub source: &'static str,
    pub mode: Mode,
}

const fn rule(id: &'static str, source: &'static str) -> DefaultRule {
    DefaultRule { id, source, mode: Mode::Active }
}

const fn shadow(id: &'static str, source: &'static str) -> DefaultRule {
    DefaultRule { id, source, mode: Mode::Shadow }
}

/// Radar-like defaults: card testing, blocked people and cards, unusual amounts for the
/// buyer, and the model's verdict when a model is loaded. Velocity rules name the event
/// they are about: an address that tested cards is not, for that alone, kept from signing in.
pub const RULES: &[DefaultRule] = &[
    rule("blocked_email", "block if :email: in @blocked_emails"),
    rule("blocked_email_domain", "block if :email_domain: in @blocked_email_domains"),
    rule("card_testing_ip", "block if :event: = 'payment' and :cards_per_ip_24h: > 10"),
    rule(
        "card_testing_declines",
        "block if :event: = 'payment' and :failed_payments_per_ip_1h: >= 5 and :cards_per_ip_1h: >= 3",
    ),
    rule("card_declined_repeatedly", "block if :event: = 'payment' and :failed_payments_per_card_1h: >= 5"),
    rule("device_farm", "review if :accounts_per_device_7d: > 5"),
    rule("model_high", "block if :risk_score: > 90"),
    rule("model_elevated", "review if :risk_score: > 75"),
    rule(
        "country_mismatch_large",
        "step_up if :event: = 'payment' and :billing_shipping_country_mismatch: and :amount: > 20000",
    ),
    rule(
        "unusual_amount",
        "step_up if :event: = 'payment' and :amount_vs_buyer_average: > 10 and :amount: > 50000",
    ),
    rule("login_stuffing", "block if :event: = 'login' and :failed_logins_per_ip_1h: > 50"),
    // Shadow: at sign-in, step_up refuses an account without a second factor, and the
    // throttles already slow guessing; this one is watched before anyone acts on it.
    shadow(
        "login_new_device_failures",
        "step_up if :event: = 'login' and :new_device: and :failed_logins_per_account_1h: >= 3",
    ),
    rule("signup_burst", "review if :event: = 'signup' and :signups_per_ip_24h: > 20"),
    rule(
        "disposable_seller",
        "review if :event: = 'listing' and :disposable_email: and :high_value_listings_per_account_7d: > 3",
    ),
    rule("message_spam", "review if :event: = 'message' and :messages_per_account_10m: > 30"),
    rule("payout_churn", "review if :event: = 'payout_change' and :payout_changes_per_account_30d: > 2"),
    rule("allowed_email", "allow if :email: in @allowed_emails"),
];

/// Domains of well-known throwaway mail services (lower case). Kept short on purpose: the
/// list is a signal for rules, not a verdict, and operators extend it with
/// `@blocked_email_domains`.
pub const DISPOSABLE_DOMAINS: &[&str] = &[
    "10minutemail.com",
    "33mail.com",
    "dispostable.com",
    "emailondeck.com",
    "fakeinbox.com",
    "getnada.com",
    "guerrillamail.com",
    "guerrillamail.net",
    "mailcatch.com",
    "maildrop.cc",
    "mailinator.com",
    "mailnesia.com",
    "mintemail.com",
    "mohmal.com",
    "sharklasers.com",
    "spamgourmet.com",
    "temp-mail.org",
    "tempmail.com",
    "tempmailo.com",
    "throwawaymail.com",
    "trashmail.com",
    "yopmail.com",
];

pub fn is_disposable(domain: &str) -> bool {
    DISPOSABLE_DOMAINS.binary_search(&domain).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disposable_list_is_sorted_for_binary_search() {
        assert!(DISPOSABLE_DOMAINS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_disposable("mailinator.com"));
        assert!(!is_disposable("example.com"));
    }

    #[test]
    fn every_default_rule_type_checks() {
        for r in RULES {
            souk_risk::Rule::parse(r.id, r.source, r.mode, super::super::schema::schema())
                .unwrap_or_else(|e| panic!("{}: {}", r.id, e.pointing_into(r.source)));
        }
    }
}
