//! Who gets an HTTP slot: at most [`HttpLimits::max_connections`] connections open, at most
//! [`HttpLimits::max_per_address`] from one client address; when every slot is taken, the
//! connection idle longest between requests is evicted for the newcomer, and only when
//! none is idle is the newcomer refused (503 with `Retry-After`, see [`refuse`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::deadline::Watch;
use super::ended::HttpEnd;
use super::limits::HttpLimits;
use crate::rt;

/// `Retry-After` of a refusal (seconds): by then idle connections have timed out.
pub const REFUSAL_RETRY_AFTER_S: u64 = 10;
/// After a refusal, the client's request is read and dropped for at most this long before
/// closing, so the close is a FIN after the 503 and not a reset that could destroy it.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);
/// ... and at most this many bytes of it.
const REFUSAL_DRAIN_BYTES: usize = 8 * 1024;

/// Whether `ip` is loopback, an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a
/// `[::]` listener sees of an IPv4 client) judged as the IPv4 address it carries.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The address a client's connections are counted under: IPv4 as itself (mapped or not),
/// IPv6 by its /64 (one home or host is given a whole /64).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

#[derive(Default)]
struct GateState {
    open: usize,
    per_address: HashMap<IpAddr, usize>,
    /// Admitted connections still counted, by id: their address key and phase.
    conns: HashMap<u64, (IpAddr, Arc<Watch>)>,
    next_id: u64,
}

impl GateState {
    fn release(&mut self, id: u64) {
        let Some((key, _)) = self.conns.remove(&id) else {
            return; // evicted: released then
        };
        self.open -= 1;
        if let Some(n) = self.per_address.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&key);
            }
        }
    }

    /// Evicts the connection idle longest between requests; false when none is idle.
    fn evict_idle(&mut self) -> bool {
        let victim = self
            .conns
            .iter()
            .filter_map(|(&id, (_, w))| w.idle_since().map(|t| (t, id)))
            .min();
        let Some((_, id)) = victim else {
            return false;
        };
        if let Some((_, w)) = self.conns.get(&id) {
            w.evict();
        }
        self.release(id);
        true
    }
}

/// The admission of HTTP connections (one per HTTP side, shared by its connections).
pub struct Gate {
    limits: HttpLimits,
    state: Arc<Mutex<GateState>>,
}

impl Gate {
    /// A gate enforcing `limits`, with no connection admitted yet.
    pub fn new(limits: HttpLimits) -> Gate {
        Gate {
            limits,
            state: Arc::default(),
        }
    }

    /// The caps and timeouts this gate enforces.
    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// HTTP connections holding a slot now.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    /// A slot for a connection from `peer` whose first head started at `head_started`, or
    /// why it is refused.
    pub fn admit(&self, peer: IpAddr, head_started: Instant) -> Result<Permit, HttpEnd> {
        let key = address_key(peer);
        let mut st = self.lock();
        if st.per_address.get(&key).copied().unwrap_or(0) >= self.limits.max_per_address {
            return Err(HttpEnd::OverAddressCap);
        }
        if st.open >= self.limits.max_connections && !st.evict_idle() {
            return Err(HttpEnd::OverGlobalCap);
        }
        let watch = Arc::new(Watch::new(head_started));
        let id = st.next_id;
        st.next_id += 1;
        st.open += 1;
        *st.per_address.entry(key).or_default() += 1;
        st.conns.insert(id, (key, Arc::clone(&watch)));
        Ok(Permit {
            gate: Arc::clone(&self.state),
            id,
            watch,
        })
    }
}

/// A slot held by one connection, given back when dropped.
pub struct Permit {
    gate: Arc<Mutex<GateState>>,
    id: u64,
    /// The connection's deadlines (head, idle) and whether it was evicted.
    pub watch: Arc<Watch>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.gate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(self.id);
    }
}

/// Answers a refused connection: 503 with `Retry-After`, then closes it after reading
/// (and dropping) what the client sent, within [`REFUSAL_LINGER`].
pub async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {REFUSAL_RETRY_AFTER_S}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let sent = rt::timeout(REFUSAL_LINGER, async {
        io.write_all(answer.as_bytes()).await?;
        io.close().await
    })
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        return;
    }
    let mut drained = 0;
    let mut buf = [0u8; 1024];
    let _ = rt::timeout(REFUSAL_LINGER, async {
        while drained < REFUSAL_DRAIN_BYTES {
            match io.read(&mut buf).await {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_loopback_is_loopback() {
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_loopback("127.0.0.2".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn per_address_cap_and_eviction_of_the_idle() {
        let gate = Gate::new(HttpLimits {
            max_connections: 3,
            max_per_address: 2,
            ..HttpLimits::default()
        });
        let now = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped_a: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let p1 = gate.admit(a, now).unwrap();
        let _p2 = gate.admit(mapped_a, now).unwrap();
        assert_eq!(gate.admit(a, now).err(), Some(HttpEnd::OverAddressCap));
        let _p3 = gate.admit("10.0.0.2".parse().unwrap(), now).unwrap();
        // Full, none idle: refused.
        let b: IpAddr = "10.0.0.3".parse().unwrap();
        assert_eq!(gate.admit(b, now).err(), Some(HttpEnd::OverGlobalCap));
        // One goes idle: it is evicted for the newcomer.
        p1.watch.request_started();
        p1.watch.response_done();
        let _p4 = gate.admit(b, now).unwrap();
        assert_eq!(p1.watch.cut(), Some(HttpEnd::EvictedIdle));
        assert_eq!(gate.open(), 3);
        drop(p1); // released at eviction already
        assert_eq!(gate.open(), 3);
        // Its address is under its cap again, but every slot is in use.
        assert_eq!(gate.admit(a, now).err(), Some(HttpEnd::OverGlobalCap));
    }
}
