//! The safety scan every buyer–seller message goes through before it is stored: card
//! numbers are masked out of the text that is kept, and the message is flagged when it asks
//! to pay or to talk outside Souk, or links to a site dressed up as Souk, so the recipient
//! sees a warning beside it.
//!
//! Flags warn; they do not block. Each detector looks for what scammers actually send
//! (payment apps, gift cards, IBANs and wallet addresses, phone numbers, look-alike links)
//! on a folded copy of the text that sees through simple disguises (spacing, dots,
//! leetspeak, letters of other scripts), while leaving ordinary marketplace talk (prices,
//! dates, order numbers, "pay", "gift") alone.
//!
//! The scan runs in time roughly linear in the message: hand-written scanners with bounded
//! look-ahead and no backtracking. Callers cap bodies at 5,000 characters.

mod accounts;
mod cards;
mod fold;
mod links;
mod phones;
mod punycode;
mod words;

use serde::{Deserialize, Serialize};

use self::words::{Topic, Words};

/// Something in a message the recipient should be warned about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Flag {
    /// A link or address imitating one of Souk's own domains. `domain` is the address as
    /// written (lower-cased, with what came before an "@", without scheme or path);
    /// `resembles` is the own domain it imitates.
    LookalikeDomain { domain: String, resembles: String },
    /// A request to pay outside Souk: bank transfer, IBAN, gift cards, crypto, payment apps.
    OffPlatformPayment,
    /// A card number, masked in the stored body.
    CardNumber,
    /// An email address, a phone number, or a push to a messaging app or social network.
    ContactDetails,
    /// A link leaving Souk that imitates nothing: worth a quiet notice, not an alarm.
    ExternalLink { domain: String },
}

/// How loudly a flag is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Notice,
    Warning,
}

impl Flag {
    /// The stable code used in storage, the API and templates.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::LookalikeDomain { .. } => "lookalike_domain",
            Self::OffPlatformPayment => "off_platform_payment",
            Self::CardNumber => "card_number",
            Self::ContactDetails => "contact_details",
            Self::ExternalLink { .. } => "external_link",
        }
    }

    #[must_use]
    pub const fn severity(&self) -> Severity {
        match self {
            Self::ExternalLink { .. } => Severity::Notice,
            _ => Severity::Warning,
        }
    }

    /// The sentence shown to the recipient: what the risk is and what to do instead.
    #[must_use]
    pub fn warning(&self) -> String {
        match self {
            Self::LookalikeDomain { domain, resembles } => {
                // Letters from other alphabets make the two names look the same on screen,
                // so the warning says where the difference is.
                let letters = if domain.is_ascii() {
                    ""
                } else {
                    " It uses letters from another alphabet that look like Latin ones."
                };
                format!(
                    "Careful: {domain} is made to look like {resembles}, but it is not Souk.{letters} \
                     Do not sign in, pay or enter card details there."
                )
            }
            Self::OffPlatformPayment => {
                "This message asks you to pay outside Souk (bank transfer, gift card, \
                 crypto or a payment app). Payments made outside Souk have no buyer protection and \
                 cannot be refunded by Souk. Pay only at Souk checkout: Souk staff never ask for \
                 payment by message."
                    .to_owned()
            }
            Self::CardNumber => "A card number was removed from this message. Never send card details in a \
                 message: Souk takes payment only at checkout, and Souk staff will never ask for your \
                 card number."
                .to_owned(),
            Self::ContactDetails => {
                "This message shares contact details or asks to continue the conversation \
                 elsewhere. Keep the conversation and the payment on Souk: outside it, Souk cannot \
                 see what was agreed or help if something goes wrong."
                    .to_owned()
            }
            Self::ExternalLink { domain } => {
                format!(
                    "This message links to {domain}, a site outside Souk. Be careful what you enter there."
                )
            }
        }
    }
}

/// A message after the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scanned {
    /// The text to store and show: the message with card numbers masked.
    pub body: String,
    /// What to warn the recipient about, without repeats, most serious first (look-alike
    /// links, payment, card numbers, contact details, then outside links in the order they
    /// appear).
    pub flags: Vec<Flag>,
}

impl Scanned {
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.flags.is_empty()
    }
}

/// Scans a message body. `own_domains` are the marketplace's own hosts ("souk.example");
/// links to them and their subdomains are never flagged, and links imitating them are.
#[must_use]
pub fn scan(body: &str, own_domains: &[&str]) -> Scanned {
    let (masked, had_card) = cards::mask(body);
    let own = links::OwnDomains::new(own_domains);
    let links = links::scan(body, &own);
    let words = Words::new(body);

    let mut flags = Vec::new();
    let mut add = |flag: Flag| {
        if !flags.contains(&flag) {
            flags.push(flag);
        }
    };
    for (domain, resembles) in links.lookalikes {
        add(Flag::LookalikeDomain { domain, resembles });
    }
    if words.mention(Topic::Payment) || accounts::has_iban(body) || accounts::has_crypto_address(body) {
        add(Flag::OffPlatformPayment);
    }
    if had_card {
        add(Flag::CardNumber);
    }
    // Phone numbers are looked for after card numbers are masked, so a card number is not
    // also reported as a phone number.
    if links.contact
        || words.mention(Topic::Contact)
        || words.spell_out_an_address()
        || (words::has_handle(body) && words.name_a_social_network())
        || phones::has_phone_number(&masked)
    {
        add(Flag::ContactDetails);
    }
    for domain in links.external {
        add(Flag::ExternalLink { domain });
    }
    Scanned { body: masked, flags }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const OWN: &[&str] = &["souk.example"];

    fn codes(text: &str) -> Vec<&'static str> {
        scan(text, OWN).flags.iter().map(Flag::code).collect()
    }

    #[test]
    fn off_platform_payment_requests_are_flagged() {
        for text in [
            "Hi! To avoid the fees, can you pay me directly via PayPal friends and family?",
            "I can give you a discount if you pay by bank transfer.",
            "Please send the payment as Steam gift cards, 2 x 50",
            "Do you take iTunes cards?",
            "I accept BTC or USDT (TRC20) only",
            "send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 and I ship today",
            "My IBAN is GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "zelle or venmo works for me",
            "Cash App: $marieceramics",
            "p a y p a l  me, it's quicker",
            "P4yP4l pls",
            "pay.pal or w e s t e r n  u n i o n",
            "Bonjour, pour éviter les frais je préfère un virement bancaire.",
            "Payez-moi directement, c'est plus simple pour nous deux",
            "Vous pouvez payer avec une carte cadeau Amazon ?",
            "Envoie par Lydia stp",
            "Voici mon RIB : FR76 3000 6000 0112 3456 7890 189",
            "we can settle outside the platform",
        ] {
            assert!(codes(text).contains(&"off_platform_payment"), "{text:?}: {:?}", codes(text));
        }
    }

    #[test]
    fn contact_details_are_flagged() {
        for text in [
            "Add me on WhatsApp: +33 6 12 34 56 78",
            "Text me at (555) 123-4567 so we can sort it out",
            "write to marie.dupont@orange.fr",
            "marie at gmail dot com",
            "find me @marie.ceramics on insta",
            "Contactez-moi sur Telegram",
            "Mon adresse mail : marie [at] free [dot] fr",
            "Appelez-moi au 06.12.34.56.78",
            "t.me/marieceramics",
            "message me on Signal",
        ] {
            assert!(codes(text).contains(&"contact_details"), "{text:?}: {:?}", codes(text));
        }
    }

    #[test]
    fn ordinary_messages_raise_nothing() {
        for text in [
            "Can you ship to Lyon by Friday?",
            "The mug is 12 cm tall",
            "Order 20261122-1234 arrived",
            "Thanks! It's a gift for my mother, could you add a small card?",
            "I'll pay as soon as I get home tonight.",
            "It costs €1,299.00 including shipping; the box is 30 x 20 x 10 cm.",
            "Shipped with UPS, tracking number 1Z999AA10123456784.",
            "See my other listing: https://souk.example/listings/123",
            "Could you send it in two parcels? Thanks, Lydia",
            "Otherwise the blue one is fine. A wise choice!",
            "Bonjour, est-ce que la taille M est encore disponible ? Merci !",
            "Le colis est bien arrivé le 22/11/2026, merci beaucoup.",
            "Livré le 2026-11-22 à 10:30, commande n° 1234567, merci",
            "I paid on Souk this morning, order 20261122-1234.",
            "",
        ] {
            assert!(scan(text, OWN).is_clean(), "{text:?}: {:?}", codes(text));
        }
    }

    #[test]
    fn card_numbers_are_masked_and_flagged() {
        let scanned = scan("My card is 4242 4242 4242 4242 exp 12/27 cvc 123, ok?", OWN);
        assert_eq!(scanned.body, "My card is [card number removed …4242] exp 12/27 cvc 123, ok?");
        assert_eq!(scanned.flags, [Flag::CardNumber]);
        let order = scan("Order 4242424242424241 shipped", OWN);
        assert_eq!(order.body, "Order 4242424242424241 shipped", "fails Luhn: an order number");
        assert!(order.is_clean());
    }

    #[test]
    fn a_phishing_message_gets_every_flag_once_most_serious_first() {
        let scanned = scan(
            "Souk support: payment failed. Confirm at https://souk-example.com/verify or \
             https://souk-example.com/pay, or pay by gift card. Card 4242-4242-4242-4242? \
             WhatsApp +44 7700 900123. Photos: https://imgs.example.net/a",
            OWN,
        );
        assert_eq!(
            scanned.flags,
            [
                Flag::LookalikeDomain { domain: "souk-example.com".into(), resembles: "souk.example".into() },
                Flag::OffPlatformPayment,
                Flag::CardNumber,
                Flag::ContactDetails,
                Flag::ExternalLink { domain: "imgs.example.net".into() },
            ]
        );
        assert!(!scanned.body.contains("4242-4242-4242-4242"));
    }

    #[test]
    fn lookalike_links_name_the_imitated_domain() {
        for (text, domain) in [
            ("Log in at https://souk.example@evil.com/login", "souk.example@evil.com"),
            ("verify: souk.example.evil.com", "souk.example.evil.com"),
            ("go to sоuk.example", "sоuk.example"),
            ("http://xn--suk-sed.example", "xn--suk-sed.example"),
            ("https://souk.exarnple/account", "souk.exarnple"),
        ] {
            let scanned = scan(text, &["souk.example", "souk-static.example"]);
            assert_eq!(
                scanned.flags.first(),
                Some(&Flag::LookalikeDomain { domain: domain.into(), resembles: "souk.example".into() }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn flags_serialize_with_their_code() {
        let flag =
            Flag::LookalikeDomain { domain: "souk-example.com".into(), resembles: "souk.example".into() };
        let json = serde_json::to_string(&flag).unwrap();
        assert_eq!(
            json,
            r#"{"code":"lookalike_domain","domain":"souk-example.com","resembles":"souk.example"}"#
        );
        assert_eq!(serde_json::from_str::<Flag>(&json).unwrap(), flag);
        for flag in [Flag::OffPlatformPayment, Flag::CardNumber, Flag::ContactDetails] {
            let json = serde_json::to_string(&flag).unwrap();
            assert_eq!(json, format!(r#"{{"code":"{}"}}"#, flag.code()));
            assert_eq!(flag.severity(), Severity::Warning);
            assert!(flag.warning().contains("Souk"));
        }
        let link = Flag::ExternalLink { domain: "example.net".into() };
        assert_eq!(link.severity(), Severity::Notice);
        assert!(link.warning().contains("example.net"));
        assert!(Flag::OffPlatformPayment.warning().contains("never ask for payment by message"));
        let cyrillic =
            Flag::LookalikeDomain { domain: "s\u{43e}uk.example".into(), resembles: "souk.example".into() };
        assert!(cyrillic.warning().contains("another alphabet"));
        assert!(!flag.warning().contains("another alphabet"));
    }

    #[test]
    fn long_hostile_inputs_are_scanned() {
        // Shapes that would make a backtracking matcher or a quadratic scan crawl, at the
        // 5,000-character cap.
        for body in [
            "4".repeat(5_000),
            "4 ".repeat(2_500),
            "4-".repeat(2_500),
            "a.".repeat(2_500),
            "@a".repeat(2_500),
            "xn--".repeat(1_250),
            "p a y ".repeat(833),
            "FR76 ".repeat(1_000),
            "+(".repeat(2_500),
            "souk.example.".repeat(384),
            "\u{200B}".repeat(5_000),
        ] {
            let scanned = scan(&body, OWN);
            assert!(scanned.body.len() <= body.len() * 2, "masking cannot balloon the body");
        }
    }

    /// An independent statement of the masking promise: no run of whole digit groups
    /// (joined by single spaces or hyphens) with 13 to 19 digits passes Luhn.
    fn luhn_runs(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let digit = |i: usize| chars.get(i).is_some_and(char::is_ascii_digit);
        let mut found = Vec::new();
        for start in 0..chars.len() {
            if !digit(start) || (start > 0 && digit(start - 1)) {
                continue;
            }
            let mut digits = String::new();
            let mut k = start;
            while digits.len() <= 19 && k < chars.len() {
                if digit(k) {
                    digits.push(chars[k]);
                    k += 1;
                    let group_ends = !digit(k);
                    if group_ends && (13..=19).contains(&digits.len()) {
                        let sum: u32 = digits
                            .chars()
                            .rev()
                            .enumerate()
                            .map(|(i, c)| {
                                let d = c.to_digit(10).unwrap();
                                if i % 2 == 1 { (d * 2) / 10 + (d * 2) % 10 } else { d }
                            })
                            .sum();
                        if sum.is_multiple_of(10) {
                            found.push(digits.clone());
                        }
                    }
                } else if matches!(chars[k], ' ' | '-') && digit(k + 1) {
                    k += 1;
                } else {
                    break;
                }
            }
        }
        found
    }

    /// A Luhn-valid number of 13 to 19 digits, from random leading digits.
    fn card() -> impl Strategy<Value = String> {
        prop::collection::vec(0u32..10, 12..=18).prop_map(|mut digits| {
            let sum: u32 = digits
                .iter()
                .rev()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { (d * 2) / 10 + (d * 2) % 10 } else { *d })
                .sum();
            digits.push((10 - sum % 10) % 10);
            digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect()
        })
    }

    /// Message-like text dense in the shapes the scanners care about.
    fn tricky_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            card(),
            card().prop_map(|c| c.chars().enumerate().fold(String::new(), |mut s, (i, ch)| {
                if i > 0 && i % 4 == 0 {
                    s.push(if i % 8 == 0 { '-' } else { ' ' });
                }
                s.push(ch);
                s
            })),
            "[0-9]{1,6}",
            prop::sample::select(vec![
                " ", "-", "  ", ".", "@", "+", "(", ")", "…", "]", "\u{200B}", "é", "о", "xn--", "souk",
                ".example", "paypal", "https://", "www.", "FR76", "bc1", "0x", "\n",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z]{1,8}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
    }

    #[test]
    fn the_reference_check_sees_what_masking_hides() {
        assert_eq!(luhn_runs("4242 4242 4242 4242"), ["4242424242424242"]);
        assert!(luhn_runs("4242  4242 4242 4242").is_empty());
        assert!(luhn_runs(&scan("4242 4242 4242 4242", OWN).body).is_empty());
    }

    proptest! {
        #[test]
        fn the_stored_body_never_holds_a_card_number(text in tricky_text()) {
            let scanned = scan(&text, OWN);
            prop_assert!(luhn_runs(&scanned.body).is_empty(), "{:?} -> {:?}", text, scanned.body);
            prop_assert_eq!(scanned.flags.contains(&Flag::CardNumber), scanned.body != text);
            // Scanning what was stored changes nothing more.
            prop_assert_eq!(scan(&scanned.body, OWN).body, scanned.body);
        }

        #[test]
        fn any_unicode_is_scanned_without_panicking(text in any::<String>(), own in "[a-z]{0,6}\\.[a-z]{0,4}") {
            let scanned = scan(&text, &[own.as_str(), "souk.example"]);
            prop_assert!(luhn_runs(&scanned.body).is_empty());
            let mut seen = Vec::new();
            for flag in &scanned.flags {
                prop_assert!(!seen.contains(&flag), "repeated flag {:?}", flag);
                seen.push(flag);
            }
        }
    }
}
