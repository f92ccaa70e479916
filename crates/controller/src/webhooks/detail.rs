//! The compiled Kyverno policies behind a [`PolicySet`](palisade_engine::PolicySet), so the webhook computation can
//! read their rules kind by kind (the engine trait only says which kinds and operations a policy takes overall).

use palisade_engine::registry::AdmissionPolicy;
use palisade_kyverno::policy::KyvernoPolicy;
use std::collections::HashMap;
use std::sync::Arc;

/// Kyverno policies by name, each with the very object that serves in the set.
#[derive(Clone, Default)]
pub struct KyvernoDetail {
    by_name: HashMap<String, (Arc<dyn AdmissionPolicy>, Arc<KyvernoPolicy>)>,
}

impl std::fmt::Debug for KyvernoDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_name.keys()).finish()
    }
}

impl KyvernoDetail {
    /// Records that `served` (as held in the set) is the compiled Kyverno policy `kyverno`.
    pub fn insert(&mut self, served: &Arc<dyn AdmissionPolicy>, kyverno: Arc<KyvernoPolicy>) {
        self.by_name.insert(served.name().to_string(), (Arc::clone(served), kyverno));
    }

    /// Adds every entry of `other`.
    pub fn extend(&mut self, other: &KyvernoDetail) {
        self.by_name.extend(other.by_name.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// The Kyverno policy behind `policy`, when this detail was built with that very object.
    pub fn get(&self, policy: &dyn AdmissionPolicy) -> Option<&KyvernoPolicy> {
        let (served, kyverno) = self.by_name.get(policy.name())?;
        std::ptr::addr_eq(Arc::as_ptr(served), policy as *const dyn AdmissionPolicy).then_some(kyverno.as_ref())
    }

    /// Number of policies known.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether no policy is known.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
