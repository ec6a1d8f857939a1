//! Money: an integer count of a currency's minor units (cents, pence, yen) and the currency.
//!
//! Never a float. Arithmetic is checked and refuses to mix currencies, so a sum is either
//! exact or an error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency that Souk can price in, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// ISO 4217 codes with their minor-unit exponent and display symbol. Kept to the currencies
/// a marketplace operator is likely to pick; adding one is a one-line change.
const CURRENCIES: &[(&str, u8, &str)] = &[
    ("EUR", 2, "€"),
    ("USD", 2, "$"),
    ("GBP", 2, "£"),
    ("CHF", 2, "CHF "),
    ("CAD", 2, "CA$"),
    ("AUD", 2, "A$"),
    ("SEK", 2, "SEK "),
    ("NOK", 2, "NOK "),
    ("DKK", 2, "DKK "),
    ("PLN", 2, "PLN "),
    ("MAD", 2, "MAD "),
    ("JPY", 0, "¥"),
    ("KRW", 0, "₩"),
    ("BHD", 3, "BHD "),
    ("KWD", 3, "KWD "),
];

/// The text is not a currency Souk knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown or unsupported ISO 4217 currency code {0:?}")]
pub struct UnknownCurrency(pub String);

impl Currency {
    pub const EUR: Self = Self { code: *b"EUR", exponent: 2 };

    /// Looks up a currency by its ISO 4217 alphabetic code (upper case).
    pub fn from_code(code: &str) -> Result<Self, UnknownCurrency> {
        CURRENCIES
            .iter()
            .find(|(c, _, _)| *c == code)
            .and_then(|(c, exponent, _)| {
                let bytes: [u8; 3] = c.as_bytes().try_into().ok()?;
                Some(Self { code: bytes, exponent: *exponent })
            })
            .ok_or_else(|| UnknownCurrency(code.to_owned()))
    }

    #[must_use]
    pub fn code(&self) -> &str {
        // INVARIANT: `code` is only ever built from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    #[must_use]
    pub const fn exponent(&self) -> u8 {
        self.exponent
    }

    fn symbol(self) -> &'static str {
        CURRENCIES.iter().find(|(c, _, _)| c.as_bytes() == self.code).map_or("", |(_, _, s)| s)
    }
}

impl TryFrom<String> for Currency {
    type Error = UnknownCurrency;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_code(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.code().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money in integer minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in the currency's minor units (for EUR: cents).
    pub minor: i64,
    pub currency: Currency,
}

/// Why a money calculation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    #[must_use]
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency: self.currency })
    }

    pub fn checked_mul(self, quantity: u32) -> Result<Self, MoneyError> {
        let minor = self.minor.checked_mul(i64::from(quantity)).ok_or(MoneyError::Overflow)?;
        Ok(Self { minor, currency: self.currency })
    }

    /// The amount as a plain decimal string in major units ("12.50"), without a symbol.
    #[must_use]
    pub fn decimal(&self) -> String {
        let exp = u32::from(self.currency.exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        if exp == 0 {
            return format!("{sign}{abs}");
        }
        let unit = 10u64.pow(exp);
        let width = usize::from(self.currency.exponent);
        format!("{sign}{}.{:0width$}", abs / unit, abs % unit)
    }
}

impl fmt::Display for Money {
    /// Human display with the currency symbol, e.g. `€12.50` or `CHF 12.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = self.currency.symbol();
        let decimal = self.decimal();
        match decimal.strip_prefix('-') {
            Some(abs) => write!(f, "-{symbol}{abs}"),
            None => write!(f, "{symbol}{decimal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_exponent() {
        let eur = Currency::from_code("EUR").unwrap();
        assert_eq!(Money::new(1250, eur).to_string(), "€12.50");
        assert_eq!(Money::new(-5, eur).to_string(), "-€0.05");
        assert_eq!(Money::new(1500, Currency::from_code("JPY").unwrap()).to_string(), "¥1500");
        assert_eq!(Money::new(1234, Currency::from_code("KWD").unwrap()).decimal(), "1.234");
    }

    #[test]
    fn refuses_mixed_currencies_and_overflow() {
        let eur = Money::new(1, Currency::EUR);
        let usd = Money::new(1, Currency::from_code("USD").unwrap());
        assert!(matches!(eur.checked_add(usd), Err(MoneyError::CurrencyMismatch(..))));
        assert_eq!(Money::new(i64::MAX, Currency::EUR).checked_add(eur), Err(MoneyError::Overflow));
        assert_eq!(Money::new(i64::MAX, Currency::EUR).checked_mul(2), Err(MoneyError::Overflow));
    }

    #[test]
    fn unknown_codes_are_rejected() {
        assert!(Currency::from_code("XTS").is_err(), "ISO 4217 test code, not supported");
        assert!(Currency::from_code("eur").is_err());
    }
}
