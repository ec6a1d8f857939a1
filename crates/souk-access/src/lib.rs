//! Authorization. Cedar policies in `policies/` decide every action: who (an account and its
//! staff roles) may do what (an [`Action`]) to which resource (a shop, listing, order,
//! account or the audit log, with the facts that matter, like a shop's owner). Anything not
//! permitted is denied, and an evaluation error denies too. The policy set is validated
//! against `policies/schema.cedarschema` in strict mode when it loads, so a policy that
//! names a missing attribute or action never reaches production.

use std::collections::HashMap;
use std::str::FromStr as _;

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, Request, RestrictedExpression, Schema,
    ValidationMode, Validator,
};
use souk_domain::ids::{AccountId, ListingId, ShopId};

pub(crate) const SCHEMA: &str = include_str!("../policies/schema.cedarschema");
const POLICIES: &str = include_str!("../policies/marketplace.cedar");

/// The policy set could not be loaded: a bug in the repository's policies, caught at start.
#[derive(Debug, thiserror::Error)]
#[error("authorization policies are invalid: {0}")]
pub struct PolicyError(String);

/// A staff role. Roles are granted by admins only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaffRole {
    Support,
    TrustSafety,
    Finance,
    Admin,
}

impl StaffRole {
    pub const ALL: [Self; 4] = [Self::Support, Self::TrustSafety, Self::Finance, Self::Admin];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::TrustSafety => "trust_safety",
            Self::Finance => "finance",
            Self::Admin => "admin",
        }
    }
}

/// What is being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    AccountView,
    AccountUpdate,
    StaffAssignRole,
    AuditRead,
    AuditExport,
    ShopUpdate,
    ShopManageStaff,
    ShopVerify,
    ShopView,
    ShopSubmitVerification,
    ShopReadDocuments,
    ShopSuspend,
    ReviewRemove,
    ShopMessage,
    MessageReview,
    PayoutView,
    PayoutRelease,
    ListingCreate,
    ListingUpdate,
    ListingTakedown,
    OrderView,
    OrderFulfil,
    OrderRefund,
    LedgerView,
    PayoutRun,
    WebhookManage,
    /// Read risk rules, decisions and replays.
    RiskRead,
    /// Save risk rules and lists; decide held reviews.
    RiskManage,
}

impl Action {
    /// Whether the action is defined on this kind of resource (the schema's `appliesTo`),
    /// checked in code so a mismatched request is denied without asking the schema.
    #[must_use]
    pub const fn applies_to(self, resource: &Resource<'_>) -> bool {
        match self {
            Self::AccountView | Self::AccountUpdate | Self::StaffAssignRole => {
                matches!(resource, Resource::Account(_))
            }
            Self::AuditRead | Self::AuditExport => matches!(resource, Resource::AuditLog),
            Self::RiskRead | Self::RiskManage => matches!(resource, Resource::Risk),
            Self::ShopUpdate
            | Self::ShopManageStaff
            | Self::ShopVerify
            | Self::ShopView
            | Self::ShopSubmitVerification
            | Self::ShopReadDocuments
            | Self::ShopSuspend
            | Self::ReviewRemove
            | Self::ShopMessage
            | Self::MessageReview
            | Self::PayoutView
            | Self::PayoutRelease
            | Self::ListingCreate
            | Self::WebhookManage => matches!(resource, Resource::Shop(_)),
            Self::ListingUpdate | Self::ListingTakedown => matches!(resource, Resource::Listing { .. }),
            Self::OrderView | Self::OrderFulfil | Self::OrderRefund => {
                matches!(resource, Resource::Order { .. })
            }
            Self::LedgerView | Self::PayoutRun => matches!(resource, Resource::Ledger),
        }
    }

    pub const ALL: [Self; 28] = [
        Self::AccountView,
        Self::AccountUpdate,
        Self::StaffAssignRole,
        Self::AuditRead,
        Self::AuditExport,
        Self::ShopUpdate,
        Self::ShopManageStaff,
        Self::ShopVerify,
        Self::ShopView,
        Self::ShopSubmitVerification,
        Self::ShopReadDocuments,
        Self::ShopSuspend,
        Self::ReviewRemove,
        Self::ShopMessage,
        Self::MessageReview,
        Self::PayoutView,
        Self::PayoutRelease,
        Self::ListingCreate,
        Self::ListingUpdate,
        Self::ListingTakedown,
        Self::OrderView,
        Self::OrderFulfil,
        Self::OrderRefund,
        Self::LedgerView,
        Self::PayoutRun,
        Self::WebhookManage,
        Self::RiskRead,
        Self::RiskManage,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountView => "account.view",
            Self::AccountUpdate => "account.update",
            Self::StaffAssignRole => "staff.assign_role",
            Self::AuditRead => "audit.read",
            Self::AuditExport => "audit.export",
            Self::ShopUpdate => "shop.update",
            Self::ShopManageStaff => "shop.manage_staff",
            Self::ShopVerify => "shop.verify",
            Self::ShopView => "shop.view",
            Self::ShopSubmitVerification => "shop.submit_verification",
            Self::ShopReadDocuments => "shop.read_documents",
            Self::ShopSuspend => "shop.suspend",
            Self::ReviewRemove => "review.remove",
            Self::ShopMessage => "shop.message",
            Self::MessageReview => "message.review",
            Self::PayoutView => "payout.view",
            Self::PayoutRelease => "payout.release",
            Self::ListingCreate => "listing.create",
            Self::ListingUpdate => "listing.update",
            Self::ListingTakedown => "listing.takedown",
            Self::OrderView => "order.view",
            Self::OrderFulfil => "order.fulfil",
            Self::OrderRefund => "order.refund",
            Self::LedgerView => "ledger.view",
            Self::PayoutRun => "payout.run",
            Self::WebhookManage => "webhook.manage",
            Self::RiskRead => "risk.read",
            Self::RiskManage => "risk.manage",
        }
    }
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: AccountId,
    pub roles: Vec<StaffRole>,
}

/// The facts about a shop that policies use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopFacts {
    pub id: ShopId,
    pub owner: AccountId,
    pub managers: Vec<AccountId>,
    pub fulfilment: Vec<AccountId>,
    /// `unverified`, `submitted`, `verified`, `rejected` or `suspended`.
    pub status: String,
}

/// What is acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Account(AccountId),
    AuditLog,
    /// The platform's money as a whole (its balances, payout runs, ledger checks).
    Ledger,
    /// The fraud engine: its rules, lists, decisions and reviews.
    Risk,
    Shop(&'a ShopFacts),
    Listing {
        id: ListingId,
        status: &'a str,
        shop: &'a ShopFacts,
    },
    Order {
        id: &'a str,
        buyer: AccountId,
        shop: &'a ShopFacts,
    },
}

/// The answer, with the policies that decided it (their `@id`s) for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub policies: Vec<String>,
    pub errors: Vec<String>,
}

struct Types {
    account: EntityTypeName,
    role: EntityTypeName,
    shop: EntityTypeName,
    listing: EntityTypeName,
    order: EntityTypeName,
    audit_log: EntityTypeName,
    ledger: EntityTypeName,
    risk: EntityTypeName,
    action: EntityTypeName,
}

/// The policies that can apply to one action, with their `@id`s, cut from the full set at
/// load. A policy whose action scope excludes an action evaluates to `false` for it before
/// its conditions are looked at (Cedar checks the scope first and `&&` short-circuits), so
/// leaving it out changes neither the decision, nor the deciding policies, nor the errors;
/// `the_fast_path_decides_as_the_reference_does` checks this over every actor, action and resource.
struct Slice {
    action: EntityUid,
    policies: PolicySet,
    ids: HashMap<PolicyId, String>,
}

/// The loaded, validated policy set.
pub struct Access {
    policies: PolicySet,
    /// One per action, in the order of [`Action::ALL`].
    slices: Vec<Slice>,
    /// The role entities' uids, in the order of [`StaffRole::ALL`].
    roles: Vec<EntityUid>,
    audit_log: EntityUid,
    ledger: EntityUid,
    risk: EntityUid,
    authorizer: Authorizer,
    types: Types,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("policies", &self.policies.policies().count()).finish_non_exhaustive()
    }
}

fn type_name(name: &str) -> Result<EntityTypeName, PolicyError> {
    EntityTypeName::from_str(name).map_err(|e| PolicyError(e.to_string()))
}

/// Whether a policy's action scope can match `action`. The schema declares no action groups
/// and requests carry no action entities, so `action in [...]` is membership of the list.
fn scope_admits(policy: &Policy, action: &EntityUid) -> bool {
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => uid == *action,
        ActionConstraint::In(uids) => uids.contains(action),
    }
}

fn policy_id(policy: &Policy) -> String {
    policy.annotation("id").map_or_else(|| policy.id().to_string(), ToOwned::to_owned)
}

impl Access {
    /// Parses the schema and policies and validates them strictly.
    pub fn load() -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError(e.to_string()))?;
        let policies = PolicySet::from_str(POLICIES).map_err(|e| PolicyError(e.to_string()))?;
        let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(ToString::to_string).collect();
            return Err(PolicyError(errors.join("; ")));
        }
        let types = Types {
            account: type_name("Souk::Account")?,
            role: type_name("Souk::Role")?,
            shop: type_name("Souk::Shop")?,
            listing: type_name("Souk::Listing")?,
            order: type_name("Souk::Order")?,
            audit_log: type_name("Souk::AuditLog")?,
            ledger: type_name("Souk::Ledger")?,
            risk: type_name("Souk::RiskEngine")?,
            action: type_name("Souk::Action")?,
        };
        let slices = Action::ALL
            .iter()
            .map(|action| {
                let uid = Self::uid(&types.action, action.as_str());
                let chosen: Vec<Policy> =
                    policies.policies().filter(|p| scope_admits(p, &uid)).cloned().collect();
                let ids = chosen.iter().map(|p| (p.id().clone(), policy_id(p))).collect();
                let set = PolicySet::from_policies(chosen).map_err(|e| PolicyError(e.to_string()))?;
                Ok(Slice { action: uid, policies: set, ids })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let roles = StaffRole::ALL.iter().map(|r| Self::uid(&types.role, r.as_str())).collect();
        let audit_log = Self::uid(&types.audit_log, "log");
        let ledger = Self::uid(&types.ledger, "ledger");
        let risk = Self::uid(&types.risk, "engine");
        Ok(Self { policies, slices, roles, audit_log, ledger, risk, authorizer: Authorizer::new(), types })
    }

    fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    fn role(&self, role: StaffRole) -> EntityUid {
        let index = StaffRole::ALL.iter().position(|r| *r == role);
        match index.and_then(|i| self.roles.get(i)) {
            Some(uid) => uid.clone(),
            None => Self::uid(&self.types.role, role.as_str()),
        }
    }

    fn slice(&self, action: Action) -> Option<&Slice> {
        Action::ALL.iter().position(|a| *a == action).and_then(|i| self.slices.get(i))
    }

    /// The uid of an entity named by a UUID, in its canonical hyphenated form (as the ids'
    /// `Display` writes it), formatted on the stack.
    fn uuid_uid(ty: &EntityTypeName, id: &uuid::Uuid) -> EntityUid {
        let mut buffer = [0_u8; uuid::fmt::Hyphenated::LENGTH];
        Self::uid(ty, id.hyphenated().encode_lower(&mut buffer))
    }

    fn account(&self, id: AccountId) -> EntityUid {
        Self::uuid_uid(&self.types.account, id.as_uuid())
    }

    fn accounts(&self, ids: &[AccountId]) -> RestrictedExpression {
        RestrictedExpression::new_set(
            ids.iter().map(|a| RestrictedExpression::new_entity_uid(self.account(*a))),
        )
    }

    fn entity<const N: usize>(
        uid: &EntityUid,
        attrs: [(&str, RestrictedExpression); N],
    ) -> Result<Entity, String> {
        Entity::new_with_tags(uid.clone(), attrs.map(|(k, v)| (k.to_owned(), v)), [], [])
            .map_err(|e| e.to_string())
    }

    fn shop_entity(&self, shop: &ShopFacts) -> Result<(EntityUid, Entity), String> {
        let uid = Self::uuid_uid(&self.types.shop, shop.id.as_uuid());
        let entity = Self::entity(
            &uid,
            [
                ("owner", RestrictedExpression::new_entity_uid(self.account(shop.owner))),
                ("managers", self.accounts(&shop.managers)),
                ("fulfilment", self.accounts(&shop.fulfilment)),
                ("status", RestrictedExpression::new_string(shop.status.clone())),
            ],
        )?;
        Ok((uid, entity))
    }

    /// The principal, the resource, and the entities the policies may read. An entity with
    /// neither attributes nor parents is left out: Cedar treats an entity it is not given as
    /// one with no ancestors (`in` is then uid equality, as it would be), and strict
    /// validation guarantees no policy reads an attribute of an account, a role or the audit
    /// log (the schema gives them none). So role entities are never sent, and the principal
    /// is sent only when it holds roles.
    fn build(
        &self,
        actor: &Actor,
        resource: &Resource<'_>,
    ) -> Result<(EntityUid, EntityUid, Vec<Entity>), String> {
        let mut entities: Vec<Entity> = Vec::with_capacity(3);
        let principal = self.account(actor.id);
        if !actor.roles.is_empty() {
            let roles = actor.roles.iter().map(|r| self.role(*r)).collect();
            entities.push(Entity::new_no_attrs(principal.clone(), roles));
        }
        let resource_uid = match resource {
            Resource::Account(id) => self.account(*id),
            Resource::AuditLog => self.audit_log.clone(),
            Resource::Ledger => self.ledger.clone(),
            Resource::Risk => self.risk.clone(),
            Resource::Shop(shop) => {
                let (uid, entity) = self.shop_entity(shop)?;
                entities.push(entity);
                uid
            }
            Resource::Listing { id, status, shop } => {
                let (shop_uid, shop_entity) = self.shop_entity(shop)?;
                entities.push(shop_entity);
                let uid = Self::uuid_uid(&self.types.listing, id.as_uuid());
                entities.push(Self::entity(
                    &uid,
                    [
                        ("shop", RestrictedExpression::new_entity_uid(shop_uid)),
                        ("status", RestrictedExpression::new_string((*status).to_owned())),
                    ],
                )?);
                uid
            }
            Resource::Order { id, buyer, shop } => {
                let (shop_uid, shop_entity) = self.shop_entity(shop)?;
                entities.push(shop_entity);
                let uid = Self::uid(&self.types.order, id);
                entities.push(Self::entity(
                    &uid,
                    [
                        ("buyer", RestrictedExpression::new_entity_uid(self.account(*buyer))),
                        ("shop", RestrictedExpression::new_entity_uid(shop_uid)),
                    ],
                )?);
                uid
            }
        };
        Ok((principal, resource_uid, entities))
    }

    /// Decides whether `actor` may do `action` to `resource`. Default deny.
    #[must_use]
    pub fn decide(&self, actor: &Actor, action: Action, resource: &Resource<'_>) -> Decision {
        let denied = |e: String| Decision { allowed: false, policies: Vec::new(), errors: vec![e] };
        if !action.applies_to(resource) {
            return denied(format!("{} does not apply to this kind of resource", action.as_str()));
        }
        let Some(slice) = self.slice(action) else {
            return denied(format!("{} has no policy slice", action.as_str()));
        };
        let (principal, resource_uid, entities) = match self.build(actor, resource) {
            Ok(parts) => parts,
            Err(e) => return denied(e),
        };
        // The policies were validated strictly against the schema at load, and these
        // entities and requests are built by typed code above, so per-request schema checks
        // (which cost more than the decision itself) are not repeated here.
        let entities = match Entities::from_entities(entities, None) {
            Ok(e) => e,
            Err(e) => return denied(e.to_string()),
        };
        let request =
            match Request::new(principal, slice.action.clone(), resource_uid, Context::empty(), None) {
                Ok(r) => r,
                Err(e) => return denied(e.to_string()),
            };
        let response = self.authorizer.is_authorized(&request, &slice.policies, &entities);
        let policies = response
            .diagnostics()
            .reason()
            .map(|id| slice.ids.get(id).cloned().unwrap_or_else(|| id.to_string()))
            .collect();
        let errors = response.diagnostics().errors().map(ToString::to_string).collect::<Vec<_>>();
        Decision {
            allowed: response.decision() == CedarDecision::Allow && errors.is_empty(),
            policies,
            errors,
        }
    }
}

#[cfg(test)]
mod matrix_tests;
