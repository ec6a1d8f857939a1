//! Links and addresses in messages: every domain-like token (a URL with or without its
//! scheme, or an email address) is compared with Souk's own domains to catch look-alikes,
//! and otherwise reported as a link leaving Souk, an email address, or a messaging-app link.

use super::fold::{self, Fold};
use super::punycode;

/// Top-level domains common enough that a bare "name.tld" with no scheme is taken for a
/// link. Two-letter country codes, internationalised TLDs and the TLDs of Souk's own domains
/// are always accepted; other words after a dot ("file.txt", "Tomorrow.Then") are not.
const COMMON_TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "app", "dev", "page", "site", "online", "store", "shop", "xyz",
    "top", "club", "live", "link", "click", "help", "support", "icu", "vip", "buzz", "zip", "mov", "email",
    "services", "secure", "login", "account", "pay", "money", "bank", "cash", "tech", "cloud", "website",
    "space", "fun", "today", "world", "life", "news", "blog", "art", "design", "market", "deals", "sale",
    "delivery", "express", "gift", "gifts", "win", "bid", "loan", "finance", "trade", "one", "pro", "mobi",
    "name", "asia", "global", "group", "boutique", "paris", "amazon", "google",
];

/// Hosts whose links lead to a conversation outside Souk: messaging apps and social profiles.
const CONTACT_HOSTS: &[&str] = &[
    "wa.me",
    "whatsapp.com",
    "t.me",
    "telegram.me",
    "telegram.org",
    "telegram.dog",
    "m.me",
    "messenger.com",
    "signal.me",
    "signal.group",
    "discord.gg",
    "discord.com",
    "instagram.com",
    "facebook.com",
    "fb.com",
    "fb.me",
    "snapchat.com",
    "tiktok.com",
    "twitter.com",
    "x.com",
    "line.me",
    "wechat.com",
    "viber.com",
    "skype.com",
];

/// Second-level labels under which registries sell names ("shop.co.uk", "shop.com.au").
const SECOND_LEVELS: &[&str] =
    &["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gouv", "nom"];

/// Souk's own hosts, prepared for comparison.
pub(super) struct OwnDomains(Vec<Own>);

struct Own {
    /// As configured, lower-cased: links to it or its subdomains are Souk's own.
    host: String,
    /// Its skeleton: look-alike letters folded.
    skeleton: String,
    /// The skeleton without dots and hyphens, to find the name run into another domain.
    flat: String,
    /// The skeleton of the registrable label ("souk" in "souk.example") and of what follows
    /// it ("example").
    label: String,
    suffix: String,
    tld: String,
}

impl OwnDomains {
    pub(super) fn new(domains: &[&str]) -> Self {
        Self(
            domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_lowercase())
                .filter(|d| valid_host(d).is_some())
                .map(|host| {
                    let skeleton = skeleton(&host);
                    let (label, suffix) = registrable(&skeleton);
                    Own {
                        flat: flatten(&skeleton),
                        label: label.to_owned(),
                        suffix: suffix.to_owned(),
                        tld: host.rsplit('.').next().unwrap_or_default().to_owned(),
                        skeleton,
                        host,
                    }
                })
                .collect(),
        )
    }

    fn own(&self, host: &str) -> bool {
        self.0
            .iter()
            .any(|o| host == o.host || host.strip_suffix(o.host.as_str()).is_some_and(|s| s.ends_with('.')))
    }

    /// The own domain that `link` imitates, if any. With `strict`, only the closest
    /// resemblances count: used for bare tokens that may not be domains at all.
    fn imitated_by(&self, link: &Link, strict: bool) -> Option<&str> {
        let skel = skeleton(&link.host);
        let flat = flatten(&skel);
        let (label, suffix) = registrable(&skel);
        // An email address's "+tag" is the owner's own label for the site ("marie+souk@…"),
        // not a disguise.
        let userinfo = link.userinfo.as_deref().map(|u| match link.shape {
            Shape::Email => skeleton(u.split('+').next().unwrap_or_default()),
            _ => skeleton(u),
        });
        self.0.iter().find_map(|own| {
            let same_suffix = suffix == own.suffix;
            // Every letter a look-alike of the own domain's ("s0uk.example", "sоuk.example",
            // "souk.exarnple"), or of one of its subdomains.
            let homoglyph =
                skel == own.skeleton || skel.strip_suffix(&own.skeleton).is_some_and(|s| s.ends_with('.'));
            // The name kept and the ending misspelt ("souk.exampel").
            let near_suffix = label == own.label && within(suffix, &own.suffix, 2);
            // The name misspelt ("suok.example", "souq.example").
            let near_label = within(label, &own.label, label_edits(own.label.chars().count(), same_suffix));
            if homoglyph || near_suffix || (near_label && same_suffix) {
                return Some(own.host.as_str());
            }
            if strict {
                return None;
            }
            let long_enough = own.flat.chars().count() >= 4;
            // The whole own domain run into another ("souk-example.com", "souk.example.evil.com").
            let embedded = long_enough && flat.contains(&own.flat);
            // The name as one part of another domain ("souk-payments.net", "secure.souk.io").
            let brand = own.label.chars().count() >= 4 && has_part(&skel, &own.label);
            // "https://souk.example@evil.com" and "souk.support@mail.example" put the name
            // before an "@", where people read it and browsers ignore it.
            let userinfo_trick = userinfo.as_deref().is_some_and(|u| {
                (long_enough && flatten(u).contains(&own.flat))
                    || (own.label.chars().count() >= 4 && has_part(u, &own.label))
            });
            // "https://evil.example/souk.example/login" shows the own domain in the path.
            let in_path = link.path.contains(own.host.as_str());
            (near_label || embedded || brand || userinfo_trick || in_path).then_some(own.host.as_str())
        })
    }

    fn knows_tld(&self, tld: &str) -> bool {
        self.0.iter().any(|o| o.tld == tld)
    }
}

/// What the links and addresses of a message amount to.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Links {
    /// Each look-alike (its host, as "name@host" when there is an "@") with the own domain
    /// it imitates, in order of appearance.
    pub(super) lookalikes: Vec<(String, String)>,
    /// Hosts of links leaving Souk that imitate nothing, in order of appearance.
    pub(super) external: Vec<String>,
    /// An email address, or a link to a messaging app or a social profile.
    pub(super) contact: bool,
}

/// A domain-like token.
#[derive(Debug)]
struct Link {
    /// Lower-cased, without port or trailing dot.
    host: String,
    /// What came before an "@": an email address's local part or a URL's user info.
    userinfo: Option<String>,
    /// What came after the host (path, query, fragment), lower-cased.
    path: String,
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// With a scheme or a "www." prefix: a link whatever its TLD.
    Url,
    /// "name@host" without a scheme.
    Email,
    /// "name.tld" alone, with a plausible TLD.
    Bare,
    /// "word.word" with an unusual last word: only a close look-alike counts.
    Doubtful,
}

pub(super) fn scan(text: &str, own: &OwnDomains) -> Links {
    let mut links = Links::default();
    for token in tokens(text) {
        let Some(link) = parse(&token, own) else { continue };
        if link.shape == Shape::Email && !own.own(&link.host) {
            links.contact = true;
        }
        if link.shape != Shape::Doubtful && is_contact_host(&link.host) {
            links.contact = true;
        }
        if own.own(&link.host) {
            continue;
        }
        if let Some(imitated) = own.imitated_by(&link, link.shape == Shape::Doubtful) {
            // The address is shown as written, with what comes before an "@": that is
            // where the disguise often is, and what the reader will recognise.
            let shown = match link.userinfo {
                Some(u) => format!("{u}@{}", link.host),
                None => link.host,
            };
            links.lookalikes.push((shown, imitated.to_owned()));
        } else if matches!(link.shape, Shape::Url | Shape::Bare) {
            links.external.push(link.host);
        }
    }
    links
}

/// Splits text into runs of characters that can appear in a URL or an address. Full stops
/// of other scripts ("。", "．") become dots, as browsers treat them, and invisible
/// characters are dropped, as a reader does not see them.
fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut current = String::new();
    let mut chars = text.chars();
    std::iter::from_fn(move || {
        for c in chars.by_ref() {
            let c = if matches!(c, '。' | '．' | '｡') { '.' } else { c };
            let url_char = c.is_alphanumeric() || "-._~:/?#@!$&*+=%".contains(c);
            if url_char {
                current.push(c);
            } else if fold::fold(c) == Fold::Drop {
                // Invisible: not a separator either.
            } else if !current.is_empty() {
                return Some(std::mem::take(&mut current));
            }
        }
        (!current.is_empty()).then(|| std::mem::take(&mut current))
    })
}

/// Reads a token as a link or an address, if it is shaped like one.
fn parse(token: &str, own: &OwnDomains) -> Option<Link> {
    let token = token.trim_matches(|c: char| matches!(c, '.' | ',' | ':' | ';' | '!' | '?' | '*'));
    let (scheme, rest) = match token.split_once("://") {
        // The scheme is the letters just before "://", even when glued to a word
        // ("Login:https://…").
        Some((before, rest)) => {
            let scheme = before.rsplit(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or_default();
            if scheme.is_empty() {
                return None;
            }
            (true, rest)
        }
        // Without a scheme, a colon not followed by a port glues a word to the address
        // ("Login:souk-example.com", "mailto:marie@example.org").
        None => match token.split_once(':') {
            Some((_, after)) if !after.starts_with(|c: char| c.is_ascii_digit()) => {
                (false, token.rsplit(':').next().unwrap_or(token))
            }
            _ => (false, token),
        },
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let host = match host_port.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        Some(_) => return None,
        None => host_port,
    };
    let host = host.trim_end_matches('.').to_lowercase();
    let tld = valid_host(&host)?;
    let shape = if scheme || host.starts_with("www.") {
        Shape::Url
    } else if let Some(local) = userinfo {
        let local_ok =
            !local.is_empty() && local.chars().all(|c| c.is_alphanumeric() || "._%+-!#$&*=?~".contains(c));
        if !local_ok {
            return None;
        }
        Shape::Email
    } else if (tld.len() == 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()))
        || !tld.is_ascii()
        || tld.starts_with("xn--")
        || COMMON_TLDS.contains(&tld)
        || own.knows_tld(tld)
    {
        Shape::Bare
    } else {
        Shape::Doubtful
    };
    let path = rest.get(authority.len()..).unwrap_or_default().to_lowercase();
    Some(Link { userinfo: userinfo.filter(|u| !u.is_empty()).map(str::to_lowercase), host, path, shape })
}

/// Checks a host's shape and returns its top-level label: at least two labels of letters,
/// digits and hyphens, the last one with a letter.
fn valid_host(host: &str) -> Option<&str> {
    if host.len() > 253 {
        return None;
    }
    let mut labels = 0;
    for label in host.split('.') {
        let ok = (1..=63).contains(&label.len()) && label.chars().all(|c| c.is_alphanumeric() || c == '-');
        if !ok {
            return None;
        }
        labels += 1;
    }
    let tld = host.rsplit('.').next()?;
    // A top-level label has a letter: "12.50" and "10.0.0.1" are numbers. Digits are
    // allowed beside letters, as a disguise ("souk.examp1e") is still a look-alike.
    let tld_ok = tld.chars().count() >= 2 && tld.chars().any(char::is_alphabetic);
    (labels >= 2 && tld_ok).then_some(tld)
}

fn is_contact_host(host: &str) -> bool {
    CONTACT_HOSTS.iter().any(|h| host == *h || host.strip_suffix(h).is_some_and(|s| s.ends_with('.')))
}

/// A host as a reader sees it: Punycode labels decoded, then every letter folded to its
/// look-alike skeleton, and the letter pairs that pass for one letter ("rn" for "m", "vv"
/// for "w", "cl" for "d") merged.
fn skeleton(text: &str) -> String {
    let decoded: Vec<String> = text
        .split('.')
        .map(|label| {
            label
                .strip_prefix("xn--")
                .and_then(punycode::decode)
                .map_or_else(|| label.to_owned(), |d| d.to_lowercase())
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    for c in decoded.join(".").chars() {
        if matches!(c, '.' | '-') {
            out.push(c);
            continue;
        }
        match fold::fold(c) {
            Fold::One(b) => out.push(char::from(fold::skeleton(b))),
            Fold::Two(a, b) => {
                out.push(char::from(fold::skeleton(a)));
                out.push(char::from(fold::skeleton(b)));
            }
            Fold::Other => out.push(c),
            Fold::Drop => {}
            Fold::Separator => out.push('-'),
        }
    }
    out.replace("rn", "m").replace("vv", "w").replace("cl", "d")
}

fn flatten(skeleton: &str) -> String {
    skeleton.chars().filter(|c| !matches!(c, '.' | '-')).collect()
}

/// The label a registrant chose and what follows it: ("souk", "example") for
/// "souk.example", ("souk", "co.uk") for "www.souk.co.uk", ("souk", "com.au") for
/// "souk.com.au".
fn registrable(skeleton: &str) -> (&str, &str) {
    let Some((rest, tld)) = skeleton.rsplit_once('.') else { return (skeleton, "") };
    let (rest, suffix) = match rest.rsplit_once('.') {
        Some((before, second)) if SECOND_LEVELS.contains(&second) && tld.len() == 2 => {
            (before, skeleton.get(before.len() + 1..).unwrap_or(tld))
        }
        _ => (rest, tld),
    };
    (rest.rsplit('.').next().unwrap_or(rest), suffix)
}

/// Whether `part` is one of the dot- or hyphen-separated parts of `text`.
fn has_part(text: &str, part: &str) -> bool {
    text.split(['.', '-', '_', '+']).any(|p| p == part)
}

/// How many edits to the registrable label still make a look-alike. Short names are one
/// letter away from ordinary words ("souk": "soup", "sour", "sock"), so they get one edit
/// only under the own domain's own ending, and none elsewhere ("soup.com" is a soup site).
fn label_edits(len: usize, same_suffix: bool) -> usize {
    let same = usize::from(same_suffix);
    match len {
        0..=4 => same,
        5..=7 => 1 + same,
        _ => 2,
    }
}

/// Whether the optimal-string-alignment distance (Levenshtein plus swaps of neighbours)
/// between `a` and `b` is at most `max`.
fn within(a: &str, b: &str, max: usize) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    let width = b.len() + 1;
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = current.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let get = |row: &[usize], k: usize| row.get(k).copied().unwrap_or(usize::MAX / 2);
            let substitute = get(&previous, j) + usize::from(ca != cb);
            let delete = get(&previous, j + 1) + 1;
            let insert = get(&current, j) + 1;
            let mut best = substitute.min(delete).min(insert);
            let swapped = i > 0 && j > 0 && a.get(i - 1) == Some(cb) && b.get(j - 1) == Some(ca) && ca != cb;
            if swapped {
                best = best.min(get(&before, j - 1) + 1);
            }
            if let Some(cell) = current.get_mut(j + 1) {
                *cell = best;
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().is_some_and(|d| *d <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_own(text: &str) -> Links {
        scan(text, &OwnDomains::new(&["souk.example"]))
    }

    fn lookalike(text: &str) -> Option<(String, String)> {
        scan_own(text).lookalikes.into_iter().next()
    }

    #[test]
    fn distance_counts_edits_and_swaps() {
        assert!(within("souk", "souk", 0));
        assert!(within("suok", "souk", 1), "a swap is one edit");
        assert!(!within("suok", "souk", 0));
        assert!(within("souk.exampel", "souk.example", 1));
        assert!(within("souk.exmple", "souk.example", 1));
        assert!(within("soukk.exanple", "souk.example", 2));
        assert!(!within("souk.shop", "souk.example", 2));
        assert!(within("", "ab", 2) && !within("", "abc", 2));
    }

    #[test]
    fn own_domains_and_their_subdomains_are_never_flagged() {
        for text in [
            "see https://souk.example/listings/42",
            "souk.example",
            "https://help.souk.example/faq",
            "HTTPS://WWW.SOUK.EXAMPLE:443/",
            "write to support@souk.example",
            "https://evil.example@souk.example/",
        ] {
            assert_eq!(scan_own(text), Links::default(), "{text:?}");
        }
    }

    #[test]
    fn lookalikes_of_every_kind_are_flagged() {
        for (text, shown) in [
            ("https://souk-example.com/login", "souk-example.com"),
            ("souk.example.evil.com/pay", "souk.example.evil.com"),
            ("https://souk.example@evil.com/pay", "souk.example@evil.com"),
            ("souk.example@evil.com", "souk.example@evil.com"),
            ("http://s0uk.example", "s0uk.example"),
            ("souk.exarnple", "souk.exarnple"),
            ("souk.exannple", "souk.exannple"),
            ("souk.exampel", "souk.exampel"),
            ("souq.example", "souq.example"),
            ("sоuk.example", "sоuk.example"),
            ("https://xn--suk-sed.example/", "xn--suk-sed.example"),
            ("https://souk.examp1e/", "souk.examp1e"),
            ("www.souk.exampel", "www.souk.exampel"),
            ("suok.example", "suok.example"),
            ("souk.com", "souk.com"),
            ("https://souk-payments.net", "souk-payments.net"),
            ("secure.souk.co.uk", "secure.souk.co.uk"),
            ("soukexample.shop", "soukexample.shop"),
            ("souk.example。evil.com", "souk.example.evil.com"),
            ("support@souk-example.com", "support@souk-example.com"),
            ("souk.support@mail.example.org", "souk.support@mail.example.org"),
            ("https://evil.example.net/souk.example/login", "evil.example.net"),
            ("Login:souk-example.com", "souk-example.com"),
            ("Login:https://souk-example.com", "souk-example.com"),
        ] {
            assert_eq!(
                lookalike(text),
                Some((shown.to_owned(), "souk.example".to_owned())),
                "{text:?} should imitate souk.example"
            );
        }
    }

    #[test]
    fn unrelated_links_are_external_and_other_words_are_not_links() {
        let links =
            scan_own("photos at https://atlas-ceramics.com/gallery and www.example.org, see atlas.fr");
        assert!(links.lookalikes.is_empty());
        assert_eq!(links.external, ["atlas-ceramics.com", "www.example.org", "atlas.fr"]);
        for text in [
            "the file.txt and photo.jpg",
            "e.g. this, i.e. that",
            "I visited the souk.Tomorrow I ship",
            "version 1.2.3",
            "soup.com",
            "It costs 12.50",
            "the table is 1.2m wide",
        ] {
            let links = scan_own(text);
            assert!(links.lookalikes.is_empty(), "{text:?}: {links:?}");
            if text != "soup.com" {
                assert!(links.external.is_empty(), "{text:?}: {links:?}");
            }
        }
    }

    #[test]
    fn a_site_tag_in_an_email_address_is_not_a_disguise() {
        let links = scan_own("write to marie.dupont+souk@example.org");
        assert!(links.lookalikes.is_empty() && links.contact);
    }

    #[test]
    fn emails_and_messaging_links_are_contact_details() {
        for text in [
            "marie@example.org",
            "mailto:marie@example.org",
            "wa.me/33612345678",
            "https://t.me/marie",
            "instagram.com/atlas",
        ] {
            assert!(scan_own(text).contact, "{text:?}");
        }
        assert!(!scan_own("support@souk.example").contact);
        assert!(!scan_own("@marie").contact);
    }

    #[test]
    fn without_own_domains_nothing_is_a_lookalike() {
        let links = scan("https://souk-example.com", &OwnDomains::new(&[]));
        assert!(links.lookalikes.is_empty());
        assert_eq!(links.external, ["souk-example.com"]);
    }

    #[test]
    fn registrable_labels_and_suffixes() {
        assert_eq!(registrable("souk.example"), ("souk", "example"));
        assert_eq!(registrable("www.souk.co.uk"), ("souk", "co.uk"));
        assert_eq!(registrable("souk.com.au"), ("souk", "com.au"));
        assert_eq!(registrable("a.b.souk.fr"), ("souk", "fr"));
        assert_eq!(registrable("co.uk"), ("co", "uk"));
        assert_eq!(registrable("localhost"), ("localhost", ""));
    }

    #[test]
    fn ordinary_words_one_letter_from_a_short_name_are_not_lookalikes_elsewhere() {
        for text in ["book.com", "soup.com", "look.example", "https://cook.fr/recipes"] {
            assert!(scan_own(text).lookalikes.is_empty(), "{text:?}");
        }
        let own_com = OwnDomains::new(&["souk.com"]);
        assert!(scan("book.com and look.com", &own_com).lookalikes.is_empty());
        assert_eq!(scan("soup.com", &own_com).lookalikes.len(), 1, "one edit under the own ending");
    }
}
