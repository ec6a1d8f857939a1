//! Account numbers that money can be sent to outside Souk: IBANs (checked with their
//! mod-97 check digits) and crypto-currency addresses (checked with their own checksums
//! where they have one), so a pasted account number is caught without any wording around it.

use ring::digest;

/// The shortest and longest IBANs in use (Norway has 15 characters, Russia 33; 34 is the
/// standard's limit).
const IBAN_LEN: std::ops::RangeInclusive<usize> = 15..=34;

/// Whether `text` contains an IBAN with valid check digits, written in one piece or in
/// groups separated by single spaces ("FR76 3000 6000 0112 3456 7890 189"), in either case.
pub(super) fn has_iban(text: &str) -> bool {
    let chars: Vec<char> = text.chars().map(|c| c.to_ascii_uppercase()).collect();
    (0..chars.len()).any(|i| iban_at(&chars, i))
}

fn iban_at(chars: &[char], i: usize) -> bool {
    let at = |k: usize| chars.get(k).copied().unwrap_or(' ');
    let starts_word = i.checked_sub(1).is_none_or(|p| !at(p).is_ascii_alphanumeric());
    let head = [at(i), at(i + 1), at(i + 2), at(i + 3)];
    let [country_1, country_2, check_1, check_2] = head;
    let shaped = country_1.is_ascii_uppercase()
        && country_2.is_ascii_uppercase()
        && check_1.is_ascii_digit()
        && check_2.is_ascii_digit();
    if !starts_word || !shaped {
        return false;
    }
    // The check moves the first four characters to the end, reads letters as 10..35 and
    // takes the number modulo 97. The remainder of the account part is kept as characters
    // are read, and finished with the country and check digits wherever a group ends, so
    // an IBAN followed by more words is still found.
    let finish = |remainder: u32| head.iter().fold(remainder, |r, h| append(r, h.to_digit(36).unwrap_or(0)));
    let mut remainder = 0u32;
    let mut len = 4;
    let mut k = i + 4;
    loop {
        // Groups may be separated by one space.
        if at(k) == ' ' && at(k + 1).is_ascii_alphanumeric() {
            k += 1;
        }
        let c = at(k);
        let Some(value) = c.to_digit(36).filter(|_| c.is_ascii_alphanumeric()) else { break };
        if len == *IBAN_LEN.end() {
            break;
        }
        remainder = append(remainder, value);
        len += 1;
        k += 1;
        if !at(k).is_ascii_alphanumeric() && IBAN_LEN.contains(&len) && finish(remainder) == 1 {
            return true;
        }
    }
    false
}

/// Appends one IBAN character's value (one digit for 0..9, two for letters) to a running
/// remainder modulo 97.
fn append(remainder: u32, value: u32) -> u32 {
    let shift = if value < 10 { 10 } else { 100 };
    (remainder * shift + value) % 97
}

/// Whether `text` contains a crypto-currency address: Bitcoin-style Base58Check addresses
/// (Bitcoin, Litecoin, Tron/USDT…), Bech32 SegWit addresses, or Ethereum-style hex
/// addresses.
pub(super) fn has_crypto_address(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|token| is_hex_address(token) || is_base58check(token) || is_segwit(token))
}

/// "0x" and 40 hexadecimal digits. Ethereum's mixed-case checksum needs Keccak, which is
/// not worth a dependency: the shape alone is rare enough in a marketplace conversation.
fn is_hex_address(token: &str) -> bool {
    let hex = token.strip_prefix("0x").or_else(|| token.strip_prefix("0X"));
    hex.is_some_and(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Base58 text whose last four decoded bytes are the start of the double SHA-256 of the
/// rest; random text passes by chance once in four billion.
fn is_base58check(token: &str) -> bool {
    if !(25..=35).contains(&token.len()) {
        return false;
    }
    let Some(bytes) = base58_decode(token) else { return false };
    let Some((payload, check)) = bytes.split_at_checked(bytes.len().saturating_sub(4)) else { return false };
    if payload.is_empty() {
        return false;
    }
    let first = digest::digest(&digest::SHA256, payload);
    let second = digest::digest(&digest::SHA256, first.as_ref());
    second.as_ref().get(..4) == Some(check)
}

fn base58_decode(token: &str) -> Option<Vec<u8>> {
    // Little-endian big number, multiplied by 58 and added to one character at a time.
    let mut number: Vec<u8> = Vec::with_capacity(token.len());
    for c in token.bytes() {
        let mut carry = u32::try_from(BASE58.iter().position(|b| *b == c)?).ok()?;
        for byte in &mut number {
            carry += u32::from(*byte) * 58;
            let [low, ..] = carry.to_le_bytes();
            *byte = low;
            carry >>= 8;
        }
        while carry > 0 {
            let [low, ..] = carry.to_le_bytes();
            number.push(low);
            carry >>= 8;
        }
    }
    // Each leading "1" stands for a leading zero byte.
    let zeros = token.bytes().take_while(|b| *b == b'1').count();
    number.extend(std::iter::repeat_n(0, zeros));
    number.reverse();
    Some(number)
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A SegWit address ("bc1…", "ltc1…", "tb1…") whose Bech32 or Bech32m checksum holds.
fn is_segwit(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    // Bech32 forbids mixed case.
    if lower != token && token.to_ascii_uppercase() != token {
        return false;
    }
    let Some((hrp, data)) = lower.rsplit_once('1') else { return false };
    if !matches!(hrp, "bc" | "tb" | "ltc") || !(8..=90).contains(&lower.len()) || data.len() < 6 {
        return false;
    }
    let Some(values) = data.bytes().map(|c| BECH32.iter().position(|b| *b == c)).collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let expanded =
        hrp.bytes().map(|b| usize::from(b >> 5)).chain([0]).chain(hrp.bytes().map(|b| usize::from(b & 31)));
    let check = polymod(expanded.chain(values));
    check == 1 || check == 0x2bc8_30a3
}

/// The BCH checksum of Bech32 over 5-bit values.
fn polymod(values: impl Iterator<Item = usize>) -> u32 {
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    values.fold(1u32, |chk, v| {
        let top = chk >> 25;
        let chk = ((chk & 0x01ff_ffff) << 5) ^ u32::try_from(v).unwrap_or(0);
        GEN.iter().enumerate().fold(chk, |chk, (i, g)| if (top >> i) & 1 == 1 { chk ^ g } else { chk })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes bytes as Base58Check, to make valid addresses for the tests.
    fn base58check(version: u8, body: &[u8]) -> String {
        let mut bytes = vec![version];
        bytes.extend_from_slice(body);
        let first = digest::digest(&digest::SHA256, &bytes);
        let second = digest::digest(&digest::SHA256, first.as_ref());
        bytes.extend_from_slice(&second.as_ref()[..4]);
        let zeros = bytes.iter().take_while(|b| **b == 0).count();
        let mut digits: Vec<u8> = Vec::new();
        for byte in &bytes {
            let mut carry = u32::from(*byte);
            for d in &mut digits {
                carry += u32::from(*d) << 8;
                *d = (carry % 58) as u8;
                carry /= 58;
            }
            while carry > 0 {
                digits.push((carry % 58) as u8);
                carry /= 58;
            }
        }
        let mut out = "1".repeat(zeros);
        out.extend(digits.iter().rev().map(|d| char::from(BASE58[usize::from(*d)])));
        out
    }

    #[test]
    fn ibans_are_found_by_their_check_digits() {
        for text in [
            "my iban: FR76 3000 6000 0112 3456 7890 189 thanks",
            "FR7630006000011234567890189",
            "gb82 west 1234 5698 7654 32",
            "virement sur DE89370400440532013000.",
            "NO9386011117947",
        ] {
            assert!(has_iban(text), "{text:?}");
        }
        for text in [
            "FR76 3000 6000 0112 3456 7890 188",
            "GB82WEST12345698765433",
            "AB12",
            "Order 20261122-1234",
            "XFR7630006000011234567890189",
            "FR76  3000 6000 0112 3456 7890 189",
        ] {
            assert!(!has_iban(text), "{text:?}");
        }
    }

    #[test]
    fn crypto_addresses_are_found_by_their_checksums() {
        let p2pkh = base58check(0x00, &[7; 20]);
        let p2sh = base58check(0x05, &[42; 20]);
        let tron = base58check(0x41, &[3; 20]);
        assert!(p2pkh.starts_with('1') && p2sh.starts_with('3') && tron.starts_with('T'));
        for address in [
            p2pkh.as_str(),
            p2sh.as_str(),
            tron.as_str(),
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "0x52908400098527886E0F7030069857D2E4169EE7",
        ] {
            assert!(has_crypto_address(&format!("send to {address} please")), "{address}");
        }
        let mut broken = p2pkh.clone().into_bytes();
        broken[10] = if broken[10] == b'a' { b'b' } else { b'a' };
        for text in [
            String::from_utf8(broken).unwrap(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5".to_owned(),
            "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".to_owned(),
            "0x52908400098527886E0F7030069857D2E4169EE".to_owned(),
            "1Z999AA10123456784".to_owned(),
            "RR123456789GB and a ThisIsNotAnAddressAtAllReally".to_owned(),
        ] {
            assert!(!has_crypto_address(&text), "{text}");
        }
    }
}
