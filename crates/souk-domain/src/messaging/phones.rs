//! Phone numbers in messages: 7 to 15 digits (the E.164 maximum) written the ways people
//! write them ("+33 6 12 34 56 78", "(555) 123-4567", "06.12.34.56.78"), told apart from
//! the numbers a marketplace conversation is full of: dates, prices, order and parcel
//! numbers, references.

use super::fold::{self, Fold};

/// Characters that may join digit groups of one phone number, up to three at a time
/// ("06 - 12 - 34", "(555) 123").
const JOINERS: &[char] = &[' ', '.', '-', '(', ')', '/', ','];
const MAX_JOINER: usize = 3;

/// Words that, just before a number, say it is not a phone number.
const REFERENCE_WORDS: &str = "order commande cmd ref reference référence invoice facture tracking suivi \
    colis parcel package sku item article lot iban siret siren tva vat isbn ean upc serial imei code \
    postcode zip transaction receipt reçu recu booking reservation réservation model modèle modele \
    part n nr no nº num";

/// Words skipped when looking back for a reference word ("order number is 1234567").
const FILLER_WORDS: &str = "number numero numéro is est de du the le id my";

/// Words that, just after a number, make it an amount or a measure.
const UNIT_WORDS: &str = "eur euro euros usd gbp chf cad dollar dollars pound pounds dh dhs mad dirham \
    dirhams yen francs g gr gram grams grammes kg m cm mm km ml l pcs pieces pièces units items views \
    followers likes people personnes times fois";

/// Whether `text` contains something that reads as a phone number.
pub(super) fn has_phone_number(text: &str) -> bool {
    let chars = digits_undisguised(text);
    let mut i = 0;
    while i < chars.len() {
        match run_at(&chars, i) {
            Some(run) if run.is_phone(&chars, i) => return true,
            Some(run) => i = run.end.max(i + 1),
            None => i += 1,
        }
    }
    false
}

/// The text with disguised digits made plain: fullwidth and other styled digits become
/// ASCII ones, and a letter "O" starting a number ("O6 12 34 56 78") becomes a zero.
fn digits_undisguised(text: &str) -> Vec<char> {
    let mut chars: Vec<char> = text
        .chars()
        .map(|c| match fold::fold(c) {
            Fold::One(b) if b.is_ascii_digit() => char::from(b),
            _ => c,
        })
        .collect();
    for i in 0..chars.len() {
        let starts_number = i.checked_sub(1).and_then(|p| chars.get(p)).is_none_or(|p| !p.is_alphanumeric())
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if let Some(c @ ('O' | 'o')) = chars.get_mut(i)
            && starts_number
        {
            *c = '0';
        }
    }
    chars
}

/// Digit groups read from one starting point.
struct Run {
    plus: bool,
    /// The digits of each group.
    groups: Vec<String>,
    /// The joiner before each group after the first.
    joiners: Vec<String>,
    /// Index just after the last digit.
    end: usize,
}

fn at(chars: &[char], i: usize) -> Option<char> {
    chars.get(i).copied()
}

/// Reads digit groups starting at `i`, if a number can start there.
fn run_at(chars: &[char], i: usize) -> Option<Run> {
    let first = at(chars, i)?;
    if !(first.is_ascii_digit() || first == '+' || first == '(') {
        return None;
    }
    if i.checked_sub(1).and_then(|p| at(chars, p)).is_some_and(char::is_alphanumeric) {
        return None;
    }
    let plus = first == '+';
    let mut k = if plus { i + 1 } else { i };
    let mut run = Run { plus, groups: Vec::new(), joiners: Vec::new(), end: k };
    loop {
        let joiner_start = k;
        while k - joiner_start < MAX_JOINER && at(chars, k).is_some_and(|c| JOINERS.contains(&c)) {
            k += 1;
        }
        let joiner: String = chars.get(joiner_start..k).unwrap_or_default().iter().collect();
        let first_group = run.groups.is_empty();
        let joiner_ok =
            if first_group { joiner.chars().all(|c| c == '(') } else { joiner.chars().count() <= MAX_JOINER };
        // A comma joins digits only on its own ("06,12,34"); with a space it separates
        // items ("75002, 06 12 34 56 78"), which are judged apart.
        let joiner_ok = joiner_ok && (joiner == "," || !joiner.contains(','));
        if !joiner_ok || !at(chars, k).is_some_and(|c| c.is_ascii_digit()) {
            break;
        }
        let group_start = k;
        while at(chars, k).is_some_and(|c| c.is_ascii_digit()) {
            k += 1;
        }
        if !first_group {
            run.joiners.push(joiner);
        }
        run.groups.push(chars.get(group_start..k).unwrap_or_default().iter().collect());
        run.end = k;
    }
    if run.groups.is_empty() { None } else { Some(run) }
}

impl Run {
    fn is_phone(&self, chars: &[char], start: usize) -> bool {
        if self.looks_like_an_amount_or_reference(chars, start) {
            return false;
        }
        // Dates inside the run ("2026-11-22 10") are cut out and the parts either side are
        // judged on their own.
        let mut segment_start = 0;
        let mut g = 0;
        while g < self.groups.len() {
            if self.is_date_at(g) {
                if self.holds_phone(segment_start, g) {
                    return true;
                }
                g += 3;
                segment_start = g;
            } else {
                g += 1;
            }
        }
        self.holds_phone(segment_start, self.groups.len())
    }

    /// Whether groups `from..to` are a phone number, or two numbers written side by side
    /// ("06 12 34 56 78 / 07 98 76 54 32") of which one is. Only "/" and spaced hyphens
    /// are taken for a divide, so a long reference in groups of four is not split into a
    /// phone-sized piece; and only short runs are tried, so the work stays small.
    fn holds_phone(&self, from: usize, to: usize) -> bool {
        if self.segment_is_phone(from, to) {
            return true;
        }
        let digits: usize = self.groups.get(from..to).unwrap_or_default().iter().map(String::len).sum();
        if digits <= 15 || to - from > 16 {
            return false;
        }
        (from + 1..to).any(|p| {
            let divide = self
                .joiners
                .get(p - 1)
                .is_some_and(|j| j.contains('/') || (j.contains('-') && j.contains(' ')));
            divide && (self.segment_is_phone(from, p) || self.segment_is_phone(p, to))
        })
    }

    /// Three groups shaped like a date, joined by the same "-", "." or "/".
    fn is_date_at(&self, g: usize) -> bool {
        let len = |i: usize| self.groups.get(i).map(String::len);
        let shaped = matches!(
            (len(g), len(g + 1), len(g + 2)),
            (Some(4), Some(2), Some(2)) | (Some(2), Some(2), Some(4))
        );
        let joiners = (self.joiners.get(g), self.joiners.get(g + 1));
        shaped && matches!(joiners, (Some(a), Some(b)) if a == b && matches!(a.as_str(), "-" | "." | "/"))
    }

    /// Judges groups `from..to` (and the joiners between them) as one number.
    fn segment_is_phone(&self, from: usize, to: usize) -> bool {
        let groups: Vec<&str> =
            self.groups.get(from..to).unwrap_or_default().iter().map(String::as_str).collect();
        let joiners = self.joiners.get(from..to.saturating_sub(1)).unwrap_or_default();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        let digits: usize = lens.iter().sum();
        if !(7..=15).contains(&digits) {
            return false;
        }
        let plus = self.plus && from == 0;
        // Phone numbers put any long unbroken part last ("+33 612345678"); a long part
        // followed by more digits is an order or reference number ("20261122-1234").
        if lens.split_last().is_some_and(|(_, inner)| inner.iter().any(|l| *l >= 7)) {
            return false;
        }
        // Numbers in ones and twos are lists ("sizes 36 38 40 42") unless they start with a
        // trunk zero or a "+", as phone numbers written in pairs do ("06 12 34 56 78").
        let leading_zero = groups.first().is_some_and(|g| g.starts_with('0'));
        if lens.iter().all(|l| *l <= 2) && !leading_zero && !plus {
            return false;
        }
        // "2025-2026" is a span of years.
        let years = groups.len() == 2
            && groups.iter().all(|g| g.len() == 4 && (g.starts_with("19") || g.starts_with("20")));
        let all = |joiner: &str| !joiners.is_empty() && joiners.iter().all(|j| j == joiner);
        let (first, rest) = lens.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        // "12.345.678" and "12,345,678" are amounts with thousands separators.
        let thousands =
            (all(".") || all(",")) && (1..=3).contains(&first) && rest.iter().all(|l| *l == 3) && !plus;
        // "192.168.10.20" is an address.
        let ipv4 = all(".") && lens.len() == 4 && lens.iter().all(|l| *l <= 3);
        !years && !thousands && !ipv4
    }

    fn looks_like_an_amount_or_reference(&self, chars: &[char], start: usize) -> bool {
        let before = start.checked_sub(1).and_then(|p| at(chars, p));
        if before.is_some_and(|c| matches!(c, '$' | '€' | '£' | '¥' | '#')) {
            return true;
        }
        let after = at(chars, self.end);
        if after.is_some_and(|c| c.is_alphanumeric() || matches!(c, '$' | '€' | '£' | '¥' | '%')) {
            return true;
        }
        if matches!(after, Some('.' | ',')) && at(chars, self.end + 1).is_some_and(|c| c.is_ascii_digit()) {
            return true;
        }
        if after == Some(' ') {
            let next: String = chars
                .iter()
                .skip(self.end + 1)
                .take_while(|c| c.is_alphabetic() || matches!(c, '€' | '$' | '£'))
                .take(12)
                .flat_map(|c| c.to_lowercase())
                .collect();
            if next.starts_with(['€', '$', '£']) || UNIT_WORDS.split_whitespace().any(|u| u == next) {
                return true;
            }
        }
        preceded_by_reference_word(chars, start)
    }
}

/// Looks back over up to four words for a word that makes the number a reference.
fn preceded_by_reference_word(chars: &[char], start: usize) -> bool {
    let mut k = start;
    for _ in 0..4 {
        while k > 0 && at(chars, k - 1).is_some_and(|c| !c.is_alphanumeric()) {
            k -= 1;
        }
        let end = k;
        while k > 0 && at(chars, k - 1).is_some_and(char::is_alphanumeric) {
            k -= 1;
        }
        if k == end {
            return false;
        }
        let word: String =
            chars.get(k..end).unwrap_or_default().iter().flat_map(|c| c.to_lowercase()).collect();
        if REFERENCE_WORDS.split_whitespace().any(|w| w == word) {
            return true;
        }
        if !FILLER_WORDS.split_whitespace().any(|w| w == word) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_common_layouts_are_found() {
        for text in [
            "call me on +33 6 12 34 56 78",
            "06 12 34 56 78",
            "06.12.34.56.78",
            "06-12-34-56-78",
            "0612345678",
            "(555) 123-4567",
            "+1 (555) 123-4567",
            "+44 7700 900123",
            "07700 900123",
            "+212 661-234567",
            "tel:+33612345678",
            "my number is 555 123 4567",
            "0 6 1 2 3 4 5 6 7 8",
            "+33 6 12 34 56 78",
            "612 34 56 78",
            "O6 12 34 56 78",
            "Postcode 75002, phone 01 42 68 53 00",
            "order 1234, 06 12 34 56 78",
            "06 12 34 56 78 / 07 98 76 54 32",
            "0612345678 - 0798765432",
            "０６ １２ ３４ ５６ ７８",
            "06/12/34/56/78",
            "06,12,34,56,78",
            "06 - 12 - 34 - 56 - 78",
            "on 2026-11-22 call 06 12 34 56 78",
        ] {
            assert!(has_phone_number(text), "{text:?} should be a phone number");
        }
    }

    #[test]
    fn other_numbers_are_not_phone_numbers() {
        for text in [
            "Order 20261122-1234 arrived",
            "Order 1234567 arrived",
            "commande n° 1234567",
            "tracking number is 1Z999AA10123456784",
            "shipped on 2026-11-22",
            "2026-11-22 10:30",
            "22.11.2026",
            "22/11/2026",
            "11/22/2026 and 2026/11/22",
            "12,500,000 views",
            "sizes 100, 110, 120, 130",
            "It costs 1,299.00",
            "1.299.000 dirhams",
            "1 299 000 €",
            "$1234567",
            "1234567€",
            "The mug is 12 cm tall",
            "123456",
            "server 192.168.10.20",
            "ref #12345678",
            "12345678901234567890",
            "1234 5678 9012 3456",
            "ABC1234567",
            "1234567th",
            "sizes 36 38 40 42 44 46 48",
            "1 2 3 4 5 6 7 8 9 10",
            "the 2025-2026 collection",
            "Price: 1 250 000 dirhams",
            "It weighs 1234567 grams",
            "transaction id 123456789",
        ] {
            assert!(!has_phone_number(text), "{text:?} should not be a phone number");
        }
    }
}
