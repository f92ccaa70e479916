//! The policy watch: ClusterPolicy, Policy and RuntimeClassPolicy into one [`Catalog`] per kind, each new set
//! published, and (on the leader only) status writes and webhook registration.

use super::{FIELD_MANAGER, KINDS, Registration, WatchConfig, apply_webhooks, resource, status};
use crate::catalog::{Catalog, CatalogError, Outcome, PolicyKey};
use crate::webhooks::{KyvernoDetail, plan_detailed};
use futures::{StreamExt, stream};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use palisade_engine::PolicySet;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How often leadership changes and failed registrations are looked at when no event arrives.
const RESYNC_TICK: Duration = Duration::from_secs(1);

/// Whether a watch error means the kind is not served (CRD not installed): then the set is published without
/// it. Any other error (API server unreachable, forbidden, ...) leaves the kind unlisted, so nothing is
/// published (and readiness stays false) until a listing succeeds.
fn kind_not_served(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.code == 404,
        _ => false,
    }
}

/// Watch state across events.
struct State {
    catalogs: Vec<Catalog>,
    /// The latest object per key as the API server returned it (for status comparisons).
    live: Vec<BTreeMap<PolicyKey, Value>>,
    buffers: Vec<Vec<Value>>,
    listed: [bool; KINDS.len()],
    /// Configurations last applied by this replica while leading; `None` after a failure or a leadership loss.
    applied: Option<(Value, Value)>,
    /// Whether this replica, as leader, has written every object's status since it took the lead.
    synced_as_leader: bool,
}

/// Watches ClusterPolicy, Policy and RuntimeClassPolicy until the task is dropped (errors are retried with backoff
/// and logged). Once every kind has been listed (or found not served, e.g. a CRD that is not installed), each
/// change is compiled into the catalog and the combined set is published. While `leader` is true, each object's
/// `status` is patched when its `Ready` condition changed, and the webhook configurations are re-applied when the
/// computed ones changed; a replica that takes the lead writes every status and registers the webhooks at once,
/// and a failed registration is retried every second.
pub async fn watch_policies(client: kube::Client, config: WatchConfig) {
    let streams = (0..KINDS.len()).map(|i| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource(i));
        watcher(api, watcher::Config::default()).default_backoff().map(move |event| (i, event)).boxed()
    });
    let mut events = stream::select_all(streams);
    let mut state = State {
        catalogs: vec![Catalog::new(); KINDS.len()],
        live: vec![BTreeMap::new(); KINDS.len()],
        buffers: vec![Vec::new(); KINDS.len()],
        listed: [false; KINDS.len()],
        applied: None,
        synced_as_leader: false,
    };
    let mut tick = tokio::time::interval(RESYNC_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (changed, touched) = tokio::select! {
            event = events.next() => match event {
                Some((i, event)) => match on_event(&mut state, i, event) {
                    Some(touched) => (true, touched),
                    None => continue,
                },
                None => return,
            },
            _ = tick.tick() => {
                let leading = config.leader.load(Ordering::Relaxed);
                if !leading {
                    state.synced_as_leader = false;
                    state.applied = None;
                }
                let ca_pending = config.registration.as_ref().is_some_and(|r| r.ca_bundle.pending());
                if !leading || (state.synced_as_leader && state.applied.is_some() && !ca_pending) {
                    continue;
                }
                (false, Vec::new())
            }
        };
        if !state.listed.iter().all(|l| *l) {
            continue;
        }
        let set = Arc::new(combined(&state.catalogs));
        if changed {
            (config.publish)(Arc::clone(&set));
        }
        if !config.leader.load(Ordering::Relaxed) {
            state.synced_as_leader = false;
            state.applied = None;
            continue;
        }
        let touched = if state.synced_as_leader {
            touched
        } else {
            tracing::info!("leading: writing policy status and registering the webhooks");
            state.synced_as_leader = true;
            let all = state.live.iter().enumerate();
            all.flat_map(|(i, m)| m.iter().map(move |(k, v)| (i, k.clone(), v.clone()))).collect()
        };
        for (i, key, live) in touched {
            write_policy_status(&client, &state.catalogs[i], i, &key, &live).await;
        }
        if let Some(registration) = &config.registration {
            let mut detail = KyvernoDetail::default();
            for catalog in &state.catalogs {
                detail.extend(&catalog.kyverno_detail());
            }
            register(&client, &set, &detail, registration, &mut state.applied).await;
        }
    }
}

/// Applies one watch event to the state; returns the objects whose status may need writing (kind index, key, live
/// object) when the set changed, or `None` when it did not.
fn on_event(
    state: &mut State,
    i: usize,
    event: Result<watcher::Event<DynamicObject>, watcher::Error>,
) -> Option<Vec<(usize, PolicyKey, Value)>> {
    let kind = KINDS[i].2;
    let event = match event {
        Ok(event) => event,
        Err(e) if kind_not_served(&e) => {
            tracing::warn!(kind, error = %e, "kind not served (CRD not installed?): serving without it, retrying");
            let newly = !state.listed[i];
            state.listed[i] = true;
            return newly.then(Vec::new);
        }
        Err(e) => {
            tracing::warn!(kind, error = %e, "policy watch failed; retrying with backoff");
            return None;
        }
    };
    match event {
        watcher::Event::Init => {
            state.buffers[i].clear();
            None
        }
        watcher::Event::InitApply(obj) => {
            state.buffers[i].push(object_value(&obj, i));
            None
        }
        watcher::Event::InitDone => {
            state.listed[i] = true;
            let objects = std::mem::take(&mut state.buffers[i]);
            for (key, outcome) in state.catalogs[i].replace_all(&objects) {
                log_outcome(&key, &outcome);
            }
            state.live[i].clear();
            let mut touched = Vec::new();
            for object in objects {
                if let Ok(key) = PolicyKey::of(&object) {
                    state.live[i].insert(key.clone(), object.clone());
                    touched.push((i, key, object));
                }
            }
            tracing::info!(kind, objects = touched.len(), "policies listed");
            Some(touched)
        }
        watcher::Event::Apply(obj) => {
            let value = object_value(&obj, i);
            let outcome = state.catalogs[i].upsert(&value);
            match PolicyKey::of(&value) {
                Ok(key) => {
                    log_outcome(&key, &outcome);
                    state.live[i].insert(key.clone(), value.clone());
                    Some(vec![(i, key, value)])
                }
                Err(e) => {
                    tracing::warn!(kind, error = %e, "ignoring watched object");
                    None
                }
            }
        }
        watcher::Event::Delete(obj) => {
            let key = PolicyKey::of(&object_value(&obj, i)).ok()?;
            state.catalogs[i].remove(&key);
            state.live[i].remove(&key);
            tracing::info!(policy = %key, "policy deleted");
            // Nothing to write status to, but the set changed.
            Some(Vec::new())
        }
    }
}

/// Applies the configurations computed for `set` when they differ from the last ones applied.
async fn register(
    client: &kube::Client,
    set: &PolicySet,
    detail: &KyvernoDetail,
    r: &Registration,
    applied: &mut Option<(Value, Value)>,
) {
    let (generation, ca_bundle) = r.ca_bundle.get();
    if ca_bundle.is_empty() {
        tracing::info!("waiting for the serving CA before registering the webhooks");
        return;
    }
    let plan = match plan_detailed(set, detail, &ca_bundle, &r.target, &r.options) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::error!(error = %e, "cannot compute the webhook configurations");
            return;
        }
    };
    let wanted = (plan.mutating, plan.validating);
    if applied.as_ref() == Some(&wanted) {
        r.ca_bundle.mark_applied(generation);
        return;
    }
    if !plan.unresolved_kinds.is_empty() {
        tracing::warn!(kinds = ?plan.unresolved_kinds, "policies name kinds with no known resource: not registered");
    }
    match apply_webhooks(client, &wanted.0, &wanted.1).await {
        Ok(()) => {
            tracing::info!(name = %r.options.name, policies = set.len(), "webhook configurations updated");
            *applied = Some(wanted);
            r.ca_bundle.mark_applied(generation);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot update the webhook configurations; retrying");
            *applied = None;
        }
    }
}

fn log_outcome(key: &PolicyKey, outcome: &Result<Outcome, CatalogError>) {
    match outcome {
        Ok(Outcome::Ready) => tracing::info!(policy = %key, "policy compiled"),
        Ok(Outcome::Failed { error, previous_serves }) => {
            tracing::warn!(policy = %key, %error, previous_serves, "policy does not compile")
        }
        Err(e) => tracing::warn!(error = %e, "ignoring watched object"),
    }
}

/// All catalogs' policies in one set: ClusterPolicies, then Policies, then RuntimeClassPolicies.
fn combined(catalogs: &[Catalog]) -> PolicySet {
    let mut set = PolicySet::new();
    for catalog in catalogs {
        for policy in catalog.policy_set().policies() {
            set.add(Arc::clone(policy));
        }
    }
    set
}

/// The object as JSON, with apiVersion/kind filled in from the watched resource when the server left them out.
fn object_value(obj: &DynamicObject, index: usize) -> Value {
    let mut value = serde_json::to_value(obj).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        let ar = resource(index);
        map.entry("apiVersion").or_insert_with(|| Value::from(ar.api_version.clone()));
        map.entry("kind").or_insert_with(|| Value::from(ar.kind.clone()));
    }
    value
}

async fn write_policy_status(client: &kube::Client, catalog: &Catalog, index: usize, key: &PolicyKey, live: &Value) {
    let now = now_rfc3339();
    let Some(desired) = catalog.status_patch(key, &now) else { return };
    if status::status_is_current(live, &desired) {
        return;
    }
    let ar = resource(index);
    let api: Api<DynamicObject> = match &key.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    if let Err(e) = api.patch_status(&key.name, &params, &Patch::Merge(&desired)).await {
        tracing::warn!(policy = %key, error = %e, "cannot write policy status");
    }
}

fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    status::rfc3339(secs)
}
