//! Card numbers in messages: runs of 13 to 19 digits that pass the Luhn check, replaced by
//! a mask that keeps only the last four digits, so a full card number is never stored.
//!
//! Digits are read in groups (maximal runs of ASCII digits). Groups joined by a single
//! space or hyphen form a chain ("4242 4242 4242 4242", "4242-4242-…"); a card number is
//! any run of whole groups of a chain with 13 to 19 digits that passes Luhn. Digits glued
//! to more digits are not split: a 22-digit parcel number is not a card number.
//!
//! The price of never storing a card number: any other number written in groups that
//! happens to contain a Luhn-valid run of whole groups is masked too (one run in ten passes
//! Luhn by chance), as happens to some parcel numbers written in groups of four. The
//! recipient still sees the last four digits, and the sender can send the number in one
//! piece.

/// The most digits a card number has (ISO/IEC 7812).
const MAX_DIGITS: usize = 19;
const MIN_DIGITS: usize = 13;

/// Replaces every card number in `text` by a mask; also says whether there was one.
pub(super) fn mask(text: &str) -> (String, bool) {
    let spans = card_spans(text);
    if spans.is_empty() {
        return (text.to_owned(), false);
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in spans {
        // INVARIANT: spans start and end on ASCII digits, so these are char boundaries.
        out.push_str(text.get(copied..start).unwrap_or_default());
        let digits: Vec<u8> = text.bytes().take(end).skip(start).filter(u8::is_ascii_digit).collect();
        let last4 = digits.get(digits.len().saturating_sub(4)..).unwrap_or_default();
        // The kept digits sit between "…" and "]", so they can never join the digits around
        // the mask into a new card-shaped run.
        out.push_str("[card number removed …");
        out.extend(last4.iter().map(|d| char::from(*d)));
        out.push(']');
        copied = end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    (out, true)
}

/// The byte ranges of the card numbers in `text`, in order and not overlapping.
fn card_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut chain: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        // A group continues the chain only if exactly one space or hyphen separates it from
        // the previous group.
        let joined = chain.last().is_some_and(|(_, prev_end)| {
            *prev_end + 1 == start && matches!(bytes.get(*prev_end), Some(b' ' | b'-'))
        });
        if !joined {
            cards_in_chain(bytes, &chain, &mut spans);
            chain.clear();
        }
        chain.push((start, i));
    }
    cards_in_chain(bytes, &chain, &mut spans);
    spans
}

/// Finds card numbers among runs of whole groups of one chain. From each group, the
/// longest run of 13 to 19 digits that passes Luhn is taken and the search resumes after
/// it; runs that fail are left as they are. Every run of the chain that is not masked has
/// therefore been checked and found not to be a card number.
fn cards_in_chain(bytes: &[u8], chain: &[(usize, usize)], spans: &mut Vec<(usize, usize)>) {
    let mut first = 0;
    while first < chain.len() {
        let mut digits: Vec<u8> = Vec::with_capacity(MAX_DIGITS);
        let mut best = None;
        for (last, (start, end)) in chain.iter().enumerate().skip(first) {
            digits.extend(bytes.get(*start..*end).unwrap_or_default());
            if digits.len() > MAX_DIGITS {
                break;
            }
            if digits.len() >= MIN_DIGITS && luhn(&digits) {
                best = Some(last);
            }
        }
        match (best, chain.get(first), best.and_then(|b| chain.get(b))) {
            (Some(last), Some((start, _)), Some((_, end))) => {
                spans.push((*start, *end));
                first = last + 1;
            }
            _ => first += 1,
        }
    }
}

/// The Luhn check over ASCII digits.
pub(super) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d.saturating_sub(b'0'));
            if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_refuses_a_changed_digit() {
        for card in [
            "4242424242424242",
            "4000056655665556",
            "5555555555554444",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(luhn(card.as_bytes()), "{card}");
        }
        assert!(!luhn(b"4242424242424241"));
    }

    #[test]
    fn card_numbers_are_masked_in_any_common_layout() {
        for (text, masked) in [
            ("card 4242424242424242 thanks", "card [card number removed …4242] thanks"),
            ("4242 4242 4242 4242", "[card number removed …4242]"),
            ("4242-4242-4242-4242, exp 12/27", "[card number removed …4242], exp 12/27"),
            ("amex 3782 822463 10005.", "amex [card number removed …0005]."),
            ("x4242424242424242y", "x[card number removed …4242]y"),
        ] {
            assert_eq!(mask(text), (masked.to_owned(), true), "{text:?}");
        }
    }

    #[test]
    fn a_card_inside_a_longer_chain_is_found() {
        // The card followed by its security code: the whole chain is 19 digits and fails
        // Luhn, but the first four groups are a card.
        let (masked, found) = mask("4242 4242 4242 4242 123");
        assert!(found);
        assert_eq!(masked, "[card number removed …4242] 123");
        let (masked, _) = mask("ref 12 4242 4242 4242 4242");
        assert_eq!(masked, "ref 12 [card number removed …4242]");
        let (masked, _) = mask("4242424242424242 5555555555554444");
        assert_eq!(masked, "[card number removed …4242] [card number removed …4444]");
    }

    #[test]
    fn other_numbers_are_left_alone() {
        for text in [
            "Order 20261122-1234 arrived",
            "4242424242424241",
            "4242  4242  4242  4242",
            "9261 2901 3000 0000 1234 56 and 424242424242424242424242",
            "1,299.00",
            "call 06 12 34 56 78",
        ] {
            assert_eq!(mask(text), (text.to_owned(), false), "{text:?}");
        }
    }
}
