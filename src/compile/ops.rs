//! [`Ops`]: a bundle's operations in order, as the stages after compile read them, whether
//! they are the bundle's own (`&[Operation]`) or shared one by one with other tenants in flight
//! (`&[Arc<Operation>]`, as deploy keeps them: a fleet's tenants differ in an operation or two,
//! so a whole set per tenant held the other forty again).

use std::sync::Arc;

use crate::compile::bundle::Operation;

/// Operations in order, borrowed from either a bundle or a shared set.
#[derive(Debug, Clone, Copy)]
pub enum Ops<'a> {
    /// A bundle's own operations.
    Owned(&'a [Operation]),
    /// Operations shared one by one.
    Shared(&'a [Arc<Operation>]),
}

impl<'a> Ops<'a> {
    /// How many.
    pub fn len(self) -> usize {
        match self {
            Ops::Owned(ops) => ops.len(),
            Ops::Shared(ops) => ops.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Operation `i`, if there is one.
    pub fn get(self, i: usize) -> Option<&'a Operation> {
        match self {
            Ops::Owned(ops) => ops.get(i),
            Ops::Shared(ops) => ops.get(i).map(|op| &**op),
        }
    }

    /// The operations in order.
    pub fn iter(self) -> OpsIter<'a> {
        OpsIter { ops: self, next: 0 }
    }
}

impl std::ops::Index<usize> for Ops<'_> {
    type Output = Operation;

    fn index(&self, i: usize) -> &Operation {
        match self {
            Ops::Owned(ops) => &ops[i],
            Ops::Shared(ops) => &ops[i],
        }
    }
}

/// [`Ops::iter`].
#[derive(Debug, Clone)]
pub struct OpsIter<'a> {
    ops: Ops<'a>,
    next: usize,
}

impl<'a> Iterator for OpsIter<'a> {
    type Item = &'a Operation;

    fn next(&mut self) -> Option<&'a Operation> {
        let op = self.ops.get(self.next)?;
        self.next += 1;
        Some(op)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.ops.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for OpsIter<'_> {}

impl<'a> IntoIterator for Ops<'a> {
    type Item = &'a Operation;
    type IntoIter = OpsIter<'a>;

    fn into_iter(self) -> OpsIter<'a> {
        self.iter()
    }
}

impl<'a> From<&'a [Operation]> for Ops<'a> {
    fn from(ops: &'a [Operation]) -> Ops<'a> {
        Ops::Owned(ops)
    }
}

impl<'a> From<&'a Vec<Operation>> for Ops<'a> {
    fn from(ops: &'a Vec<Operation>) -> Ops<'a> {
        Ops::Owned(ops)
    }
}

impl<'a> From<&'a [Arc<Operation>]> for Ops<'a> {
    fn from(ops: &'a [Arc<Operation>]) -> Ops<'a> {
        Ops::Shared(ops)
    }
}

impl<'a> From<&'a Vec<Arc<Operation>>> for Ops<'a> {
    fn from(ops: &'a Vec<Arc<Operation>>) -> Ops<'a> {
        Ops::Shared(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_shared_operations_read_alike() {
        let bundle = crate::live::plan::tests::minimal_bundle();
        let owned = &bundle.bundle().operations;
        let shared: Vec<Arc<Operation>> = owned.iter().cloned().map(Arc::new).collect();
        let (a, b) = (Ops::from(owned), Ops::from(&shared));
        assert_eq!(a.len(), owned.len());
        assert_eq!(b.len(), owned.len());
        assert!(!a.is_empty());
        let keys = |ops: Ops<'_>| ops.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(a), keys(b));
        assert_eq!(a.iter().len(), owned.len());
        assert_eq!(b[0].key, owned[0].key);
        assert!(b.get(owned.len()).is_none());
        assert!(Ops::from(&Vec::<Operation>::new()).is_empty());
    }
}
