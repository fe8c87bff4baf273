//! Access tokens signed ahead: after a tenant's app signs in, the next token for the same
//! tenant is signed on a background thread at the lowest CPU priority and kept until the
//! next sign-in asks for it (or it is too old to hand out).
//!
//! Why: an RS256 signature with a 2048-bit key costs the simulator about a millisecond of CPU,
//! and a fleet run signs a thousand tenants in at once. Entra signs on Microsoft's machines;
//! the simulator signs on the user's, beside the client it answers, so a thousand signatures at
//! once held every tenant's first read back by the CPU they took. Signed ahead, in the time the
//! machine has to spare, a sign-in costs a look-up, as it costs the user's machine nothing
//! against Entra. Every token is still issued once, with its own `uti`, signed with the
//! simulator's key; the client authenticates on every request as before (the secret or the
//! certificate assertion is checked before a token is handed out).
//!
//! What a client can see: a token signed ahead carries its signing time, so its `iat`/`nbf`
//! are earlier and its `expires_in` shorter by the time it waited, at most
//! [`READY_AGE_MAX_MS`] (Entra's own lifetimes vary by half an hour).
//!
//! Input: the claims of a token just issued. Output: a ready token for the tenant's next
//! sign-in, if one was signed in time.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use crate::sim::auth::AccessClaims;
use crate::sim::signing::{SigningKey, SigningKeyError};

/// The oldest a token signed ahead may be when handed out (simulator clock).
pub(crate) const READY_AGE_MAX_MS: i64 = 5 * 60 * 1000;

/// Most tokens kept ready (about 1.3 KB each): past it, tenants sign in as they did before.
const READY_TOKENS_KEPT: usize = 10_000;

/// A token signed ahead for one tenant.
#[derive(Debug)]
pub(crate) struct ReadyToken {
    /// The signed JWT.
    pub(crate) token: String,
    /// Simulator time it was signed for (milliseconds since the epoch).
    pub(crate) signed_ms: i64,
    /// Its `exp` (seconds since the epoch).
    pub(crate) exp: i64,
}

/// What the background thread signs: the claims of a tenant's next token.
struct Job {
    tenant: Box<str>,
    claims: AccessClaims,
    signed_ms: i64,
}

/// Tokens ready by tenant, and the tenants whose next token is being signed.
#[derive(Debug, Default)]
struct Shelf {
    ready: HashMap<Box<str>, ReadyToken>,
    pending: HashSet<Box<str>>,
}

/// The ahead-of-time signer of one simulator.
pub(crate) struct Minter {
    signing: Arc<SigningKey>,
    header: jsonwebtoken::Header,
    shelf: Arc<Mutex<Shelf>>,
    /// The queue to the signing thread, started with the first job; dropping the minter
    /// closes it and the thread ends.
    queue: Mutex<Option<Sender<Job>>>,
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter").finish_non_exhaustive()
    }
}

impl Minter {
    /// A minter signing with `signing` (RS256, named by its `kid`).
    pub(crate) fn new(signing: Arc<SigningKey>) -> Minter {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(signing.kid.clone());
        Minter {
            signing,
            header,
            shelf: Arc::default(),
            queue: Mutex::new(None),
        }
    }

    /// Sign `claims` now, as every token is signed (inline or ahead).
    pub(crate) fn sign(&self, claims: &AccessClaims) -> Result<String, SigningKeyError> {
        self.signing.sign(&self.header, claims)
    }

    /// The ready token of `tenant`, if one was signed no longer than [`READY_AGE_MAX_MS`] ago
    /// and is unexpired at `now_ms`. A token is handed out once.
    pub(crate) fn take(&self, tenant: &str, now_ms: i64) -> Option<ReadyToken> {
        let ready = self
            .shelf
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ready
            .remove(tenant)?;
        let fresh = (0..=READY_AGE_MAX_MS).contains(&(now_ms - ready.signed_ms))
            && ready.exp > now_ms.div_euclid(1000);
        fresh.then_some(ready)
    }

    /// Sign the next token of `tenant` ahead, with `claims` as of `now_ms` (the thread gives
    /// it its own `uti`), unless one is already being signed or the shelf is full.
    pub(crate) fn sign_ahead(&self, tenant: &str, claims: AccessClaims, now_ms: i64) {
        {
            let mut shelf = self.shelf.lock().unwrap_or_else(|p| p.into_inner());
            if shelf.ready.len() + shelf.pending.len() >= READY_TOKENS_KEPT
                || !shelf.pending.insert(tenant.into())
            {
                return;
            }
        }
        let job = Job {
            tenant: tenant.into(),
            claims,
            signed_ms: now_ms,
        };
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let sender = queue.get_or_insert_with(|| self.start());
        if let Err(unsent) = sender.send(job) {
            // The thread is gone (it could not start): the tenant signs in inline next time.
            self.shelf
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pending
                .remove(&unsent.0.tenant);
        }
    }

    /// Start the signing thread; its queue's sender.
    fn start(&self) -> Sender<Job> {
        let (sender, receiver) = channel();
        let signing = self.signing.clone();
        let header = self.header.clone();
        let shelf = self.shelf.clone();
        // A thread that cannot start drops the receiver: sends fail and sign-ins stay inline.
        let _ = std::thread::Builder::new()
            .name("sim-token-signer".into())
            .spawn(move || sign_jobs(&receiver, &signing, &header, &shelf));
        sender
    }
}

/// The signing thread: at the lowest priority, signs each job into the shelf until the queue
/// closes.
fn sign_jobs(
    receiver: &Receiver<Job>,
    signing: &SigningKey,
    header: &jsonwebtoken::Header,
    shelf: &Mutex<Shelf>,
) {
    lowest_priority();
    while let Ok(mut job) = receiver.recv() {
        job.claims.uti = uuid::Uuid::new_v4().simple().to_string();
        let signed = signing.sign(header, &job.claims).ok();
        let mut shelf = shelf.lock().unwrap_or_else(|p| p.into_inner());
        shelf.pending.remove(&job.tenant);
        if let Some(token) = signed {
            shelf.ready.insert(
                job.tenant,
                ReadyToken {
                    token,
                    signed_ms: job.signed_ms,
                    exp: job.claims.exp,
                },
            );
        }
    }
}

/// Lower the calling thread's CPU priority to the least (nice 19): it signs in the time the
/// machine's other work leaves.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions; setpriority on the calling thread's own id
        // changes only its nice value (per thread on Linux), and a failure leaves it as is.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid);
            if let Ok(tid) = libc::id_t::try_from(tid) {
                libc::setpriority(libc::PRIO_PROCESS, tid, 19);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            aud: "https://graph.microsoft.com".into(),
            iss: "https://sts.windows.net/t/".into(),
            iat: 0,
            nbf: 0,
            exp,
            appid: "app".into(),
            idtyp: "app".into(),
            oid: "o".into(),
            roles: vec!["Policy.Read.All".into()],
            sub: "o".into(),
            tid: "t".into(),
            ver: "1.0".into(),
            uti: "first".into(),
        }
    }

    fn minter() -> Minter {
        Minter::new(Arc::new(SigningKey::load_or_create(None).expect("key")))
    }

    fn wait_ready(minter: &Minter, tenant: &str) {
        for _ in 0..500 {
            if minter
                .shelf
                .lock()
                .expect("shelf")
                .ready
                .contains_key(tenant)
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no token was signed ahead for {tenant}");
    }

    #[test]
    fn a_token_signed_ahead_is_handed_out_once_with_its_own_uti() {
        let minter = minter();
        let now_ms = 1_800_000_000_000;
        assert!(minter.take("t", now_ms).is_none());
        // A request while the tenant's next token is being signed adds nothing (no job, so no
        // signing thread either). Marked by hand: the thread may sign faster than a second
        // request comes.
        minter
            .shelf
            .lock()
            .expect("shelf")
            .pending
            .insert("t".into());
        minter.sign_ahead("t", claims(now_ms / 1000 + 3599), now_ms);
        assert!(
            minter.queue.lock().expect("queue").is_none(),
            "queued twice"
        );
        minter.shelf.lock().expect("shelf").pending.clear();
        minter.sign_ahead("t", claims(now_ms / 1000 + 3599), now_ms);
        wait_ready(&minter, "t");
        let ready = minter.take("t", now_ms + 10).expect("a ready token");
        assert_eq!(ready.signed_ms, now_ms);
        let payload = ready.token.split('.').nth(1).expect("payload");
        let payload: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                .expect("base64"),
        )
        .expect("json");
        assert_eq!(payload["tid"], "t");
        assert_ne!(payload["uti"], "first");
        assert!(minter.take("t", now_ms + 10).is_none(), "handed out twice");
        assert!(minter.shelf.lock().expect("shelf").pending.is_empty());
    }

    #[test]
    fn a_token_too_old_or_expired_is_not_handed_out() {
        let minter = minter();
        let now_ms = 1_800_000_000_000;
        minter.sign_ahead("old", claims(now_ms / 1000 + 3599), now_ms);
        wait_ready(&minter, "old");
        assert!(minter.take("old", now_ms + READY_AGE_MAX_MS + 1).is_none());
        minter.sign_ahead("expired", claims(now_ms / 1000 + 1), now_ms);
        wait_ready(&minter, "expired");
        assert!(minter.take("expired", now_ms + 2_000).is_none());
        // Signed for a time after the request's (a clock set back): not handed out either.
        minter.sign_ahead("future", claims(now_ms / 1000 + 3599), now_ms);
        wait_ready(&minter, "future");
        assert!(minter.take("future", now_ms - 1).is_none());
    }
}
