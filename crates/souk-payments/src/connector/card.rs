//! Card data as types: a validated card number ([`Pan`]), its security code ([`Cvc`]),
//! expiry and brand. Both secrets are zeroized when dropped and print as `***`.
//!
//! Validation is structural only (digits, length for the brand, Luhn check digit, brand by
//! BIN range); whether the card exists is the processor's answer, not ours.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use souk_domain::Timestamp;

/// A card scheme, recognised from the number's leading digits (its BIN range).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    DinersClub,
    Jcb,
    UnionPay,
}

impl Brand {
    /// The stable lower-case name used in storage and APIs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Visa => "visa",
            Self::Mastercard => "mastercard",
            Self::Amex => "amex",
            Self::Discover => "discover",
            Self::DinersClub => "diners",
            Self::Jcb => "jcb",
            Self::UnionPay => "unionpay",
        }
    }

    /// Parses [`Brand::as_str`]'s output.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Visa,
            Self::Mastercard,
            Self::Amex,
            Self::Discover,
            Self::DinersClub,
            Self::Jcb,
            Self::UnionPay,
        ]
        .into_iter()
        .find(|b| b.as_str() == name)
    }

    /// The card number lengths this brand issues.
    #[must_use]
    pub const fn lengths(self) -> &'static [usize] {
        match self {
            Self::Visa => &[13, 16, 19],
            Self::Mastercard => &[16],
            Self::Amex => &[15],
            Self::Discover | Self::Jcb | Self::UnionPay => &[16, 17, 18, 19],
            Self::DinersClub => &[14, 15, 16, 17, 18, 19],
        }
    }

    /// The security code's length: four digits on the front for Amex, three elsewhere.
    #[must_use]
    pub const fn cvc_len(self) -> usize {
        match self {
            Self::Amex => 4,
            _ => 3,
        }
    }

    /// The brand of a number by its BIN range, from the first six digits (fewer are enough
    /// for most ranges). `None` for ranges no supported scheme issues.
    #[must_use]
    pub fn from_bin(digits: &str) -> Option<Self> {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
        let in_range = |n: usize, low: u32, high: u32| prefix(n).is_some_and(|p| (low..=high).contains(&p));
        if digits.starts_with('4') {
            Some(Self::Visa)
        } else if in_range(2, 51, 55) || in_range(4, 2221, 2720) {
            Some(Self::Mastercard)
        } else if in_range(2, 34, 34) || in_range(2, 37, 37) {
            Some(Self::Amex)
        } else if in_range(4, 6011, 6011) || in_range(3, 644, 649) || in_range(2, 65, 65) {
            Some(Self::Discover)
        } else if in_range(4, 3528, 3589) {
            Some(Self::Jcb)
        } else if in_range(3, 300, 305) || in_range(2, 36, 36) || in_range(2, 38, 39) {
            Some(Self::DinersClub)
        } else if in_range(2, 62, 62) {
            Some(Self::UnionPay)
        } else {
            None
        }
    }
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a card number, security code or expiry was refused. Never carries the digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("a card number holds only digits (spaces and dashes between groups are allowed)")]
    NotDigits,
    #[error("a card number has 12 to 19 digits")]
    Length,
    #[error("the card number's range belongs to no supported card brand")]
    UnknownBrand,
    #[error("{0} cards do not have numbers of this length")]
    LengthForBrand(Brand),
    #[error("the card number's check digit is wrong (mistyped?)")]
    Luhn,
    #[error("the security code has {0} digits for this card")]
    Cvc(usize),
    #[error("the expiry month is 1 to 12 and the year has four digits")]
    ExpiryFormat,
    #[error("the card has expired")]
    Expired,
}

/// Whether a string of ASCII digits passes the Luhn (mod 10) check.
#[must_use]
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Finds what looks like a card number in raw bytes (a database file, a log): maximal runs
/// of ASCII digits, possibly grouped by single spaces or dashes, whose digits form a number
/// [`Pan::parse`] accepts (length for a known brand, Luhn). Returns the byte ranges. For
/// the tests that prove no card number is stored outside the vault's ciphertext.
#[must_use]
pub fn find_card_numbers(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        // Extend over digits and single separators between digits.
        let start = i;
        let mut digits = zeroize::Zeroizing::new(String::new());
        let mut end = i;
        while let Some(&b) = bytes.get(end) {
            if b.is_ascii_digit() {
                digits.push(char::from(b));
                end += 1;
            } else if matches!(b, b' ' | b'-') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
                end += 1;
            } else {
                break;
            }
        }
        // Any window of the run may be a card number (a run can hold more than one).
        let n = digits.len();
        'windows: for len in (Pan::MIN_LEN..=Pan::MAX_LEN.min(n)).rev() {
            for from in 0..=n - len {
                if let Some(window) = digits.get(from..from + len)
                    && Pan::parse(window).is_ok()
                {
                    found.push(start..end);
                    break 'windows;
                }
            }
        }
        i = end.max(i + 1);
    }
    found
}

/// A validated primary account number (card number): digits only, a length its brand
/// issues, a correct Luhn check digit. Zeroized on drop; `Debug` shows only brand and last 4.
pub struct Pan {
    digits: SecretString,
    brand: Brand,
}

impl Pan {
    /// The shortest and longest card numbers (ISO/IEC 7812).
    pub const MIN_LEN: usize = 12;
    pub const MAX_LEN: usize = 19;

    /// Validates a typed card number; spaces and dashes between digit groups are dropped.
    pub fn parse(typed: &str) -> Result<Self, CardError> {
        let digits =
            zeroize::Zeroizing::new(typed.chars().filter(|c| *c != ' ' && *c != '-').collect::<String>());
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.is_empty() {
            return Err(CardError::NotDigits);
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&digits.len()) {
            return Err(CardError::Length);
        }
        let brand = Brand::from_bin(&digits).ok_or(CardError::UnknownBrand)?;
        if !brand.lengths().contains(&digits.len()) {
            return Err(CardError::LengthForBrand(brand));
        }
        if !luhn_valid(&digits) {
            return Err(CardError::Luhn);
        }
        Ok(Self { digits: SecretString::from(digits.as_str()), brand })
    }

    #[must_use]
    pub const fn brand(&self) -> Brand {
        self.brand
    }

    /// The last four digits, which may be shown and stored.
    #[must_use]
    pub fn last4(&self) -> String {
        let d = self.digits.expose_secret();
        d.get(d.len().saturating_sub(4)..).unwrap_or_default().to_owned()
    }

    /// The first six digits (the BIN), for issuer-country lookups. Not stored.
    #[must_use]
    pub fn bin(&self) -> &str {
        self.digits.expose_secret().get(..6).unwrap_or_default()
    }

    /// The digits, for the vault's encryption and fingerprint and a connector's request
    /// to its processor. Nothing else should call this.
    #[must_use]
    pub fn expose_digits(&self) -> &str {
        self.digits.expose_secret()
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({} ***{})", self.brand, self.last4())
    }
}

/// A card security code (CVC/CVV): held in memory for the one authorization it belongs to,
/// never stored. Zeroized on drop; `Debug` prints `Cvc(***)`.
pub struct Cvc(SecretString);

impl Cvc {
    /// Validates a code for a card of `brand` (three digits, four for Amex).
    pub fn parse(typed: &str, brand: Brand) -> Result<Self, CardError> {
        let typed = typed.trim();
        if typed.len() != brand.cvc_len() || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CardError::Cvc(brand.cvc_len()));
        }
        Ok(Self(SecretString::from(typed)))
    }

    /// The digits, for a connector's request to its processor only.
    #[must_use]
    pub fn expose_digits(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

/// A card's expiry: valid through the last day of `month` of `year`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    month: u8,
    year: u16,
}

impl Expiry {
    pub fn new(month: u8, year: u16) -> Result<Self, CardError> {
        if !(1..=12).contains(&month) || !(2000..=2099).contains(&year) {
            return Err(CardError::ExpiryFormat);
        }
        Ok(Self { month, year })
    }

    #[must_use]
    pub const fn month(self) -> u8 {
        self.month
    }

    #[must_use]
    pub const fn year(self) -> u16 {
        self.year
    }

    /// Whether the card is past its expiry at `now` (UTC).
    #[must_use]
    pub fn is_expired(self, now: Timestamp) -> bool {
        let Some(at) = now.to_datetime() else { return true };
        let (year, month) = (i32::from(self.year), u8::from(at.month()));
        at.year() > year || (at.year() == year && month > self.month)
    }
}

/// Everything a processor needs to authorize a card payment. Exists only inside the vault
/// (and the connector it forwards to) for the duration of one authorization.
#[derive(Debug)]
pub struct CardDetails {
    pub pan: Pan,
    pub expiry: Expiry,
    /// `None` for a merchant-initiated payment with a stored card.
    pub cvc: Option<Cvc>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Appends the Luhn check digit to `body`.
    fn with_check_digit(body: &str) -> String {
        (0..10).map(|d| format!("{body}{d}")).find(|n| luhn_valid(n)).unwrap()
    }

    #[test]
    fn known_numbers_parse_with_their_brand() {
        for (n, brand) in [
            ("4242 4242 4242 4242", Brand::Visa),
            ("4222222222222", Brand::Visa),
            ("5555-5555-5555-4444", Brand::Mastercard),
            ("2223003122003222", Brand::Mastercard),
            ("378282246310005", Brand::Amex),
            ("6011111111111117", Brand::Discover),
            ("3056930009020004", Brand::DinersClub),
            ("36227206271667", Brand::DinersClub),
            ("3566002020360505", Brand::Jcb),
            ("6200000000000005", Brand::UnionPay),
        ] {
            let pan = Pan::parse(n).unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(pan.brand(), brand, "{n}");
        }
    }

    #[test]
    fn invalid_numbers_are_refused_with_the_reason() {
        assert_eq!(Pan::parse("4242 4242 4242 4241").unwrap_err(), CardError::Luhn);
        assert_eq!(Pan::parse("4242a42424242424").unwrap_err(), CardError::NotDigits);
        assert_eq!(Pan::parse("").unwrap_err(), CardError::NotDigits);
        assert_eq!(Pan::parse("42424242424").unwrap_err(), CardError::Length, "11 digits");
        assert_eq!(Pan::parse("42424242424242424242").unwrap_err(), CardError::Length, "20 digits");
        assert_eq!(Pan::parse(&with_check_digit("99999999999999")).unwrap_err(), CardError::UnknownBrand);
        // 12 digits: a valid length in general, but no brand issues it.
        assert_eq!(
            Pan::parse(&with_check_digit("42424242424")).unwrap_err(),
            CardError::LengthForBrand(Brand::Visa)
        );
        assert_eq!(
            Pan::parse(&with_check_digit("3782822463100")).unwrap_err(),
            CardError::LengthForBrand(Brand::Amex),
            "Amex is 15 digits, not 14"
        );
        // 19 digits is the longest there is, and Visa issues it.
        assert!(Pan::parse(&with_check_digit("424242424242424242")).is_ok());
    }

    #[test]
    fn secrets_never_print() {
        let pan = Pan::parse("4242424242424242").unwrap();
        assert_eq!(format!("{pan:?}"), "Pan(visa ***4242)");
        let cvc = Cvc::parse("123", Brand::Visa).unwrap();
        assert_eq!(format!("{cvc:?}"), "Cvc(***)");
        assert!(Cvc::parse("123", Brand::Amex).is_err());
        assert!(Cvc::parse("12a", Brand::Visa).is_err());
        assert_eq!(Cvc::parse("1234", Brand::Amex).unwrap().expose_digits(), "1234");
    }

    #[test]
    fn expiry_runs_through_the_last_day_of_its_month() {
        let at = |y: i32, m: u8| {
            Timestamp::from_datetime(
                time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), 28)
                    .unwrap()
                    .with_hms(23, 0, 0)
                    .unwrap()
                    .assume_utc(),
            )
        };
        let e = Expiry::new(12, 2026).unwrap();
        assert!(!e.is_expired(at(2026, 12)));
        assert!(e.is_expired(at(2027, 1)));
        assert!(!e.is_expired(at(2025, 12)));
        assert!(Expiry::new(13, 2026).is_err());
        assert!(Expiry::new(0, 2026).is_err());
        assert!(Expiry::new(1, 26).is_err());
    }

    #[test]
    fn card_numbers_are_found_in_raw_bytes() {
        let text = b"order 12345, card 4242 4242 4242 4242 exp 12/30; ref 5555-5555-5555-4444.";
        assert_eq!(find_card_numbers(text).len(), 2);
        assert!(find_card_numbers(b"id 4242424242424241 and 1234567890123").is_empty());
        assert_eq!(find_card_numbers(b"x00378282246310005x").len(), 1, "inside a longer run");
        assert!(find_card_numbers(b"vt_abcdefghijklmnopabcdefghijklmnop").is_empty());
    }

    proptest! {
        /// Every digit string completed with its check digit passes Luhn, and changing any
        /// single digit breaks it (Luhn catches every single-digit error).
        #[test]
        fn luhn_catches_every_single_digit_error(body in "[0-9]{11,18}", pos in 0usize..19, delta in 1u8..10) {
            let n = with_check_digit(&body);
            prop_assert!(luhn_valid(&n));
            let pos = pos % n.len();
            let mut bytes = n.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            prop_assert!(!luhn_valid(&String::from_utf8(bytes).unwrap()));
        }

        /// A parsed number keeps its digits (separators dropped) and its last four.
        #[test]
        fn visa_numbers_of_every_issued_length_round_trip(len in prop::sample::select(vec![13usize, 16, 19]), body in "[0-9]{18}") {
            let n = with_check_digit(&format!("4{}", &body[..len - 2]));
            let pan = Pan::parse(&n).unwrap();
            prop_assert_eq!(pan.expose_digits(), n.as_str());
            prop_assert_eq!(pan.last4(), n[n.len() - 4..].to_owned());
            prop_assert_eq!(pan.brand(), Brand::Visa);
        }

        /// A valid card number between arbitrary letters is always found.
        #[test]
        fn embedded_card_numbers_are_found(body in "4[0-9]{14}", before in "[a-z ]{0,20}", after in "[a-z ]{0,20}") {
            let n = with_check_digit(&body);
            let text = format!("{before}{n}{after}");
            prop_assert_eq!(find_card_numbers(text.as_bytes()).len(), 1);
        }

        /// Arbitrary input never panics the parser.
        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = Pan::parse(&s);
        }
    }
}
