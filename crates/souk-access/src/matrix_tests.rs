//! The access-control matrix: every action, for each kind of actor (owner, another shop's
//! owner, a manager, fulfilment staff, the buyer, a stranger, and each staff role), with
//! the answer the policy must give. Broken object-level authorization (another shop's
//! listing) and broken function-level authorization (a buyer taking listings down) are rows.

use souk_domain::ids::{ListingId, ShopId};
use uuid_like::id;

use super::*;

mod uuid_like {
    use souk_domain::ids::AccountId;

    /// Stable test ids.
    pub fn id(n: u128) -> AccountId {
        AccountId::from_uuid(uuid::Uuid::from_u128(n))
    }
}

struct World {
    access: Access,
    owner: Actor,
    other_owner: Actor,
    manager: Actor,
    packer: Actor,
    buyer: Actor,
    stranger: Actor,
    support: Actor,
    trust: Actor,
    finance: Actor,
    admin: Actor,
    shop: ShopFacts,
    other_shop: ShopFacts,
}

fn actor(n: u128, roles: &[StaffRole]) -> Actor {
    Actor { id: id(n), roles: roles.to_vec() }
}

fn world() -> World {
    let shop = ShopFacts {
        id: ShopId::from_uuid(uuid::Uuid::from_u128(100)),
        owner: id(1),
        managers: vec![id(3)],
        fulfilment: vec![id(4)],
        status: "verified".into(),
    };
    let other_shop = ShopFacts {
        id: ShopId::from_uuid(uuid::Uuid::from_u128(200)),
        owner: id(2),
        managers: vec![],
        fulfilment: vec![],
        status: "verified".into(),
    };
    World {
        access: Access::load().unwrap(),
        owner: actor(1, &[]),
        other_owner: actor(2, &[]),
        manager: actor(3, &[]),
        packer: actor(4, &[]),
        buyer: actor(5, &[]),
        stranger: actor(6, &[]),
        support: actor(7, &[StaffRole::Support]),
        trust: actor(8, &[StaffRole::TrustSafety]),
        finance: actor(9, &[StaffRole::Finance]),
        admin: actor(10, &[StaffRole::Admin]),
        shop,
        other_shop,
    }
}

#[test]
fn the_policy_set_validates_strictly_against_the_schema() {
    let access = Access::load().unwrap();
    assert!(access.policies.policies().count() >= 15);
    for p in access.policies.policies() {
        assert!(p.annotation("id").is_some(), "every policy has an @id for audit records: {p}");
    }
}

#[test]
#[allow(clippy::too_many_lines, reason = "one row per case reads best as one table")]
fn access_control_matrix() {
    let w = world();
    let listing = Resource::Listing {
        id: ListingId::from_uuid(uuid::Uuid::from_u128(300)),
        status: "active",
        shop: &w.shop,
    };
    let order = Resource::Order { id: "order-1", buyer: w.buyer.id, shop: &w.shop };
    let shop = Resource::Shop(&w.shop);
    let allowed =
        |who: &Actor, action: Action, what: &Resource<'_>| w.access.decide(who, action, what).allowed;

    // (actor, action, resource, expected)
    let rows: Vec<(&str, &Actor, Action, Resource<'_>, bool)> = vec![
        ("own account", &w.buyer, Action::AccountView, Resource::Account(w.buyer.id), true),
        ("own account update", &w.buyer, Action::AccountUpdate, Resource::Account(w.buyer.id), true),
        ("someone else's account", &w.stranger, Action::AccountView, Resource::Account(w.buyer.id), false),
        ("support views accounts", &w.support, Action::AccountView, Resource::Account(w.buyer.id), true),
        (
            "support cannot change accounts",
            &w.support,
            Action::AccountUpdate,
            Resource::Account(w.buyer.id),
            false,
        ),
        ("admin assigns roles", &w.admin, Action::StaffAssignRole, Resource::Account(w.support.id), true),
        (
            "admin cannot grant itself",
            &w.admin,
            Action::StaffAssignRole,
            Resource::Account(w.admin.id),
            false,
        ),
        (
            "finance cannot assign roles",
            &w.finance,
            Action::StaffAssignRole,
            Resource::Account(w.buyer.id),
            false,
        ),
        ("audit: trust & safety reads", &w.trust, Action::AuditRead, Resource::AuditLog, true),
        ("audit: trust & safety cannot export", &w.trust, Action::AuditExport, Resource::AuditLog, false),
        ("audit: admin exports", &w.admin, Action::AuditExport, Resource::AuditLog, true),
        ("audit: support cannot read", &w.support, Action::AuditRead, Resource::AuditLog, false),
        ("audit: sellers cannot read", &w.owner, Action::AuditRead, Resource::AuditLog, false),
        ("ledger: finance sees it", &w.finance, Action::LedgerView, Resource::Ledger, true),
        ("ledger: finance runs payouts", &w.finance, Action::PayoutRun, Resource::Ledger, true),
        ("ledger: admins see it", &w.admin, Action::LedgerView, Resource::Ledger, true),
        ("ledger: admins do not run payouts", &w.admin, Action::PayoutRun, Resource::Ledger, false),
        ("ledger: support does not see it", &w.support, Action::LedgerView, Resource::Ledger, false),
        ("ledger: support does not run payouts", &w.support, Action::PayoutRun, Resource::Ledger, false),
        ("ledger: sellers do not see it", &w.owner, Action::LedgerView, Resource::Ledger, false),
        ("risk: trust & safety manages", &w.trust, Action::RiskManage, Resource::Risk, true),
        ("risk: admin reads", &w.admin, Action::RiskRead, Resource::Risk, true),
        ("risk: support cannot read", &w.support, Action::RiskRead, Resource::Risk, false),
        ("risk: buyers cannot read", &w.buyer, Action::RiskRead, Resource::Risk, false),
        ("risk: sellers cannot manage", &w.owner, Action::RiskManage, Resource::Risk, false),
        ("owner updates shop", &w.owner, Action::ShopUpdate, shop, true),
        ("manager updates shop", &w.manager, Action::ShopUpdate, shop, true),
        ("manager cannot manage staff", &w.manager, Action::ShopManageStaff, shop, false),
        ("packer cannot update shop", &w.packer, Action::ShopUpdate, shop, false),
        ("BOLA: other owner updates shop", &w.other_owner, Action::ShopUpdate, shop, false),
        ("owner sees payouts", &w.owner, Action::PayoutView, shop, true),
        ("manager cannot see payouts", &w.manager, Action::PayoutView, shop, false),
        ("owner cannot release own payout", &w.owner, Action::PayoutRelease, shop, false),
        ("finance releases payouts", &w.finance, Action::PayoutRelease, shop, true),
        ("owner lists", &w.owner, Action::ListingCreate, shop, true),
        ("manager lists", &w.manager, Action::ListingCreate, shop, true),
        ("packer cannot list", &w.packer, Action::ListingCreate, shop, false),
        ("BOLA: other owner lists in shop", &w.other_owner, Action::ListingCreate, shop, false),
        ("owner edits listing", &w.owner, Action::ListingUpdate, listing, true),
        ("BOLA: other owner edits listing", &w.other_owner, Action::ListingUpdate, listing, false),
        ("BFLA: buyer takes listing down", &w.buyer, Action::ListingTakedown, listing, false),
        ("BFLA: owner takes listing down", &w.owner, Action::ListingTakedown, listing, false),
        ("trust & safety takes down", &w.trust, Action::ListingTakedown, listing, true),
        ("trust & safety verifies shops", &w.trust, Action::ShopVerify, shop, true),
        ("BFLA: support verifies shops", &w.support, Action::ShopVerify, shop, false),
        ("trust & safety suspends shops", &w.trust, Action::ShopSuspend, shop, true),
        ("trust & safety removes reviews", &w.trust, Action::ReviewRemove, shop, true),
        ("packer answers messages", &w.packer, Action::ShopMessage, shop, true),
        ("BOLA: other owner answers for the shop", &w.other_owner, Action::ShopMessage, shop, false),
        ("support does not speak for shops", &w.support, Action::ShopMessage, shop, false),
        ("trust & safety reviews reported messages", &w.trust, Action::MessageReview, shop, true),
        ("BFLA: owner reviews reports", &w.owner, Action::MessageReview, shop, false),
        ("BFLA: owner removes reviews of own shop", &w.owner, Action::ReviewRemove, shop, false),
        ("BFLA: support removes reviews", &w.support, Action::ReviewRemove, shop, false),
        ("BFLA: support suspends shops", &w.support, Action::ShopSuspend, shop, false),
        ("BFLA: owner suspends a rival", &w.owner, Action::ShopSuspend, Resource::Shop(&w.other_shop), false),
        ("owner submits verification", &w.owner, Action::ShopSubmitVerification, shop, true),
        ("manager cannot submit verification", &w.manager, Action::ShopSubmitVerification, shop, false),
        ("owner reads own documents", &w.owner, Action::ShopReadDocuments, shop, true),
        ("manager cannot read documents", &w.manager, Action::ShopReadDocuments, shop, false),
        ("trust & safety reads documents", &w.trust, Action::ShopReadDocuments, shop, true),
        ("BFLA: support reads documents", &w.support, Action::ShopReadDocuments, shop, false),
        ("BOLA: other owner reads documents", &w.other_owner, Action::ShopReadDocuments, shop, false),
        ("owner manages webhooks", &w.owner, Action::WebhookManage, shop, true),
        ("manager manages webhooks", &w.manager, Action::WebhookManage, shop, true),
        ("packer cannot manage webhooks", &w.packer, Action::WebhookManage, shop, false),
        ("BOLA: other owner manages webhooks", &w.other_owner, Action::WebhookManage, shop, false),
        ("BFLA: admin manages a shop's webhooks", &w.admin, Action::WebhookManage, shop, false),
        ("packer sees shop hub", &w.packer, Action::ShopView, shop, true),
        ("support sees shop", &w.support, Action::ShopView, shop, true),
        ("BOLA: other owner sees shop hub", &w.other_owner, Action::ShopView, shop, false),
        ("buyer cannot see shop hub", &w.buyer, Action::ShopView, shop, false),
        ("buyer sees own order", &w.buyer, Action::OrderView, order, true),
        ("BOLA: stranger sees order", &w.stranger, Action::OrderView, order, false),
        ("BOLA: other shop sees order", &w.other_owner, Action::OrderView, order, false),
        ("packer fulfils", &w.packer, Action::OrderFulfil, order, true),
        ("buyer cannot fulfil", &w.buyer, Action::OrderFulfil, order, false),
        ("support sees orders", &w.support, Action::OrderView, order, true),
        ("support cannot refund", &w.support, Action::OrderRefund, order, false),
        ("finance refunds", &w.finance, Action::OrderRefund, order, true),
        ("seller cannot refund", &w.owner, Action::OrderRefund, order, false),
        ("admin is not finance", &w.admin, Action::OrderRefund, order, false),
        ("type confusion: refund a shop", &w.finance, Action::OrderRefund, shop, false),
    ];
    let mut wrong = Vec::new();
    for (name, who, action, what, expected) in &rows {
        if allowed(who, *action, what) != *expected {
            wrong.push(format!("{name}: expected {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn forbids_override_roles() {
    let mut w = world();
    // A staff member who owns a shop still cannot verify it or release its payouts.
    let own = ShopFacts { owner: w.trust.id, ..w.other_shop.clone() };
    assert!(!w.access.decide(&w.trust, Action::ShopVerify, &Resource::Shop(&own)).allowed);
    let finance_shop = ShopFacts { managers: vec![w.finance.id], ..w.other_shop.clone() };
    assert!(!w.access.decide(&w.finance, Action::PayoutRelease, &Resource::Shop(&finance_shop)).allowed);
    // A suspended shop cannot list, even by its owner.
    w.shop.status = "suspended".into();
    let d = w.access.decide(&w.owner, Action::ListingCreate, &Resource::Shop(&w.shop));
    assert!(!d.allowed);
    assert_eq!(d.policies, vec!["suspended-shops-sell-nothing".to_owned()], "the deciding policy is named");
    let d = w.access.decide(&w.owner, Action::ShopUpdate, &Resource::Shop(&w.shop));
    assert!(d.allowed && d.policies == vec!["owner-runs-shop".to_owned()]);
}

/// The code's `applies_to` must agree with the schema's `appliesTo`, since requests are no
/// longer checked against the schema one by one.
#[test]
fn applies_to_agrees_with_the_schema() {
    let w = world();
    let listing = Resource::Listing {
        id: ListingId::from_uuid(uuid::Uuid::from_u128(1)),
        status: "active",
        shop: &w.shop,
    };
    let order = Resource::Order { id: "o", buyer: w.buyer.id, shop: &w.shop };
    let kinds = [
        Resource::Account(w.buyer.id),
        Resource::AuditLog,
        Resource::Ledger,
        Resource::Risk,
        Resource::Shop(&w.shop),
        listing,
        order,
    ];
    let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
    for action in Action::ALL {
        for what in kinds {
            let (principal, resource, entities) = w.access.build(&w.admin, &what).unwrap();
            let action_uid = Access::uid(&w.access.types.action, action.as_str());
            let schema_says =
                Request::new(principal, action_uid, resource, Context::empty(), Some(&schema)).is_ok();
            let _ = entities;
            assert_eq!(action.applies_to(&what), schema_says, "{action:?} on {what:?}");
        }
    }
}

#[test]
fn nothing_is_allowed_without_a_policy() {
    let w = world();
    let nobody = actor(999, &[]);
    let order = Resource::Order { id: "o", buyer: w.buyer.id, shop: &w.other_shop };
    for action in Action::ALL {
        for what in [
            Resource::AuditLog,
            Resource::Ledger,
            Resource::Risk,
            Resource::Shop(&w.shop),
            order,
            Resource::Account(w.buyer.id),
        ] {
            assert!(!w.access.decide(&nobody, action, &what).allowed, "{action:?} on {what:?}");
        }
    }
}

/// The decision as it was made before slices, cached uids and lean entities: the full
/// policy set, role entities included, attributes through hash maps, ids through `Display`.
/// The fast path must agree with it exactly.
fn reference_decision(access: &Access, actor: &Actor, action: Action, resource: &Resource<'_>) -> Decision {
    use std::collections::HashSet;
    let uid = |ty: &str, id: &str| EntityUid::from_type_name_and_id(ty.parse().unwrap(), EntityId::new(id));
    let account = |id: AccountId| uid("Souk::Account", &id.to_string());
    let accounts = |ids: &[AccountId]| {
        RestrictedExpression::new_set(ids.iter().map(|a| RestrictedExpression::new_entity_uid(account(*a))))
    };
    let shop_entity = |shop: &ShopFacts| {
        let shop_uid = uid("Souk::Shop", &shop.id.to_string());
        let attrs = HashMap::from([
            ("owner".to_owned(), RestrictedExpression::new_entity_uid(account(shop.owner))),
            ("managers".to_owned(), accounts(&shop.managers)),
            ("fulfilment".to_owned(), accounts(&shop.fulfilment)),
            ("status".to_owned(), RestrictedExpression::new_string(shop.status.clone())),
        ]);
        (shop_uid.clone(), Entity::new(shop_uid, attrs, HashSet::new()).unwrap())
    };
    let roles: HashSet<EntityUid> = actor.roles.iter().map(|r| uid("Souk::Role", r.as_str())).collect();
    let mut entities: Vec<Entity> = roles.iter().map(|r| Entity::with_uid(r.clone())).collect();
    let principal = account(actor.id);
    entities.push(Entity::new(principal.clone(), HashMap::new(), roles).unwrap());
    let resource_uid = match resource {
        Resource::Account(id) => {
            let u = account(*id);
            if u != principal {
                entities.push(Entity::with_uid(u.clone()));
            }
            u
        }
        Resource::AuditLog => {
            let u = uid("Souk::AuditLog", "log");
            entities.push(Entity::with_uid(u.clone()));
            u
        }
        Resource::Ledger => {
            let u = uid("Souk::Ledger", "ledger");
            entities.push(Entity::with_uid(u.clone()));
            u
        }
        Resource::Risk => {
            let u = uid("Souk::RiskEngine", "engine");
            entities.push(Entity::with_uid(u.clone()));
            u
        }
        Resource::Shop(shop) => {
            let (u, e) = shop_entity(shop);
            entities.push(e);
            u
        }
        Resource::Listing { id, status, shop } => {
            let (shop_uid, e) = shop_entity(shop);
            entities.push(e);
            let u = uid("Souk::Listing", &id.to_string());
            let attrs = HashMap::from([
                ("shop".to_owned(), RestrictedExpression::new_entity_uid(shop_uid)),
                ("status".to_owned(), RestrictedExpression::new_string((*status).to_owned())),
            ]);
            entities.push(Entity::new(u.clone(), attrs, HashSet::new()).unwrap());
            u
        }
        Resource::Order { id, buyer, shop } => {
            let (shop_uid, e) = shop_entity(shop);
            entities.push(e);
            let u = uid("Souk::Order", id);
            let attrs = HashMap::from([
                ("buyer".to_owned(), RestrictedExpression::new_entity_uid(account(*buyer))),
                ("shop".to_owned(), RestrictedExpression::new_entity_uid(shop_uid)),
            ]);
            entities.push(Entity::new(u.clone(), attrs, HashSet::new()).unwrap());
            u
        }
    };
    let entities = Entities::from_entities(entities, None).unwrap();
    let request =
        Request::new(principal, uid("Souk::Action", action.as_str()), resource_uid, Context::empty(), None)
            .unwrap();
    let response = Authorizer::new().is_authorized(&request, &access.policies, &entities);
    let policies = response
        .diagnostics()
        .reason()
        .map(|id| access.policies.policy(id).unwrap().annotation("id").unwrap().to_owned())
        .collect();
    let errors = response.diagnostics().errors().map(ToString::to_string).collect::<Vec<_>>();
    Decision { allowed: response.decision() == CedarDecision::Allow && errors.is_empty(), policies, errors }
}

/// Each action is decided against the slice of policies whose scope admits it, with lean
/// entities; the answer, the deciding policies and the errors must be those of the reference
/// (the full policy set, entities built as before), for every actor, action and kind of
/// resource (with shops in every status).
#[test]
fn the_fast_path_decides_as_the_reference_does() {
    let w = world();
    let actors = [
        &w.owner,
        &w.other_owner,
        &w.manager,
        &w.packer,
        &w.buyer,
        &w.stranger,
        &w.support,
        &w.trust,
        &w.finance,
        &w.admin,
    ];
    let all_roles = actor(11, &StaffRole::ALL);
    let staff_owner =
        ShopFacts { owner: w.trust.id, managers: vec![w.finance.id, w.admin.id], ..w.shop.clone() };
    let mut shops = vec![w.shop.clone(), w.other_shop.clone(), staff_owner];
    for status in ["unverified", "submitted", "rejected", "suspended"] {
        shops.push(ShopFacts { status: status.into(), ..w.shop.clone() });
    }
    let normalise = |mut d: Decision| {
        d.policies.sort();
        d.errors.sort();
        d
    };
    let mut checked = 0;
    for shop in &shops {
        let listing = Resource::Listing {
            id: ListingId::from_uuid(uuid::Uuid::from_u128(300)),
            status: "active",
            shop,
        };
        let order = Resource::Order { id: "order-1", buyer: w.buyer.id, shop };
        let own_order = Resource::Order { id: "order-2", buyer: shop.owner, shop };
        let mut kinds = vec![
            Resource::AuditLog,
            Resource::Ledger,
            Resource::Risk,
            Resource::Shop(shop),
            listing,
            order,
            own_order,
        ];
        kinds.extend(actors.iter().map(|a| Resource::Account(a.id)));
        for who in actors.iter().copied().chain([&all_roles]) {
            for action in Action::ALL {
                for what in &kinds {
                    if !action.applies_to(what) {
                        continue;
                    }
                    let sliced = normalise(w.access.decide(who, action, what));
                    let full = normalise(reference_decision(&w.access, who, action, what));
                    assert_eq!(sliced, full, "{who:?} {action:?} {what:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}
