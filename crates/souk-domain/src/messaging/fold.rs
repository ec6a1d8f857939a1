//! Folding characters to a matching skeleton: case, accents, look-alike letters of other
//! scripts, fullwidth, circled and mathematical letter forms, and leetspeak digits all
//! become plain ASCII, so "Р4yраl" and "paypal" fold to the same bytes.
//!
//! A skeleton is only ever compared with another skeleton; it is never shown or stored.

/// What one character of a message becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fold {
    /// Nothing at all: combining marks and invisible characters, which obfuscators put
    /// inside words ("pay\u{200b}pal") precisely because they show nothing.
    Drop,
    /// One ASCII letter or digit (letters lower-cased).
    One(u8),
    /// Two ASCII letters, for ligatures such as "œ" and "ß".
    Two(u8, u8),
    /// A letter or digit with no ASCII look-alike: part of a word, never of a keyword.
    Other,
    /// Anything else: it separates words.
    Separator,
}

/// Folds one character. Case-specific look-alikes are matched before lower-casing because
/// lower-casing loses them (Greek "Η" looks like "H", its lower case "η" like "n").
pub(super) fn fold(c: char) -> Fold {
    if c.is_ascii_alphanumeric() {
        return Fold::One(c.to_ascii_lowercase() as u8);
    }
    if c.is_ascii() {
        return Fold::Separator;
    }
    if is_invisible(c) {
        return Fold::Drop;
    }
    if let Some(b) = wide_or_styled(c) {
        return Fold::One(b);
    }
    if let Some(b) = confusable(c) {
        return Fold::One(b);
    }
    let mut lower = c.to_lowercase();
    let c = match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    };
    if let Some(folded) = latin(c) {
        return folded;
    }
    if let Some(b) = confusable(c) {
        return Fold::One(b);
    }
    if c.is_alphanumeric() { Fold::Other } else { Fold::Separator }
}

/// The skeleton of an ASCII letter or digit: leetspeak digits become the letters they stand
/// for, and "i", "l" and "1" (which many fonts and obfuscators use interchangeably) become
/// one letter.
pub(super) const fn skeleton(b: u8) -> u8 {
    match b {
        b'0' => b'o',
        b'1' | b'i' => b'l',
        b'3' => b'e',
        b'4' => b'a',
        b'5' => b's',
        other => other,
    }
}

/// The skeleton of a whole ASCII string, for keywords written in the source.
pub(super) fn skeleton_of(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii_alphanumeric).map(|b| skeleton(b.to_ascii_lowercase())).collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}' | '\u{FE00}'..='\u{FE0F}' | '\u{FE20}'..='\u{FE2F}'
        | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Fullwidth, circled, squared and mathematical alphanumerics: the same letters in another
/// dress.
fn wide_or_styled(c: char) -> Option<u8> {
    let n = u32::from(c);
    let letter = |i: u32| u8::try_from(i % 26).ok().map(|i| b'a' + i);
    let digit = |i: u32| u8::try_from(i % 10).ok().map(|i| b'0' + i);
    match n {
        0xFF10..=0xFF19 => digit(n - 0xFF10),
        0xFF21..=0xFF3A => letter(n - 0xFF21),
        0xFF41..=0xFF5A => letter(n - 0xFF41),
        0x249C..=0x24B5 => letter(n - 0x249C),
        0x24B6..=0x24CF => letter(n - 0x24B6),
        0x24D0..=0x24E9 => letter(n - 0x24D0),
        // Squared, negative circled and negative squared capitals, and the regional
        // indicators that pair into flags but read as letters on their own.
        0x1F130..=0x1F149 => letter(n - 0x1F130),
        0x1F150..=0x1F169 => letter(n - 0x1F150),
        0x1F170..=0x1F189 => letter(n - 0x1F170),
        0x1F1E6..=0x1F1FF => letter(n - 0x1F1E6),
        // Mathematical Alphanumeric Symbols: thirteen alphabets of 52 letters (upper then
        // lower case), then five sets of ten digits.
        0x1D400..=0x1D6A3 => letter((n - 0x1D400) % 52),
        0x1D7CE..=0x1D7FF => digit(n - 0x1D7CE),
        _ => None,
    }
}

/// Cyrillic, Greek, IPA and letterlike symbols that look like Latin letters in common
/// fonts. The letterlike symbols fill the holes of the mathematical alphabets ("ℯ" is the
/// script small e).
fn confusable(c: char) -> Option<u8> {
    Some(match c {
        'А' | 'а' | 'Α' | 'α' | 'ɑ' => b'a',
        'В' | 'в' | 'Β' | 'β' | 'Ь' | 'ь' | 'ℬ' => b'b',
        'С' | 'с' | 'Ϲ' | 'ϲ' | 'ℂ' | 'ℭ' => b'c',
        'ԁ' => b'd',
        'Е' | 'е' | 'Ε' | 'ε' | 'Ё' | 'ё' | 'ℯ' | 'ℰ' => b'e',
        'ℱ' => b'f',
        'ɡ' | 'ℊ' => b'g',
        'Н' | 'н' | 'Η' | 'һ' | 'ℋ' | 'ℌ' | 'ℍ' | 'ℎ' => b'h',
        'І' | 'і' | 'Ι' | 'ι' | 'ı' | 'ɩ' | 'Ї' | 'ї' | 'ℐ' | 'ℑ' => b'i',
        'Ј' | 'ј' | 'ȷ' => b'j',
        'К' | 'к' | 'Κ' | 'κ' => b'k',
        'Ӏ' | 'ӏ' | 'ℒ' | 'ℓ' => b'l',
        'М' | 'м' | 'Μ' | 'ℳ' => b'm',
        'Ν' | 'η' | 'п' | 'ℕ' => b'n',
        'О' | 'о' | 'Ο' | 'ο' | 'σ' | 'ℴ' => b'o',
        'Р' | 'р' | 'Ρ' | 'ρ' | 'ℙ' => b'p',
        'Ԛ' | 'ԛ' | 'ℚ' => b'q',
        'г' | 'ℛ' | 'ℜ' | 'ℝ' => b'r',
        'Ѕ' | 'ѕ' => b's',
        'Т' | 'т' | 'Τ' | 'τ' => b't',
        'υ' | 'μ' => b'u',
        'ν' | 'ѵ' => b'v',
        'Ԝ' | 'ԝ' | 'ω' | 'ѡ' => b'w',
        'Х' | 'х' | 'Χ' | 'χ' => b'x',
        'У' | 'у' | 'Υ' | 'Ү' | 'ү' | 'γ' => b'y',
        'Ζ' | 'ℤ' => b'z',
        _ => return None,
    })
}

/// Latin letters with diacritics, and ligatures, as their base letters.
fn latin(c: char) -> Option<Fold> {
    let one = |b: u8| Some(Fold::One(b));
    match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' | 'ǎ' => one(b'a'),
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => one(b'c'),
        'ď' | 'đ' | 'ð' => one(b'd'),
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => one(b'e'),
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => one(b'g'),
        'ĥ' | 'ħ' => one(b'h'),
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ǐ' | 'İ' => one(b'i'),
        'ĵ' => one(b'j'),
        'ķ' => one(b'k'),
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => one(b'l'),
        'ñ' | 'ń' | 'ņ' | 'ň' => one(b'n'),
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ǒ' => one(b'o'),
        'ŕ' | 'ŗ' | 'ř' => one(b'r'),
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => one(b's'),
        'ţ' | 'ť' | 'ŧ' | 'ț' => one(b't'),
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ǔ' => one(b'u'),
        'ŵ' => one(b'w'),
        'ý' | 'ÿ' | 'ŷ' => one(b'y'),
        'ź' | 'ż' | 'ž' => one(b'z'),
        'æ' => Some(Fold::Two(b'a', b'e')),
        'œ' => Some(Fold::Two(b'o', b'e')),
        'ß' => Some(Fold::Two(b's', b's')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skeleton_text(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match fold(c) {
                Fold::One(b) => out.push(char::from(skeleton(b))),
                Fold::Two(a, b) => {
                    out.push(char::from(skeleton(a)));
                    out.push(char::from(skeleton(b)));
                }
                Fold::Other => out.push('*'),
                Fold::Drop => {}
                Fold::Separator => out.push(' '),
            }
        }
        out
    }

    #[test]
    fn disguised_letters_fold_to_the_same_skeleton() {
        let plain = skeleton_text("paypal");
        for disguised in [
            "PayPal",
            "P4YP4L",
            "pаypаl",       // Cyrillic а
            "ΡΑΥΡΑL",       // Greek capitals
            "ｐａｙｐａｌ", // fullwidth
            "𝐩𝐚𝐲𝐩𝐚𝐥",       // mathematical bold
            "ⓟⓐⓨⓟⓐⓛ",
            "🇵🇦🇾🇵🇦🇱",
            "🅿🅰🆈🅿🅰🅻",
            "𝓅𝒶𝓎𝓅𝒶ℓ",
            "pay\u{200B}pal",
            "pa\u{0301}ypal",
            "pàypàl",
        ] {
            assert_eq!(skeleton_text(disguised), plain, "{disguised:?}");
        }
        assert_eq!(skeleton_text("b1tco1n"), skeleton_text("bitcoin"));
        assert_eq!(skeleton_text("c0ordonnées"), skeleton_text("coordonnees"));
        assert_eq!(skeleton_text("œuvre straße"), "oeuvre strasse");
    }

    #[test]
    fn other_scripts_stay_words_and_punctuation_separates() {
        assert_eq!(skeleton_text("سوق 東京"), "*** **");
        assert_eq!(skeleton_text("a.b-c…d"), "a b c d");
    }
}
