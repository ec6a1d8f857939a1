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
    let kinds = [Resource::Account(w.buyer.id), Resource::AuditLog, Resource::Shop(&w.shop), listing, order];
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
        for what in [Resource::AuditLog, Resource::Shop(&w.shop), order, Resource::Account(w.buyer.id)] {
            assert!(!w.access.decide(&nobody, action, &what).allowed, "{action:?} on {what:?}");
        }
    }
}

/// Each action is decided against the slice of policies whose scope admits it; the answer,
/// the deciding policies and the errors must be those of the full policy set, for every
/// actor, action and kind of resource (with shops in every status).
#[test]
fn slices_decide_as_the_full_set_does() {
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
        let mut kinds = vec![Resource::AuditLog, Resource::Shop(shop), listing, order, own_order];
        kinds.extend(actors.iter().map(|a| Resource::Account(a.id)));
        for who in actors.iter().copied().chain([&all_roles]) {
            for action in Action::ALL {
                for what in &kinds {
                    if !action.applies_to(what) {
                        continue;
                    }
                    let sliced = normalise(w.access.decide(who, action, what));
                    let action_uid = Access::uid(&w.access.types.action, action.as_str());
                    let full =
                        normalise(w.access.decide_with(who, &action_uid, what, &w.access.policies, |id| {
                            w.access
                                .policies
                                .policy(id)
                                .and_then(|p| p.annotation("id"))
                                .map(ToOwned::to_owned)
                        }));
                    assert_eq!(sliced, full, "{who:?} {action:?} {what:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}
