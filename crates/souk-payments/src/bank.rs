//! Shops' bank accounts for payouts: an IBAN is checked (country, length, ISO 13616 mod-97
//! check digits) before it is sealed and stored; only its last four characters are shown.

use std::fmt;

/// A checked IBAN, in its electronic form (upper case, no spaces).
#[derive(Clone, PartialEq, Eq)]
pub struct Iban(String);

/// Why an IBAN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IbanError {
    #[error("an IBAN has 15 to 34 letters and digits, starting with a country code and two check digits")]
    Shape,
    #[error("the IBAN's check digits do not match: look for a typing error")]
    Checksum,
}

impl Iban {
    /// Parses an IBAN as typed (spaces allowed, any case).
    pub fn parse(typed: &str) -> Result<Self, IbanError> {
        let s: String =
            typed.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        let b = s.as_bytes();
        let shaped = (15..=34).contains(&b.len())
            && b.iter().take(2).all(u8::is_ascii_uppercase)
            && b.iter().skip(2).take(2).all(u8::is_ascii_digit)
            && b.iter().all(u8::is_ascii_alphanumeric);
        if !shaped {
            return Err(IbanError::Shape);
        }
        // Move the first four characters to the end; letters become 10..35; mod 97 must be 1.
        let mut rem: u32 = 0;
        for c in b.iter().skip(4).chain(b.iter().take(4)) {
            let v = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c - b'A') + 10 };
            rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
        }
        if rem != 1 {
            return Err(IbanError::Checksum);
        }
        Ok(Self(s))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last four characters, the only part shown once stored.
    #[must_use]
    pub fn last4(&self) -> &str {
        self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("")
    }
}

impl fmt::Debug for Iban {
    /// Never prints the whole number (logs, panics).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Iban(…{})", self.last4())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_are_checked() {
        let iban = Iban::parse("fr76 3000 6000 0112 3456 7890 189").unwrap();
        assert_eq!(iban.as_str(), "FR7630006000011234567890189");
        assert_eq!(iban.last4(), "0189");
        assert_eq!(format!("{iban:?}"), "Iban(…0189)");
        assert!(Iban::parse("GB82 WEST 1234 5698 7654 32").is_ok());
        assert_eq!(Iban::parse("FR7630006000011234567890188"), Err(IbanError::Checksum));
        assert_eq!(Iban::parse("FR76"), Err(IbanError::Shape));
        assert_eq!(Iban::parse("7630006000011234567890189FR"), Err(IbanError::Shape));
        assert_eq!(Iban::parse("FR76-3000-6000-0112-3456-7890-189"), Err(IbanError::Shape));
    }
}
