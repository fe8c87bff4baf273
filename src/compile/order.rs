//! The order of a bundle's operations: each after those it depends on, ties kept in
//! declaration order, and the path of a loop when there is one.
//!
//! Input: operations with their `depends_on`. Output: indices in apply order, or the cycle.

use std::collections::{BTreeMap, BTreeSet};

use crate::compile::bundle::Operation;
use crate::source::Span;

/// Topological order (indices into `ops`), ties kept in declaration order; a cycle returns its
/// path.
pub(crate) fn order(ops: &[Operation]) -> Result<Vec<usize>, (Vec<String>, Span)> {
    let index: BTreeMap<String, usize> = ops
        .iter()
        .enumerate()
        .map(|(i, o)| (o.key.clone(), i))
        .collect();
    let deps: Vec<Vec<usize>> = ops
        .iter()
        .map(|o| {
            o.depends_on
                .iter()
                .filter_map(|d| index.get(d).copied())
                .collect()
        })
        .collect();
    let mut placed = vec![false; ops.len()];
    let mut sequence = Vec::with_capacity(ops.len());
    loop {
        let mut progressed = false;
        for i in 0..ops.len() {
            if !placed[i] && deps[i].iter().all(|d| placed[*d]) {
                placed[i] = true;
                sequence.push(i);
                progressed = true;
                break;
            }
        }
        if !progressed {
            break;
        }
    }
    if sequence.len() < ops.len() {
        // Follow unplaced dependencies until one repeats: that is a cycle.
        let start = placed
            .iter()
            .position(|p| !p)
            .expect("invariant: some operation is unplaced");
        let mut path = vec![start];
        let mut seen = BTreeSet::from([start]);
        let mut current = start;
        while let Some(next) = deps[current].iter().copied().find(|d| !placed[*d]) {
            if !seen.insert(next) {
                let from = path.iter().position(|p| *p == next).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[from..].iter().map(|i| ops[*i].key.clone()).collect();
                cycle.push(ops[next].key.clone());
                return Err((cycle, ops[next].declared_at));
            }
            path.push(next);
            current = next;
        }
        let cycle = path.iter().map(|i| ops[*i].key.clone()).collect();
        return Err((cycle, ops[start].declared_at));
    }
    Ok(sequence)
}
