//! The built-in processor simulator: behaves like a processor's test mode. The documented
//! [`TEST_CARDS`] succeed, decline for a given reason, ask for a 3-D Secure challenge, fail
//! with a processing error, or time out; any other valid card number is authorized.
//!
//! It keeps its own record keyed by idempotency key, in memory, like a real processor's
//! (so a repeated key never charges twice and [`PaymentConnector::status`] answers after a
//! timeout). It stores no card number: a record holds the brand and last four digits only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use souk_domain::{Entropy, Money};

use crate::connector::card::Brand;
use crate::connector::{
    AuthorizeRequest, BoxFuture, ChallengeId, ConnectorError, DeclineReason, IdempotencyKey, OperationStatus,
    Outcome, PaymentConnector, PaymentId, RefundId,
};

/// What the simulator does with a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Authorized at once.
    Succeed,
    /// Declined with this reason.
    Decline(DeclineReason),
    /// A 3-D Secure challenge first; authorized if the buyer answers [`CHALLENGE_CODE`],
    /// declined (`authentication_failed`) otherwise.
    Challenge,
    /// A processing error: nothing happens, the caller is told so.
    ProcessingError,
    /// The authorization happens on the processor's side, but the answer never arrives: the
    /// caller gets a timeout and must ask `status` with the same key.
    Timeout,
}

/// A documented test card number and what it does.
#[derive(Debug, Clone, Copy)]
pub struct TestCard {
    pub number: &'static str,
    pub brand: Brand,
    pub behaviour: Behaviour,
    /// The issuer's country (ISO 3166-1 alpha-2), as a BIN lookup would give it.
    pub country: &'static str,
}

/// The simulator's test cards. Use any future expiry date and any CVC of the right length
/// (four digits for Amex). Mirrored in README.md ("Test cards").
pub const TEST_CARDS: &[TestCard] = &[
    TestCard { number: "4242424242424242", brand: Brand::Visa, behaviour: Behaviour::Succeed, country: "US" },
    TestCard {
        number: "5555555555554444",
        brand: Brand::Mastercard,
        behaviour: Behaviour::Succeed,
        country: "US",
    },
    TestCard { number: "378282246310005", brand: Brand::Amex, behaviour: Behaviour::Succeed, country: "US" },
    TestCard {
        number: "4000000000009995",
        brand: Brand::Visa,
        behaviour: Behaviour::Decline(DeclineReason::InsufficientFunds),
        country: "US",
    },
    TestCard {
        number: "4000000000009979",
        brand: Brand::Visa,
        behaviour: Behaviour::Decline(DeclineReason::StolenCard),
        country: "US",
    },
    TestCard {
        number: "4000000000000069",
        brand: Brand::Visa,
        behaviour: Behaviour::Decline(DeclineReason::ExpiredCard),
        country: "US",
    },
    TestCard {
        number: "4000000000000127",
        brand: Brand::Visa,
        behaviour: Behaviour::Decline(DeclineReason::IncorrectCvc),
        country: "US",
    },
    TestCard {
        number: "4000000000003220",
        brand: Brand::Visa,
        behaviour: Behaviour::Challenge,
        country: "US",
    },
    TestCard {
        number: "4000000000000119",
        brand: Brand::Visa,
        behaviour: Behaviour::ProcessingError,
        country: "US",
    },
    TestCard { number: "4000000000007718", brand: Brand::Visa, behaviour: Behaviour::Timeout, country: "US" },
];

/// The one-time code the simulated issuer accepts on its 3-D Secure challenge page.
pub const CHALLENGE_CODE: &str = "123456";

/// The test card with this number, if it is one.
#[must_use]
pub fn test_card(number: &str) -> Option<&'static TestCard> {
    TEST_CARDS.iter().find(|c| c.number == number)
}

/// How the simulator behaves beyond its cards.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatorConfig {
    /// Added to every call, like a processor's round trip.
    pub latency: Duration,
}

/// What a call asked for, to tell a repeated call from a key reused for another request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Authorize { amount: Money, brand: Brand, last4: String, expiry: (u8, u16), reference: String },
    Challenge { payment: PaymentId, challenge: ChallengeId, response: String },
    Capture { payment: PaymentId, amount: Money },
    Void { payment: PaymentId },
    Refund { payment: PaymentId, amount: Money },
}

#[derive(Debug)]
struct Record {
    request: Request,
    result: Result<Outcome, ConnectorError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Challenged,
    Authorized,
    Declined,
    Voided,
}

#[derive(Debug)]
struct Payment {
    state: State,
    challenge: Option<ChallengeId>,
    authorized: Money,
    captured: i64,
    refunded: i64,
}

#[derive(Debug, Default)]
struct Book {
    records: HashMap<IdempotencyKey, Record>,
    payments: HashMap<PaymentId, Payment>,
    /// Authorizations that held funds: what "charged twice" would show.
    charges: usize,
}

/// The simulated processor.
#[derive(Debug)]
pub struct Simulator {
    config: SimulatorConfig,
    entropy: Arc<dyn Entropy>,
    book: Mutex<Book>,
}

impl Simulator {
    #[must_use]
    pub fn new(config: SimulatorConfig, entropy: Arc<dyn Entropy>) -> Self {
        Self { config, entropy, book: Mutex::new(Book::default()) }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many authorizations held funds on a card so far.
    pub fn charges(&self) -> usize {
        self.book().charges
    }

    /// What is captured and refunded on a payment, in minor units.
    pub fn totals(&self, payment: &PaymentId) -> Option<(i64, i64)> {
        self.book().payments.get(payment).map(|p| (p.captured, p.refunded))
    }

    fn reference(&self, prefix: &str) -> String {
        let mut bytes = [0u8; 12];
        self.entropy.fill(&mut bytes);
        // Spelled in the letters a to p (four bits each), never digits: a reference stored
        // by the marketplace must not look like a card number to a scanner for digit runs.
        bytes.iter().fold(prefix.to_owned(), |mut s, b| {
            s.push(char::from(b'a' + (b >> 4)));
            s.push(char::from(b'a' + (b & 0x0f)));
            s
        })
    }

    /// Runs one call under its idempotency key: a repeated key gets the recorded result,
    /// a new key runs `op` and records what it did. `op` returns the recorded result and
    /// whether the caller's answer is lost (a simulated timeout).
    async fn once(
        &self,
        key: &IdempotencyKey,
        request: Request,
        op: impl FnOnce(&Self, &mut Book) -> (Result<Outcome, ConnectorError>, bool),
    ) -> Result<Outcome, ConnectorError> {
        if !self.config.latency.is_zero() {
            tokio::time::sleep(self.config.latency).await;
        }
        let mut book = self.book();
        if let Some(record) = book.records.get(key) {
            return if record.request == request {
                record.result.clone()
            } else {
                Err(ConnectorError::IdempotencyKeyReused)
            };
        }
        let (result, lost) = op(self, &mut book);
        book.records.insert(key.clone(), Record { request, result: result.clone() });
        if lost { Err(ConnectorError::Timeout) } else { result }
    }

    fn authorize_now(
        &self,
        book: &mut Book,
        behaviour: Behaviour,
        amount: Money,
    ) -> (Result<Outcome, ConnectorError>, bool) {
        if amount.minor <= 0 {
            return (Err(ConnectorError::InvalidAmount), false);
        }
        let mut open = |state: State, challenge: Option<ChallengeId>| {
            let payment = PaymentId::new(self.reference("simpay_"));
            book.payments.insert(
                payment.clone(),
                Payment { state, challenge, authorized: amount, captured: 0, refunded: 0 },
            );
            if state == State::Authorized {
                book.charges += 1;
            }
            payment
        };
        match behaviour {
            Behaviour::Succeed => {
                (Ok(Outcome::Authorized { payment: open(State::Authorized, None), amount }), false)
            }
            Behaviour::Timeout => {
                (Ok(Outcome::Authorized { payment: open(State::Authorized, None), amount }), true)
            }
            Behaviour::Decline(reason) => (Ok(Outcome::Declined { reason }), false),
            Behaviour::ProcessingError => (Err(ConnectorError::Processing), false),
            Behaviour::Challenge => {
                let challenge = ChallengeId::new(self.reference("simchl_"));
                let payment = open(State::Challenged, Some(challenge.clone()));
                (Ok(Outcome::ChallengeRequired { payment, challenge }), false)
            }
        }
    }
}

fn payment_mut<'b>(book: &'b mut Book, payment: &PaymentId) -> Result<&'b mut Payment, ConnectorError> {
    book.payments.get_mut(payment).ok_or(ConnectorError::UnknownPayment)
}

fn check_amount(p: &Payment, amount: Money) -> Result<(), ConnectorError> {
    if amount.currency != p.authorized.currency || amount.minor <= 0 {
        return Err(ConnectorError::InvalidAmount);
    }
    Ok(())
}

impl PaymentConnector for Simulator {
    fn name(&self) -> &'static str {
        "simulator"
    }

    fn authorize<'a>(
        &'a self,
        request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>> {
        Box::pin(async move {
            let pan = &request.card.pan;
            let behaviour = match test_card(pan.expose_digits()).map_or(Behaviour::Succeed, |c| c.behaviour) {
                // A challenge the merchant asked for: an issuer that would approve asks first.
                Behaviour::Succeed if request.require_challenge => Behaviour::Challenge,
                other => other,
            };
            let summary = Request::Authorize {
                amount: request.amount,
                brand: pan.brand(),
                last4: pan.last4(),
                expiry: (request.card.expiry.month(), request.card.expiry.year()),
                reference: request.reference.to_owned(),
            };
            self.once(request.idempotency_key, summary, |sim, book| {
                sim.authorize_now(book, behaviour, request.amount)
            })
            .await
        })
    }

    fn complete_challenge<'a>(
        &'a self,
        payment: &'a PaymentId,
        challenge: &'a ChallengeId,
        response: &'a str,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>> {
        Box::pin(async move {
            let summary = Request::Challenge {
                payment: payment.clone(),
                challenge: challenge.clone(),
                response: response.to_owned(),
            };
            self.once(idempotency_key, summary, |_, book| {
                let result = (|| {
                    let p = payment_mut(book, payment)?;
                    if p.challenge.as_ref() != Some(challenge) {
                        return Err(ConnectorError::UnknownChallenge);
                    }
                    if p.state != State::Challenged {
                        return Err(ConnectorError::InvalidState("authenticated"));
                    }
                    if response == CHALLENGE_CODE {
                        p.state = State::Authorized;
                        let amount = p.authorized;
                        book.charges += 1;
                        Ok(Outcome::Authorized { payment: payment.clone(), amount })
                    } else {
                        p.state = State::Declined;
                        Ok(Outcome::Declined { reason: DeclineReason::AuthenticationFailed })
                    }
                })();
                (result, false)
            })
            .await
        })
    }

    fn capture<'a>(
        &'a self,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>> {
        Box::pin(async move {
            let summary = Request::Capture { payment: payment.clone(), amount };
            self.once(idempotency_key, summary, |_, book| {
                let result = (|| {
                    let p = payment_mut(book, payment)?;
                    if p.state != State::Authorized {
                        return Err(ConnectorError::InvalidState("captured"));
                    }
                    check_amount(p, amount)?;
                    let left = p.authorized.minor - p.captured;
                    if amount.minor > left {
                        return Err(ConnectorError::AmountExceeds {
                            available: Money::new(left, amount.currency),
                        });
                    }
                    p.captured += amount.minor;
                    let total = Money::new(p.captured, amount.currency);
                    Ok(Outcome::Captured { payment: payment.clone(), amount, total })
                })();
                (result, false)
            })
            .await
        })
    }

    fn void<'a>(
        &'a self,
        payment: &'a PaymentId,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>> {
        Box::pin(async move {
            let summary = Request::Void { payment: payment.clone() };
            self.once(idempotency_key, summary, |_, book| {
                let result = (|| {
                    let p = payment_mut(book, payment)?;
                    if !matches!(p.state, State::Authorized | State::Challenged) || p.captured > 0 {
                        return Err(ConnectorError::InvalidState("voided"));
                    }
                    p.state = State::Voided;
                    Ok(Outcome::Voided { payment: payment.clone() })
                })();
                (result, false)
            })
            .await
        })
    }

    fn refund<'a>(
        &'a self,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>> {
        Box::pin(async move {
            let summary = Request::Refund { payment: payment.clone(), amount };
            self.once(idempotency_key, summary, |sim, book| {
                let result = (|| {
                    let p = payment_mut(book, payment)?;
                    check_amount(p, amount)?;
                    let left = p.captured - p.refunded;
                    if amount.minor > left {
                        return Err(ConnectorError::AmountExceeds {
                            available: Money::new(left, amount.currency),
                        });
                    }
                    p.refunded += amount.minor;
                    let total = Money::new(p.refunded, amount.currency);
                    let refund = RefundId::new(sim.reference("simref_"));
                    Ok(Outcome::Refunded { payment: payment.clone(), refund, amount, total })
                })();
                (result, false)
            })
            .await
        })
    }

    fn status<'a>(
        &'a self,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<OperationStatus, ConnectorError>> {
        Box::pin(async move {
            Ok(match self.book().records.get(idempotency_key).map(|r| r.result.clone()) {
                None => OperationStatus::NotReceived,
                Some(Ok(outcome)) => OperationStatus::Completed(outcome),
                Some(Err(e)) => OperationStatus::Failed(e),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use souk_domain::Currency;
    use souk_domain::entropy::SeededEntropy;

    use super::*;
    use crate::connector::card::{CardDetails, Cvc, Expiry, Pan};

    fn sim() -> Simulator {
        Simulator::new(SimulatorConfig::default(), Arc::new(SeededEntropy::new(7)))
    }

    fn card(number: &str) -> CardDetails {
        let pan = Pan::parse(number).unwrap();
        let cvc = Cvc::parse(if pan.brand() == Brand::Amex { "1234" } else { "123" }, pan.brand()).unwrap();
        CardDetails { pan, expiry: Expiry::new(12, 2030).unwrap(), cvc: Some(cvc) }
    }

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn key(k: &str) -> IdempotencyKey {
        IdempotencyKey::new(k).unwrap()
    }

    async fn authorize(
        sim: &Simulator,
        number: &str,
        k: &str,
        minor: i64,
    ) -> Result<Outcome, ConnectorError> {
        let card = card(number);
        sim.authorize(AuthorizeRequest {
            card: &card,
            amount: eur(minor),
            idempotency_key: &key(k),
            reference: "order-1",
            require_challenge: false,
        })
        .await
    }

    fn authorized(o: Result<Outcome, ConnectorError>) -> PaymentId {
        match o {
            Ok(Outcome::Authorized { payment, .. }) => payment,
            other => panic!("expected authorized, got {other:?}"),
        }
    }

    #[test]
    fn test_cards_are_valid_numbers_of_their_brand() {
        for c in TEST_CARDS {
            assert_eq!(Pan::parse(c.number).unwrap().brand(), c.brand, "{}", c.number);
        }
    }

    #[tokio::test]
    async fn every_test_card_does_what_its_table_says() {
        let sim = sim();
        for (i, c) in TEST_CARDS.iter().enumerate() {
            let result = authorize(&sim, c.number, &format!("k{i}"), 1000).await;
            match c.behaviour {
                Behaviour::Succeed => drop(authorized(result)),
                Behaviour::Decline(reason) => assert_eq!(result, Ok(Outcome::Declined { reason })),
                Behaviour::Challenge => assert!(matches!(result, Ok(Outcome::ChallengeRequired { .. }))),
                Behaviour::ProcessingError => assert_eq!(result, Err(ConnectorError::Processing)),
                Behaviour::Timeout => assert_eq!(result, Err(ConnectorError::Timeout)),
            }
        }
        // Any other valid number is authorized.
        authorized(authorize(&sim, "6011111111111117", "other", 1000).await);
    }

    #[tokio::test]
    async fn a_repeated_key_returns_the_first_answer_and_charges_once() {
        let sim = sim();
        let first = authorized(authorize(&sim, "4242424242424242", "same", 500).await);
        let again = authorized(authorize(&sim, "4242424242424242", "same", 500).await);
        assert_eq!(first, again);
        assert_eq!(sim.charges(), 1);
        assert_eq!(
            authorize(&sim, "4242424242424242", "same", 600).await,
            Err(ConnectorError::IdempotencyKeyReused),
            "same key, another amount"
        );
        assert_eq!(sim.charges(), 1);
        let k = key("cap");
        let c1 = sim.capture(&first, eur(500), &k).await.unwrap();
        assert_eq!(sim.capture(&first, eur(500), &k).await.unwrap(), c1);
        assert_eq!(sim.totals(&first), Some((500, 0)));
    }

    #[tokio::test]
    async fn a_timeout_is_resolved_by_status_and_by_repeating_the_key() {
        let sim = sim();
        assert_eq!(sim.status(&key("t")).await.unwrap(), OperationStatus::NotReceived);
        assert_eq!(authorize(&sim, "4000000000007718", "t", 900).await, Err(ConnectorError::Timeout));
        let OperationStatus::Completed(Outcome::Authorized { payment, amount }) =
            sim.status(&key("t")).await.unwrap()
        else {
            panic!("the processor authorized it");
        };
        assert_eq!(amount, eur(900));
        assert_eq!(authorized(authorize(&sim, "4000000000007718", "t", 900).await), payment);
        assert_eq!(sim.charges(), 1);
        assert_eq!(authorize(&sim, "4000000000000119", "p", 900).await, Err(ConnectorError::Processing));
        assert_eq!(sim.status(&key("p")).await.unwrap(), OperationStatus::Failed(ConnectorError::Processing));
    }

    #[tokio::test]
    async fn the_challenge_passes_with_the_code_and_fails_without() {
        let sim = sim();
        for (code, passes) in [(CHALLENGE_CODE, true), ("000000", false)] {
            let Ok(Outcome::ChallengeRequired { payment, challenge }) =
                authorize(&sim, "4000000000003220", code, 700).await
            else {
                panic!("challenge expected")
            };
            assert_eq!(sim.charges(), usize::from(!passes), "nothing held before the challenge");
            let wrong = ChallengeId::new("simchl_other");
            assert_eq!(
                sim.complete_challenge(&payment, &wrong, code, &key(&format!("{code}-w"))).await,
                Err(ConnectorError::UnknownChallenge)
            );
            let done = sim.complete_challenge(&payment, &challenge, code, &key(&format!("{code}-c"))).await;
            if passes {
                assert_eq!(authorized(done), payment);
            } else {
                assert_eq!(done, Ok(Outcome::Declined { reason: DeclineReason::AuthenticationFailed }));
                assert!(sim.capture(&payment, eur(700), &key("cap-declined")).await.is_err());
            }
        }
    }

    #[tokio::test]
    async fn a_challenge_the_merchant_asks_for_comes_before_an_approval_never_a_decline() {
        let sim = sim();
        let ask = |number: &'static str, k: &'static str| {
            let card = card(number);
            let sim = &sim;
            async move {
                sim.authorize(AuthorizeRequest {
                    card: &card,
                    amount: eur(500),
                    idempotency_key: &key(k),
                    reference: "order-1",
                    require_challenge: true,
                })
                .await
            }
        };
        let Ok(Outcome::ChallengeRequired { payment, challenge }) = ask("4242424242424242", "rc").await
        else {
            panic!("challenge expected")
        };
        assert_eq!(sim.charges(), 0, "nothing held before the challenge");
        let done = sim.complete_challenge(&payment, &challenge, CHALLENGE_CODE, &key("rc-c")).await;
        assert_eq!(authorized(done), payment);
        // A card the issuer declines is declined, not challenged.
        assert!(matches!(ask("4000000000009995", "rd").await, Ok(Outcome::Declined { .. })));
    }

    #[tokio::test]
    async fn capture_void_and_refund_follow_the_payment_state() {
        let sim = sim();
        let p = authorized(authorize(&sim, "5555555555554444", "a", 1000).await);
        assert_eq!(
            sim.capture(&p, eur(1001), &key("c0")).await,
            Err(ConnectorError::AmountExceeds { available: eur(1000) })
        );
        assert_eq!(
            sim.refund(&p, eur(1), &key("r0")).await,
            Err(ConnectorError::AmountExceeds { available: eur(0) })
        );
        sim.capture(&p, eur(600), &key("c1")).await.unwrap();
        assert_eq!(sim.void(&p, &key("v")).await, Err(ConnectorError::InvalidState("voided")));
        assert!(matches!(
            sim.capture(&p, Money::new(10, Currency::from_code("USD").unwrap()), &key("c2")).await,
            Err(ConnectorError::InvalidAmount)
        ));
        let Ok(Outcome::Refunded { total, .. }) = sim.refund(&p, eur(600), &key("r1")).await else {
            panic!()
        };
        assert_eq!(total, eur(600));
        let q = authorized(authorize(&sim, "5555555555554444", "b", 1000).await);
        assert_eq!(sim.void(&q, &key("v2")).await, Ok(Outcome::Voided { payment: q.clone() }));
        assert!(sim.capture(&q, eur(1), &key("c3")).await.is_err());
        assert_eq!(
            sim.capture(&PaymentId::new("nope"), eur(1), &key("c4")).await,
            Err(ConnectorError::UnknownPayment)
        );
    }

    #[tokio::test]
    async fn concurrent_calls_with_one_key_charge_once() {
        let sim = Simulator::new(
            SimulatorConfig { latency: Duration::from_millis(20) },
            Arc::new(SeededEntropy::new(2)),
        );
        let (a, b, c) = tokio::join!(
            authorize(&sim, "4242424242424242", "race", 100),
            authorize(&sim, "4242424242424242", "race", 100),
            authorize(&sim, "4242424242424242", "race", 100),
        );
        let p = authorized(a);
        assert_eq!(authorized(b), p);
        assert_eq!(authorized(c), p);
        assert_eq!(sim.charges(), 1);
    }

    #[tokio::test]
    async fn latency_is_added_to_every_call() {
        let sim = Simulator::new(
            SimulatorConfig { latency: Duration::from_millis(30) },
            Arc::new(SeededEntropy::new(1)),
        );
        let started = std::time::Instant::now();
        authorized(authorize(&sim, "4242424242424242", "l", 100).await);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    proptest! {
        /// For any test card and any number of repeats, a repeated key answers the first
        /// answer every time and holds funds at most once.
        #[test]
        fn repeats_never_charge_twice(card in 0usize..TEST_CARDS.len(), repeats in 1usize..6) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let sim = sim();
                let number = TEST_CARDS[card].number;
                let first = authorize(&sim, number, "k", 1234).await;
                for _ in 0..repeats {
                    let again = authorize(&sim, number, "k", 1234).await;
                    // A timeout's answer was lost; the repeat gets the recorded outcome.
                    if first != Err(ConnectorError::Timeout) {
                        assert_eq!(again, first);
                    }
                    assert!(sim.charges() <= 1);
                }
            });
        }

        /// Whatever the sequence of captures and refunds (repeated keys included), the
        /// refunded total never exceeds the captured total, which never exceeds the
        /// authorization.
        #[test]
        fn refunds_never_exceed_captures(ops in prop::collection::vec((any::<bool>(), 1i64..700, 0usize..6), 1..25)) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let sim = sim();
                let p = authorized(authorize(&sim, "4242424242424242", "a", 1000).await);
                for (i, (is_refund, amount, key_pick)) in ops.iter().enumerate() {
                    let k = key(&format!("{}-{}", if *is_refund { "r" } else { "c" }, key_pick.min(&i)));
                    let _ = if *is_refund {
                        sim.refund(&p, eur(*amount), &k).await
                    } else {
                        sim.capture(&p, eur(*amount), &k).await
                    };
                    let (captured, refunded) = sim.totals(&p).unwrap();
                    assert!(refunded <= captured, "{refunded} > {captured}");
                    assert!(captured <= 1000);
                }
            });
        }
    }
}
