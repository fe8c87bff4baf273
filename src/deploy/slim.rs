//! What a tenant in flight keeps of its compiled bundle: each operation without its body, tags
//! or variables ([`slim`]), and the bodies as compact JSON text. Tenants on the same baselines
//! and parameters compile to the same operations (references stay `${ref:...}` until applied;
//! 3 distinct sets among 50 tenants of the shipped baselines), so a run shares one copy among
//! the tenants in flight that have it ([`SharedSlims`]): a thousand copies were about 40 KB per
//! tenant in flight (dhat). Entries are weak, so a set is freed when its last tenant finishes
//! and memory follows tenants in flight, not the fleet.
//!
//! Input: a validated bundle's operations. Output: an `Arc<Slim>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;

use crate::compile::bundle::Operation;
use crate::compile::validate::ValidatedBundle;

/// What reading, planning and applying need of a bundle's operations, and each operation's
/// body as compact JSON text.
#[derive(Debug)]
pub struct Slim {
    /// The operations, without bodies (see [`slim`]).
    pub operations: Vec<Operation>,
    /// Each operation's body as compact JSON text.
    pub bodies: Vec<Box<str>>,
}

impl Slim {
    /// Roughly what the set holds in memory: the bodies' text and a few hundred bytes per
    /// operation.
    pub fn approximate_bytes(&self) -> usize {
        self.bodies.iter().map(|b| b.len()).sum::<usize>() + self.operations.len() * 256
    }
}

/// The [`Slim`] operations of the tenants in flight, shared by content.
#[derive(Debug, Default)]
pub struct SharedSlims {
    known: Mutex<KnownSlims>,
}

/// Shared sets by fingerprint, and the size at which dead entries are next dropped.
type KnownSlims = (HashMap<[u8; 32], Weak<Slim>>, usize);

impl SharedSlims {
    /// The shared [`Slim`] of `operations` (made, or one already in use).
    pub fn share(&self, operations: &[Operation]) -> Arc<Slim> {
        self.share_slim(operations.iter().map(slim).unzip())
    }

    /// [`share`](Self::share) the operations of a bundle whose bodies may be shared with the
    /// run that compiled it (read through [`ValidatedBundle::body`]).
    pub fn share_bundle(&self, bundle: &ValidatedBundle) -> Arc<Slim> {
        self.share_slim(
            bundle
                .bundle()
                .operations
                .iter()
                .enumerate()
                .map(|(i, op)| slim_with_body(op, bundle.body(i)))
                .unzip(),
        )
    }

    fn share_slim(&self, (operations, bodies): (Vec<Operation>, Vec<Box<str>>)) -> Arc<Slim> {
        let key = slim_fingerprint(&operations, &bodies);
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let (map, prune_at) = &mut *known;
        if let Some(shared) = map.get(&key).and_then(Weak::upgrade) {
            return shared;
        }
        if map.len() >= *prune_at {
            map.retain(|_, slim| slim.strong_count() > 0);
            *prune_at = (map.len() * 2).max(64);
        }
        let shared = Arc::new(Slim { operations, bodies });
        map.insert(key, Arc::downgrade(&shared));
        shared
    }
}

/// SHA-256 over everything [`slim`] keeps of each operation, length-prefixed.
fn slim_fingerprint(operations: &[Operation], bodies: &[Box<str>]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    for (op, body) in operations.iter().zip(bodies) {
        field(op.key.as_bytes());
        field(op.kind.name.as_bytes());
        field(op.method.as_str().as_bytes());
        field(op.path.as_bytes());
        field(op.prefer.unwrap_or("\0").as_bytes());
        field(
            serde_json::to_string(&op.match_values)
                .unwrap_or_default()
                .as_bytes(),
        );
        field(op.depends_on.join("\0").as_bytes());
        for r in &op.refs {
            field(r.pointer.as_bytes());
            field(r.target.as_bytes());
            field(r.kind.as_bytes());
        }
        field(op.parent.as_deref().unwrap_or("\0").as_bytes());
        field(format!("{:?} {:?}", op.declared_at, op.origin).as_bytes());
        field(body.as_bytes());
    }
    hasher.finalize().into()
}

/// What applying an operation needs, and its body as compact JSON text.
pub fn slim(op: &Operation) -> (Operation, Box<str>) {
    slim_with_body(op, &op.body)
}

/// [`slim`] with the operation's body given apart.
fn slim_with_body(op: &Operation, body: &Value) -> (Operation, Box<str>) {
    let body = serde_json::to_string(body)
        .unwrap_or_default()
        .into_boxed_str();
    let slim = Operation {
        key: op.key.clone(),
        kind: op.kind,
        method: op.method,
        path: op.path.clone(),
        prefer: op.prefer,
        body: Value::Null,
        match_values: op.match_values.clone(),
        depends_on: op.depends_on.clone(),
        refs: op.refs.clone(),
        parent: op.parent.clone(),
        controls: Vec::new(),
        description: None,
        baseline: String::new(),
        declared_at: op.declared_at,
        origin: op.origin,
        var_spans: Default::default(),
        vars: std::sync::Arc::default(),
        accepted: Vec::new(),
    };
    (slim, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tenants_with_the_same_operations_share_one_slim_copy_until_the_last_finishes() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let operations = &bundle.bundle().operations;
        let slims = SharedSlims::default();
        let a = slims.share(operations);
        let b = slims.share(operations);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.operations.len(), operations.len());
        assert_eq!(a.bodies.len(), operations.len());
        // Another body is another set.
        let mut changed = operations.clone();
        changed[0].body = json!({"displayName": "other"});
        let c = slims.share(&changed);
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c.bodies[0], r#"{"displayName":"other"}"#);
        // Once no tenant holds it, a set is made afresh.
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none());
        let d = slims.share(operations);
        assert_eq!(d.operations.len(), operations.len());
    }
}
