//! Tests of the rules language: parsing with pointed errors, type checks, three-valued
//! evaluation, action precedence, and property tests over generated rules and arbitrary text.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::*;

fn schema() -> Schema {
    Schema::new()
        .attribute("amount", AttributeType::Number)
        .attribute("risk_score", AttributeType::Number)
        .attribute("cards_per_ip_24h", AttributeType::Number)
        .attribute("average_amount", AttributeType::Number)
        .attribute("email", AttributeType::Text)
        .attribute("card_country", AttributeType::Text)
        .attribute("shipping_country", AttributeType::Text)
        .attribute("new_device", AttributeType::Bool)
        .attribute("mfa", AttributeType::Bool)
        .list("blocked_emails")
}

fn lists() -> HashMap<String, HashSet<String>> {
    HashMap::from([("blocked_emails".to_owned(), HashSet::from(["fraud@example.com".to_owned()]))])
}

fn features(pairs: &[(&str, Value)]) -> Features {
    let s = schema();
    let mut f = s.features();
    for (name, value) in pairs {
        f.set(&s, name, value.clone()).unwrap();
    }
    f
}

fn rule(text: &str) -> Rule {
    Rule::parse("r", text, Mode::Active, &schema()).unwrap_or_else(|e| panic!("{}", e.pointing_into(text)))
}

fn error(text: &str) -> RuleError {
    Rule::parse("r", text, Mode::Active, &schema()).unwrap_err()
}

#[test]
fn radar_style_rules_parse_and_match() {
    let f = features(&[
        ("amount", Value::Number(12_000.0)),
        ("risk_score", Value::Number(80.0)),
        ("email", Value::Text("Fraud@Example.com".into())),
        ("card_country", Value::Text("FR".into())),
        ("shipping_country", Value::Text("US".into())),
        ("new_device", Value::Bool(true)),
    ]);
    let l = lists();
    for (text, expected) in [
        ("Block if :risk_score: > 75", true),
        ("block if :risk_score: > 80", false),
        ("block if :risk_score: >= 80", true),
        ("block if 75 < :risk_score:", true),
        ("review if :email: in @blocked_emails", true),
        ("review if :email: not in @blocked_emails", false),
        ("review if :card_country: != :shipping_country:", true),
        ("review if :card_country: in ('fr', 'DE')", true),
        ("review if :card_country: not in ('FR', 'DE')", false),
        ("step_up if :new_device: and :amount: > 100_00", true),
        ("step_up if not :new_device:", false),
        ("allow if true", true),
        ("block if (:amount: > 1 or :risk_score: < 0) and not (:card_country: = 'fr')", false),
        ("block if :amount: = 12000", true),
    ] {
        assert_eq!(rule(text).matches(&f, &l), expected, "{text}");
    }
}

#[test]
fn a_missing_attribute_is_unknown_not_false() {
    let f = features(&[("amount", Value::Number(10.0))]);
    let l = lists();
    // :risk_score: is missing: neither the test nor its negation matches.
    assert!(!rule("block if :risk_score: > 75").matches(&f, &l));
    assert!(!rule("block if not (:risk_score: > 75)").matches(&f, &l));
    assert!(!rule("block if :mfa:").matches(&f, &l));
    // Known parts decide where they can.
    assert!(rule("block if :amount: = 10 or :risk_score: > 75").matches(&f, &l));
    assert!(!rule("block if :amount: = 10 and :risk_score: > 75").matches(&f, &l));
    assert!(rule("block if not (:amount: = 11 and :risk_score: > 75)").matches(&f, &l));
}

#[test]
fn errors_name_the_problem_and_point_at_it() {
    for (text, column, words) in [
        ("", 1, "starts with its action"),
        ("deny if :amount: > 1", 1, "starts with its action"),
        ("block :amount: > 1", 7, "'if'"),
        ("block if :amount > 1", 10, "between colons"),
        ("block if :amonut: > 1", 10, "no attribute :amonut:"),
        ("block if :amount: > 'ten'", 21, "number cannot be compared with a text"),
        ("block if :email: > 'a'", 18, "only compares numbers"),
        ("block if :email: = :amount:", 20, "text cannot be compared with a number"),
        ("block if :amount: in @blocked_emails", 10, "only a text attribute"),
        ("block if :email: in @nope", 21, "no list @nope"),
        ("block if :email: in ('a', 1)", 27, "holds text values"),
        ("block if :email: in ('a' 'b')", 26, "',' or ')'"),
        ("block if (:amount: > 1", 23, "')'"),
        ("block if :amount: > 1 :amount:", 23, "the end of the rule"),
        ("block if :amount:", 18, "a comparison"),
        ("block if 1 = 1", 10, "compare an attribute"),
        ("block if :amount: > 1 and", 26, "an attribute"),
        ("block if 'x' in @blocked_emails", 10, "'in' tests an attribute"),
    ] {
        let e = error(text);
        assert_eq!(e.column, column, "{text}: {e}");
        assert!(e.message.contains(words), "{text}: {e}");
    }
    let shown = error("block if :amonut: > 1").pointing_into("block if :amonut: > 1");
    assert_eq!(shown, "block if :amonut: > 1\n         ^ there is no attribute :amonut:");
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("block if {}:mfa:{}", "(".repeat(40), ")".repeat(40));
    assert!(error(&deep).message.contains("nesting"));
    let nots = format!("block if {}:mfa:", "not ".repeat(40));
    assert!(error(&nots).message.contains("nesting"));
    let fine = format!("block if {}:mfa:{}", "(".repeat(20), ")".repeat(20));
    rule(&fine);
}

#[test]
fn allow_rules_win_then_the_most_severe_action() {
    let s = schema();
    let set = |rules: &[(&str, &str, Mode)]| {
        RuleSet::new(rules.iter().map(|(id, text, mode)| Rule::parse(id, text, *mode, &s).unwrap()).collect())
    };
    let f = features(&[("amount", Value::Number(500.0)), ("email", Value::Text("a@b.c".into()))]);
    let l = lists();
    let rules = set(&[
        ("su", "step_up if :amount: > 100", Mode::Active),
        ("rv", "review if :amount: > 200", Mode::Active),
        ("no", "block if :amount: > 1000", Mode::Active),
        ("sh", "block if :amount: > 0", Mode::Shadow),
    ]);
    let out = rules.evaluate(&f, &l);
    assert_eq!(out.action, Action::Review);
    assert_eq!(out.matched, ["su", "rv"]);
    assert_eq!(out.shadow_matched, ["sh"]);
    let with_allow = set(&[
        ("bl", "block if :amount: > 100", Mode::Active),
        ("ok", "allow if :email: = 'A@B.C'", Mode::Active),
    ]);
    assert_eq!(with_allow.evaluate(&f, &l).action, Action::Allow);
    assert_eq!(set(&[]).evaluate(&f, &l).action, Action::Allow);
}

#[test]
fn features_refuse_unknown_names_and_wrong_types() {
    let s = schema();
    let mut f = s.features();
    assert!(f.set(&s, "nope", Value::Number(1.0)).is_err());
    assert!(f.set(&s, "amount", Value::Text("1".into())).is_err());
    assert!(f.set(&s, "amount", Value::Number(1.0)).is_ok());
}

/// Rule text built from the grammar, over the test schema.
fn generated_condition() -> impl Strategy<Value = String> {
    let number = prop_oneof![Just(":amount:"), Just(":risk_score:"), Just(":cards_per_ip_24h:")];
    let text = prop_oneof![Just(":email:"), Just(":card_country:"), Just(":shipping_country:")];
    let op = prop_oneof![Just("<"), Just("<="), Just(">"), Just(">="), Just("="), Just("!=")];
    let leaf = prop_oneof![
        (number.clone(), op, -1000i64..100_000).prop_map(|(a, o, n)| format!("{a} {o} {n}")),
        (text.clone(), prop_oneof![Just("="), Just("!=")], "[a-zA-Z' ]{0,6}")
            .prop_map(|(a, o, t)| format!("{a} {o} '{}'", t.replace('\'', "''"))),
        (text.clone(), any::<bool>())
            .prop_map(|(a, n)| format!("{a} {}in @blocked_emails", if n { "not " } else { "" })),
        (text, prop::collection::vec("[A-Z]{2}", 1..4)).prop_map(|(a, v)| format!(
            "{a} in ({})",
            v.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")
        )),
        prop_oneof![Just(":new_device:".to_owned()), Just(":mfa:".to_owned()), Just("true".to_owned())],
        (number.clone(), number).prop_map(|(a, b)| format!("{a} >= {b}")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn generated_features() -> impl Strategy<Value = Vec<Option<Value>>> {
    (
        prop::option::of(-1000i32..100_000),
        prop::option::of(0i32..100),
        prop::option::of(0i32..10),
        prop::option::of(prop_oneof![Just("fraud@example.com"), Just("ok@example.com")]),
        prop::option::of(prop_oneof![Just("FR"), Just("US")]),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(amount, score, cards, email, country, new_device)| {
            vec![
                amount.map(|n| Value::Number(f64::from(n))),
                score.map(|n| Value::Number(f64::from(n))),
                cards.map(|n| Value::Number(f64::from(n))),
                None,
                email.map(|e| Value::Text(e.into())),
                country.map(|c| Value::Text(c.into())),
                Some(Value::Text("US".into())),
                new_device.map(Value::Bool),
                None,
            ]
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No input makes the parser panic; errors point inside the text (or just past it).
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,120}") {
        if let Err(e) = Rule::parse("r", &text, Mode::Active, &schema()) {
            prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e}");
        }
    }

    /// Near-miss rules made of the language's own pieces never panic either.
    #[test]
    fn token_soup_never_panics(pieces in prop::collection::vec(prop_oneof![
        Just("block"), Just("if"), Just(":amount:"), Just(":email:"), Just("@blocked_emails"), Just("("),
        Just(")"), Just("and"), Just("or"), Just("not"), Just("in"), Just(">"), Just("="), Just("'x'"),
        Just("1"), Just(","), Just("true"), Just(":mfa:")], 0..30)) {
        let text = pieces.join(" ");
        let _ = Rule::parse("r", &text, Mode::Active, &schema());
    }

    /// Every generated rule parses, prints canonically, and parses back to the same rule;
    /// the canonical text is a fixed point.
    #[test]
    fn canonical_text_round_trips(condition in generated_condition(), action in prop_oneof![
        Just("allow"), Just("step_up"), Just("review"), Just("block")]) {
        let s = schema();
        let text = format!("{action} if {condition}");
        let parsed = Rule::parse("r", &text, Mode::Active, &s).map_err(|e| TestCaseError::fail(e.pointing_into(&text)))?;
        let canonical = parsed.canonical(&s);
        let again = Rule::parse("r", &canonical, Mode::Active, &s).map_err(|e| TestCaseError::fail(e.pointing_into(&canonical)))?;
        prop_assert_eq!(&again, &parsed);
        prop_assert_eq!(again.canonical(&s), canonical);
    }

    /// `not` is exact negation where the answer is known, and De Morgan's laws hold in the
    /// three-valued logic.
    #[test]
    fn negation_and_de_morgan(a in generated_condition(), b in generated_condition(), values in generated_features()) {
        let s = schema();
        let f = Features { values };
        let l = lists();
        let eval = |text: String| {
            let r = Rule::parse("r", &format!("block if {text}"), Mode::Active, &s).unwrap();
            eval::eval(&r.expr, &f, &l)
        };
        let ea = eval(a.clone());
        prop_assert_eq!(eval(format!("not ({a})")), ea.map(|x| !x));
        prop_assert_eq!(
            eval(format!("not (({a}) and ({b}))")),
            eval(format!("not ({a}) or not ({b})"))
        );
        prop_assert_eq!(
            eval(format!("not (({a}) or ({b}))")),
            eval(format!("not ({a}) and not ({b})"))
        );
    }
}
