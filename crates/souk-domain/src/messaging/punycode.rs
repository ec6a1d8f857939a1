//! Punycode decoding (RFC 3492), to read an internationalised domain label ("xn--suk-sed")
//! as the letters a browser shows ("sоuk", with a Cyrillic "о").

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;
/// A DNS label holds at most 63 characters; anything longer is not a real label.
const MAX_LABEL: usize = 63;

/// Decodes the part of a label after "xn--". `None` for anything that is not valid
/// Punycode; every step is checked, so hostile input can neither overflow nor loop long.
pub(super) fn decode(input: &str) -> Option<String> {
    if input.len() > MAX_LABEL {
        return None;
    }
    let (basic, encoded) = input.rsplit_once('-').unwrap_or(("", input));
    if !basic.is_ascii() {
        return None;
    }
    let mut output: Vec<char> = basic.chars().collect();
    let (mut code_point, mut index, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    let mut digits = encoded.bytes().peekable();
    while digits.peek().is_some() {
        let old_index = index;
        let mut weight = 1u32;
        let mut level = BASE;
        loop {
            let value = digit(digits.next()?)?;
            index = index.checked_add(value.checked_mul(weight)?)?;
            let threshold = if level <= bias {
                T_MIN
            } else if level >= bias + T_MAX {
                T_MAX
            } else {
                level - bias
            };
            if value < threshold {
                break;
            }
            weight = weight.checked_mul(BASE - threshold)?;
            level = level.checked_add(BASE)?;
        }
        let points = u32::try_from(output.len() + 1).ok()?;
        bias = adapt(index - old_index, points, old_index == 0);
        code_point = code_point.checked_add(index / points)?;
        index %= points;
        // INVARIANT: `index < points = output.len() + 1`, so the insertion is in bounds.
        output.insert(usize::try_from(index).ok()?, char::from_u32(code_point)?);
        index += 1;
        if output.len() > MAX_LABEL {
            return None;
        }
    }
    Some(output.into_iter().collect())
}

fn digit(b: u8) -> Option<u32> {
    match b {
        b'a'..=b'z' => Some(u32::from(b - b'a')),
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 26),
        _ => None,
    }
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_real_labels() {
        for (encoded, decoded) in [
            ("mnchen-3ya", "münchen"),
            ("bcher-kva", "bücher"),
            ("suk-sed", "s\u{43e}uk"),
            ("uk-emc5g", "\u{455}\u{43e}uk"),
            ("80ak6aa92e", "\u{430}\u{440}\u{440}\u{4cf}\u{435}"),
            ("suk-example-rnj", "s\u{43e}uk-example"),
            ("r8jz45g", "例え"),
        ] {
            assert_eq!(decode(encoded).as_deref(), Some(decoded), "{encoded}");
        }
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        for junk in
            ["", "-", "---", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "99999999999", "a-!", "é-abc"]
        {
            let _ = decode(junk);
        }
        assert_eq!(decode("abc-!"), None);
        assert_eq!(decode(&"a".repeat(64)), None);
    }
}
