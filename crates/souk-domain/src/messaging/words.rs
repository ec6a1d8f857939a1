//! Payment and contact wording: the message folded into skeleton words, and the phrases
//! that ask to pay or to talk outside Souk, found however they are spaced, dotted or
//! disguised ("p a y p a l", "pay.pal", "P4yPal", "раураl").
//!
//! A phrase matches a run of whole words whose skeletons, joined, spell it: "pay pal",
//! "p-a-y-p-a-l" and "paypal" all join to "paypal", while "otherwise" never matches "wise"
//! because a match must start and end on word edges.

use std::sync::LazyLock;

use super::fold::{self, Fold};

/// What a phrase is evidence of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Topic {
    Payment,
    Contact,
}

/// A phrase is a list of slots, matched one after the other; each slot lists alternatives
/// separated by `|`, and an empty alternative makes the slot optional. Spaces and
/// punctuation inside an alternative are ignored, as they are in messages.
///
/// Words that are also ordinary words or names ("wise", "lydia", "signal", "my mail") only
/// count in a phrase that makes them a means of payment or of contact; "pay" and "gift"
/// alone never count.
const PHRASES: &[(Topic, &[&str])] = &[
    // Payment apps and money-transfer services, named outright.
    (
        Topic::Payment,
        &["paypal|venmo|zelle|cashapp|cash app|western union|moneygram|money gram|revolut|transferwise\
           |skrill|payoneer|alipay|wechat pay|paylib|worldremit|remitly|paysera"],
    ),
    (Topic::Payment, &["via|with|by|on|through|using|use|par|sur|avec", "wise|lydia"]),
    (Topic::Payment, &["wise|lydia", "transfer|account|payment|virement|paiement|compte"]),
    // Crypto-currencies. Names that are only ever money count alone; "bitcoin" and
    // "crypto" also name T-shirts and jobs, so they count when paid or sent with.
    (Topic::Payment, &["btc|usdt|usdc|trc20|erc20|binance|coinbase|metamask|trust wallet"]),
    (
        Topic::Payment,
        &[
            "pay|paying|payment|paid|accept|accepts|send|sending|take|takes|transfer|payer|payez|paye\
             |paiement|accepte|acceptez|envoie|envoyez|envoyer",
            "in|by|with|via|en|par|",
            "bitcoin|bitcoins|ethereum|eth|ether|crypto|cryptos|cryptocurrency|cryptocurrencies\
             |cryptomonnaie|cryptomonnaies|litecoin|ltc|dogecoin|solana|tether",
        ],
    ),
    (
        Topic::Payment,
        &[
            "bitcoin|ethereum|eth|crypto|litecoin|dogecoin|solana|tether",
            "wallet|address|adress|adresse|portefeuille",
        ],
    ),
    (Topic::Payment, &["wallet", "address|adress|adresse"]),
    (Topic::Payment, &["adresse", "wallet|crypto|bitcoin"]),
    // Bank transfers.
    (Topic::Payment, &["iban|ibans|swift code|swiftcode|bic code|sort code|routing number"]),
    (Topic::Payment, &["bank|wire|sepa|swift|international", "transfer|transfers|wire"]),
    // "Le virement de Souk" is a seller's payout: a transfer counts when asked for.
    (
        Topic::Payment,
        &[
            "par|en|un|faire|fais|faites|accepte|acceptez|accepter|prefere|via|avec|paye|payer|payez|regler",
            "virement|virements",
        ],
    ),
    (Topic::Payment, &["virement|virements", "bancaire|bancaires|sepa|direct|instantane|sur mon compte"]),
    (Topic::Payment, &["wire", "me|us|", "the|", "money|payment|funds|amount"]),
    (Topic::Payment, &["bank|banking", "details|detail|info|information|coordinates"]),
    (Topic::Payment, &["account", "number"]),
    (Topic::Payment, &["coordonnees|details", "bancaires|bancaire"]),
    (Topic::Payment, &["compte|numero", "bancaire"]),
    (Topic::Payment, &["mon|ton|votre|un|le|ta", "rib"]),
    // Gift cards and prepaid vouchers.
    (Topic::Payment, &["gift|egift", "card|cards|code|codes|voucher|vouchers|certificate|certificates"]),
    (Topic::Payment, &["carte|cartes|bon|bons|cheque|cheques|code|codes", "cadeau|cadeaux"]),
    (
        Topic::Payment,
        &[
            "itunes|app store|amazon|google play|steam|xbox|playstation|psn|nintendo|ebay|razer gold",
            "card|cards|code|codes|voucher|vouchers|carte|cartes",
        ],
    ),
    (Topic::Payment, &["carte|cartes|code|codes", "itunes|amazon|google play|steam|psn|xbox"]),
    (Topic::Payment, &["paysafecard|paysafe|neosurf|transcash|pcs mastercard|toneo"]),
    // Paying around the platform.
    (
        Topic::Payment,
        &["pay|paying|payment", "me|us|", "directly|outside|offline|privately|in private|off platform"],
    ),
    (Topic::Payment, &["outside|off", "of|", "the|this|", "platform|site|website|app|marketplace|souk"]),
    (
        Topic::Payment,
        &[
            "payez|payer|paye|payes|paie|paies|paiement|reglez|regler|regle|reglement",
            "moi|me|nous|",
            "directement|en direct|hors|en dehors|en prive|en main propre|en liquide|en especes",
        ],
    ),
    (Topic::Payment, &["hors|en dehors de|en dehors du", "la|le|", "plateforme|site|souk|appli|application"]),
    // PayPal's "friends and family" payments skip buyer protection; the same words in "a
    // gift for friends and family" do not, so they count as a way of sending money.
    (
        Topic::Payment,
        &["as|via|using|use|by|with|through|send|pay|paid", "friends|friend", "and|n|", "family"],
    ),
    (Topic::Payment, &["friends|friend", "and|n|", "family", "payment|payments|transfer|option|mode"]),
    (Topic::Payment, &["entre", "proches|proche"]),
    // Asking for card details by message is phishing whoever claims to ask.
    (
        Topic::Payment,
        &[
            "your|ton|ta|votre|vos|tes",
            "card number|card details|card info|cvv|cvc|security code|expiry date|numero de carte\
             |coordonnees bancaires|code de securite|cryptogramme|date d expiration",
        ],
    ),
    // Messaging apps and mail services.
    (
        Topic::Contact,
        &["whatsapp|whatsap|watsapp|whats app|telegram|wechat|viber|snapchat|skype|imessage|facetime\
           |gmail|hotmail|protonmail|ymail|yahoo mail|wa me"],
    ),
    (Topic::Contact, &["on|sur|via|over|use|using", "signal|discord|messenger"]),
    // Asking to be contacted elsewhere.
    (Topic::Contact, &["text|txt|sms|texto|textez|texte", "me|moi|us|nous"]),
    (
        Topic::Contact,
        &[
            "call|ring|phone|reach|contact|email|mail|message|msg|write|appelle|appelez|appeler|contacte\
             |contactez|contacter|ecris|ecrivez|joins|joignez|envoie|envoyez",
            "me|moi|us|nous",
            "at|au|directly|directement|privately|outside|en prive|par mail|par email|par sms|by email\
             |by text|by phone|par telephone|par tel",
        ],
    ),
    (
        Topic::Contact,
        &[
            "my|our",
            "number|phone number|cell number|mobile number|email|email address|e mail|whatsapp|insta\
             |instagram|snap|snapchat|telegram",
        ],
    ),
    (
        Topic::Contact,
        &[
            "mon|ma|notre",
            "mail|email|e mail|adresse mail|adresse email|whatsapp|insta|snap|telegram\
             |numero de telephone|numero de portable|numero de tel",
        ],
    ),
    (
        Topic::Contact,
        &[
            "message|msg|dm|contact|add|follow|write|text|find|reach|ecris|ecrivez|contacte|contactez\
             |ajoute|ajoutez|suis|suivez",
            "me|moi|us|nous",
            "on|sur|via",
            "insta|instagram|ig|tiktok|twitter|facebook|fb|snapchat|snap|threads",
        ],
    ),
];

/// Things sold on a marketplace that are named after a means of payment ("gift card
/// holder", "porte-carte cadeau"): a phrase followed or preceded by one of them is a
/// product, not a request.
const PRODUCT_AFTER: &str = "holder holders case cases sleeve sleeves box boxes envelope envelopes \
    organizer organiser template templates stand display tin tins pouch pouches";
const PRODUCT_BEFORE: &str = "porte etui pochette";

/// Networks where an "@handle" is an address to reach someone outside Souk.
const SOCIAL_NETWORKS: &str = "insta instagram ig tiktok twitter facebook fb snapchat snap telegram threads \
    bluesky discord";

/// Top-level domains that end a spelled-out address ("marie at gmail dot com").
const SPELLED_TLDS: &str = "com net org fr de uk co io me be ch es it nl ca us eu";

struct Compiled {
    topic: Topic,
    slots: Vec<Vec<Vec<u8>>>,
}

static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    PHRASES
        .iter()
        .map(|(topic, slots)| Compiled {
            topic: *topic,
            slots: slots.iter().map(|slot| slot.split('|').map(fold::skeleton_of).collect()).collect(),
        })
        .collect()
});

/// A message as skeleton words.
pub(super) struct Words {
    /// Every word's skeleton, joined without separators.
    bytes: Vec<u8>,
    /// `edge[i]` is true where a word starts or ends at offset `i` of `bytes`; it is one
    /// longer than `bytes`.
    edge: Vec<bool>,
    /// Each word's start and end offsets in `bytes`.
    spans: Vec<(usize, usize)>,
}

/// Placeholder for a letter of another script: part of a word, never part of a keyword.
const OTHER: u8 = b'*';

impl Words {
    pub(super) fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let folds: Vec<Fold> = chars.iter().map(|c| fold::fold(*c)).collect();
        let is_letter = |i: Option<usize>| {
            i.and_then(|i| folds.get(i)).is_some_and(|f| match f {
                Fold::One(b) => b.is_ascii_alphabetic(),
                Fold::Two(..) => true,
                _ => false,
            })
        };
        let mut words = Self { bytes: Vec::with_capacity(text.len()), edge: vec![false], spans: Vec::new() };
        let mut start = None;
        for (i, (c, f)) in chars.iter().zip(&folds).enumerate() {
            let (before, after) = (i.checked_sub(1), Some(i + 1));
            // "$" and "@" stand for letters only inside words ("ca$h", "p@ypal"): elsewhere
            // they are prices and addresses.
            let f = match c {
                '$' if is_letter(before) || is_letter(after) => Fold::One(b's'),
                '@' if is_letter(before) && is_letter(after) => Fold::One(b'a'),
                _ => *f,
            };
            match f {
                Fold::Drop => {}
                Fold::One(b) => words.push(fold::skeleton(b), &mut start),
                Fold::Two(a, b) => {
                    words.push(fold::skeleton(a), &mut start);
                    words.push(fold::skeleton(b), &mut start);
                }
                Fold::Other => words.push(OTHER, &mut start),
                Fold::Separator => words.end_word(&mut start),
            }
        }
        words.end_word(&mut start);
        words
    }

    fn push(&mut self, b: u8, start: &mut Option<usize>) {
        if start.is_none() {
            *start = Some(self.bytes.len());
            self.mark_edge();
        }
        self.bytes.push(b);
        self.edge.push(false);
    }

    fn end_word(&mut self, start: &mut Option<usize>) {
        if let Some(s) = start.take() {
            self.mark_edge();
            self.spans.push((s, self.bytes.len()));
        }
    }

    fn mark_edge(&mut self) {
        if let Some(last) = self.edge.last_mut() {
            *last = true;
        }
    }

    fn word(&self, index: usize) -> Option<&[u8]> {
        self.spans.get(index).and_then(|(s, e)| self.bytes.get(*s..*e))
    }

    /// Whether any phrase of `topic` occurs.
    pub(super) fn mention(&self, topic: Topic) -> bool {
        let phrases: Vec<&Compiled> = COMPILED.iter().filter(|p| p.topic == topic).collect();
        let after = skeletons(PRODUCT_AFTER);
        let before = skeletons(PRODUCT_BEFORE);
        let is_one_of = |index: Option<usize>, words: &[Vec<u8>]| {
            index.and_then(|i| self.word(i)).is_some_and(|w| words.iter().any(|x| x == w))
        };
        // Ends on a word edge, and the next word does not make the phrase a product.
        let accept_end = |end: usize| {
            self.edge.get(end).copied().unwrap_or(false) && !is_one_of(self.word_starting_at(end), &after)
        };
        self.spans.iter().enumerate().any(|(index, (start, _))| {
            !is_one_of(index.checked_sub(1), &before)
                && phrases.iter().any(|p| self.matches(&p.slots, *start, *start, &accept_end))
        })
    }

    fn word_starting_at(&self, offset: usize) -> Option<usize> {
        self.spans.binary_search_by_key(&offset, |(start, _)| *start).ok()
    }

    /// Whether the slots match from `pos` to an end that `accept_end` accepts, having
    /// consumed something since `start`. Alternatives are few and short, so the search
    /// stays small.
    fn matches(
        &self,
        slots: &[Vec<Vec<u8>>],
        pos: usize,
        start: usize,
        accept_end: &dyn Fn(usize) -> bool,
    ) -> bool {
        let Some((slot, rest)) = slots.split_first() else {
            return pos > start && accept_end(pos);
        };
        slot.iter().any(|alt| {
            let end = pos + alt.len();
            self.bytes.get(pos..end).is_some_and(|b| b == alt.as_slice())
                && self.matches(rest, end, start, accept_end)
        })
    }

    /// "marie at gmail dot com", "marie [at] gmail [dot] fr", "marie arobase orange point fr".
    pub(super) fn spell_out_an_address(&self) -> bool {
        let (at, dot, tlds) = (skeletons("at arobase"), skeletons("dot point"), skeletons(SPELLED_TLDS));
        let is = |i: usize, options: &[Vec<u8>]| self.word(i).is_some_and(|w| options.iter().any(|o| o == w));
        (1..self.spans.len()).any(|i| is(i, &at) && is(i + 2, &dot) && is(i + 3, &tlds))
    }

    /// Whether a social network is named, which turns an "@handle" into an address.
    pub(super) fn name_a_social_network(&self) -> bool {
        let networks = skeletons(SOCIAL_NETWORKS);
        (0..self.spans.len()).any(|i| self.word(i).is_some_and(|w| networks.iter().any(|n| n == w)))
    }
}

/// The skeletons of a whitespace-separated list of words.
fn skeletons(words: &str) -> Vec<Vec<u8>> {
    words.split_whitespace().map(fold::skeleton_of).collect()
}

/// Whether the text holds an "@handle": an "@" that does not follow a word (so not an email
/// address) and is followed by 2 to 30 letters, digits, dots or underscores.
pub(super) fn has_handle(text: &str) -> bool {
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let after_word = prev.is_some_and(|p| p.is_alphanumeric() || matches!(p, '.' | '_' | '-' | '+'));
        if c == '@' && !after_word {
            let handle: String = chars
                .clone()
                .take_while(|h| h.is_ascii_alphanumeric() || matches!(h, '.' | '_'))
                .take(31)
                .collect();
            let len = handle.trim_end_matches('.').len();
            if (2..=30).contains(&len) && handle.chars().any(|h| h.is_ascii_alphabetic()) {
                return true;
            }
        }
        prev = Some(c);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(text: &str) -> bool {
        Words::new(text).mention(Topic::Payment)
    }

    fn contact(text: &str) -> bool {
        Words::new(text).mention(Topic::Contact)
    }

    #[test]
    fn phrases_match_however_they_are_spaced_or_disguised() {
        for text in [
            "paypal",
            "PayPal please",
            "p a y p a l",
            "p.a.y.p.a.l",
            "pay.pal",
            "pay-pal",
            "pay_pal",
            "P4YP4L",
            "p@ypal",
            "pаypаl",
            "ca$h app",
            "c a s h a p p",
            "pay in b1tc0in",
            "Gift Card",
            "giftcards",
            "g.i.f.t c.a.r.d",
            "virement bancaire",
            "payez-moi directement",
            "carte cadeau",
            "cartes-cadeaux",
            "send as friends & family",
            "pay via friends and family",
            "friends and family payment",
            "send it by Wise",
            "paie moi en liquide",
            "Do you take bitcoin?",
            "I only accept crypto",
            "par virement svp",
            "what is your card number and CVV?",
        ] {
            assert!(payment(text), "{text:?} should be a payment phrase");
        }
    }

    #[test]
    fn ordinary_words_do_not_match() {
        for text in [
            "I will pay today",
            "It's a gift for my sister",
            "otherwise it is fine",
            "a wise choice",
            "Lydia loved it",
            "the card in the box was lovely",
            "cash on delivery is not possible",
            "Can you ship to Lyon by Friday?",
            "gifted cardigan",
            "Gift card holder in leather, in red?",
            "un porte-carte cadeau",
            "I ordered the apple card holder",
            "Bitcoin-themed t-shirt in size L",
            "I work in crypto",
            "a gift for friends and family",
            "Le virement de Souk n'est pas encore arrivé",
            "application form",
            "my account no longer works",
            "I paid on Souk",
            "The signal was weak",
            "my mail arrived",
        ] {
            assert!(!payment(text) && !contact(text), "{text:?} should not match");
        }
    }

    #[test]
    fn contact_phrases_match() {
        for text in [
            "add me on WhatsApp",
            "w h a t s a p p",
            "Telegram: @marie",
            "text me",
            "call me at 0612345678",
            "contactez-moi au 06",
            "écris-moi par mail",
            "message me on Signal",
            "follow us on insta",
            "my number is",
            "mon whatsapp",
            "wa.me/33612345678",
        ] {
            assert!(contact(text), "{text:?} should be a contact phrase");
        }
        assert!(!contact("call me Bob"));
        assert!(!contact("contact me on Monday"));
    }

    #[test]
    fn spelled_out_addresses_and_handles() {
        assert!(Words::new("marie at gmail dot com").spell_out_an_address());
        assert!(Words::new("marie [at] orange [dot] fr").spell_out_an_address());
        assert!(Words::new("marie arobase free point fr").spell_out_an_address());
        assert!(!Words::new("see you at the market dot").spell_out_an_address());
        assert!(has_handle("find me @marie.ceramics on insta"));
        assert!(has_handle("@atlas_home"));
        assert!(!has_handle("marie@example.org"), "an email address is not a handle");
        assert!(!has_handle("@ 5pm"));
        assert!(!has_handle("@1"));
        assert!(Words::new("on IG").name_a_social_network());
        assert!(!Words::new("a big box").name_a_social_network());
    }

    #[test]
    fn no_phrase_can_be_spelled_by_digits_alone() {
        // INVARIANT: leetspeak folds 0, 1, 3, 4 and 5 into letters, so a phrase made only of
        // those letters (and digits) could be matched by an order number or a price.
        let from_digits = b"oleas26789";
        for p in COMPILED.iter() {
            let all_slots_spellable =
                p.slots.iter().all(|slot| slot.iter().any(|alt| alt.iter().all(|b| from_digits.contains(b))));
            assert!(!all_slots_spellable, "{:?}", p.slots);
        }
        assert!(!payment("1105 0055 3145 5013"));
    }
}
