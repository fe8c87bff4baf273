//! What a tenant in flight keeps of its compiled bundle: each operation without its body, tags
//! or variables ([`slim_operation`]), and the bodies as compact JSON text. Tenants on the same baselines
//! and parameters compile to the same operations (references stay `${ref:...}` until applied),
//! so a run shares one copy among the tenants in flight that have it ([`SharedSlims`]): a
//! thousand copies were about 40 KB per tenant in flight (dhat). Where sets differ (a tenant's
//! domain in one body), the bodies are still shared one by one: 200 tenants of the shipped
//! baselines have 138 distinct bodies among 8,350, about 24 KB of text per tenant otherwise.
//! Entries are weak, so a set or body is freed when its last tenant finishes and memory follows
//! tenants in flight, not the fleet.
//!
//! Input: a validated bundle's operations. Output: an `Arc<Slim>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;

use crate::compile::bundle::Operation;
use crate::compile::validate::ValidatedBundle;
use crate::live::desired::DesiredCache;

/// What reading, planning and applying need of a bundle's operations, and each operation's
/// body as compact JSON text.
#[derive(Debug)]
pub struct Slim {
    /// The operations, without bodies (see [`slim_operation`]), each shared with the other
    /// tenants in flight that have the same (a fleet's sets differ in an operation or two).
    pub operations: Vec<Arc<Operation>>,
    /// Each operation's body as compact JSON text, shared with the other tenants in flight
    /// that have the same.
    pub bodies: Vec<Arc<str>>,
}

/// Roughly what a slim operation holds besides its body's text.
pub const OPERATION_BYTES: usize = 256;

/// The [`Slim`] operations of the tenants in flight, shared by content.
#[derive(Debug, Default)]
pub struct SharedSlims {
    known: Mutex<Known<Slim>>,
    operations: Mutex<Known<Operation>>,
    bodies: Mutex<Known<str>>,
    /// The shared bodies as plan compares them, made once ([`DesiredCache`]).
    pub desired: DesiredCache,
}

/// Shared values by fingerprint, and the size at which dead entries are next dropped.
type Known<T> = (HashMap<[u8; 32], Weak<T>>, usize);

/// The live value under `key` in `known`, or `make()`'s, remembered weakly.
fn shared<T: ?Sized>(
    known: &Mutex<Known<T>>,
    key: [u8; 32],
    make: impl FnOnce() -> Arc<T>,
) -> Arc<T> {
    let mut known = known.lock().unwrap_or_else(|p| p.into_inner());
    let (map, prune_at) = &mut *known;
    if let Some(shared) = map.get(&key).and_then(Weak::upgrade) {
        return shared;
    }
    if map.len() >= *prune_at {
        map.retain(|_, value| value.strong_count() > 0);
        *prune_at = (map.len() * 2).max(64);
    }
    let value = make();
    map.insert(key, Arc::downgrade(&value));
    value
}

impl SharedSlims {
    /// The shared [`Slim`] of `operations` (made, or one already in use).
    pub fn share(&self, operations: &[Operation]) -> Arc<Slim> {
        self.share_slim(operations.iter().map(|op| self.slim(op, &op.body)).unzip())
    }

    /// [`share`](Self::share) the operations of a bundle whose bodies may be shared with the
    /// run that compiled it (read through [`ValidatedBundle::body`]). A body the run shares is
    /// written as text once per run ([`SharedBody::compact`](crate::compile::render::SharedBody)).
    pub fn share_bundle(&self, bundle: &ValidatedBundle) -> Arc<Slim> {
        self.share_slim(
            bundle
                .bundle()
                .operations
                .iter()
                .enumerate()
                .map(|(i, op)| {
                    let body = bundle.body(i);
                    let (text, key) = match bundle.shared_body(i) {
                        Some(shared) => shared.compact.get_or_init(|| compact(body)).clone(),
                        None => compact(body),
                    };
                    self.slim_text(op, text, key)
                })
                .unzip(),
        )
    }

    fn share_slim(&self, (operations, bodies): (Vec<Arc<Operation>>, Vec<Arc<str>>)) -> Arc<Slim> {
        let key = slim_fingerprint(&operations, &bodies);
        shared(&self.known, key, || Arc::new(Slim { operations, bodies }))
    }

    /// [`slim_operation`] and the body's compact text, each shared with the tenants in flight
    /// that have the same.
    fn slim(&self, op: &Operation, body: &Value) -> (Arc<Operation>, Arc<str>) {
        let (text, key) = compact(body);
        self.slim_text(op, text, key)
    }

    /// [`slim_operation`], and `text` (whose SHA-256 is `body_key`), each shared with the
    /// tenants in flight that have the same. The operation is copied only when none is.
    fn slim_text(
        &self,
        op: &Operation,
        text: Arc<str>,
        body_key: [u8; 32],
    ) -> (Arc<Operation>, Arc<str>) {
        let op_key = operation_fingerprint(op);
        (
            shared(&self.operations, op_key, || Arc::new(slim_operation(op))),
            shared(&self.bodies, body_key, || text),
        )
    }
}

/// A body as compact JSON text, and the text's SHA-256.
fn compact(body: &Value) -> (Arc<str>, [u8; 32]) {
    use sha2::{Digest, Sha256};
    let text = serde_json::to_string(body).unwrap_or_default();
    let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    (Arc::from(text), key)
}

/// SHA-256 over a set's shared operations and bodies, by address: each is interned by its
/// content ([`SharedSlims::slim`]) and alive while the set is being made, so equal addresses
/// are equal contents.
fn slim_fingerprint(operations: &[Arc<Operation>], bodies: &[Arc<str>]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update((operations.len() as u64).to_le_bytes());
    for (op, body) in operations.iter().zip(bodies) {
        hasher.update((Arc::as_ptr(op) as usize as u64).to_le_bytes());
        hasher.update((Arc::as_ptr(body).cast::<u8>() as usize as u64).to_le_bytes());
    }
    hasher.finalize().into()
}

/// SHA-256 over everything [`slim_operation`] keeps of an operation, length-prefixed.
fn operation_fingerprint(op: &Operation) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    {
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
        // Where it was declared and rendered from, as numbers (formatting them as text was a
        // hundredth of a fleet's plan).
        let (at, from) = (op.declared_at, op.origin);
        for number in [
            u64::from(at.file.0),
            at.start as u64,
            at.end as u64,
            u64::from(from.file.0),
            from.base as u64,
            from.len as u64,
        ] {
            field(&number.to_le_bytes());
        }
    }
    hasher.finalize().into()
}

/// What applying an operation needs: the operation without its body, tags or variables.
fn slim_operation(op: &Operation) -> Operation {
    Operation {
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
    }
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
        // Sets that differ share the bodies and operations they have in common.
        assert!(Arc::ptr_eq(&a.bodies[1], &c.bodies[1]));
        assert!(!Arc::ptr_eq(&a.bodies[0], &c.bodies[0]));
        assert!(
            a.operations
                .iter()
                .zip(&c.operations)
                .all(|(x, y)| Arc::ptr_eq(x, y))
        );
        // A set whose one operation goes elsewhere (a tenant's own domain in its path) holds
        // that operation alone; the others are the first set's.
        let mut moved = operations.clone();
        moved[0].path = "/elsewhere".into();
        let e = slims.share(&moved);
        assert!(!Arc::ptr_eq(&a, &e));
        assert!(!Arc::ptr_eq(&a.operations[0], &e.operations[0]));
        assert_eq!(e.operations[0].path, "/elsewhere");
        assert!(
            a.operations[1..]
                .iter()
                .zip(&e.operations[1..])
                .all(|(x, y)| Arc::ptr_eq(x, y))
        );
        // Once no tenant holds it, a set is made afresh.
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none());
        let d = slims.share(operations);
        assert_eq!(d.operations.len(), operations.len());
    }
}
