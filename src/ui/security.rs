//! Who may use the web interface, as a pure function of the client's address, the
//! request's method and headers and the configuration ([`check`]): loopback clients
//! only unless `--ui-remote`, then only with the token (`Authorization: Bearer`, the
//! cookie the page sets, or `?token=` on the page's URL); a `Host` that is not ours is
//! refused (DNS rebinding: a page on a name the attacker controls that resolves to us);
//! a state-changing request with a foreign `Origin` is refused (cross-site), and one
//! without a JSON body type too (an HTML form cannot send `application/json`).

use std::net::{IpAddr, SocketAddr};

use hyper::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN};
use hyper::{Method, StatusCode};

/// Name of the cookie holding the token once the page was opened with `?token=`.
pub const TOKEN_COOKIE: &str = "servent_ui_token";

/// Who may use the interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiAccess {
    /// The servent's own listening address (its port is the only one a `Host` may name).
    pub listen: Option<SocketAddr>,
    /// Non-loopback clients are let in (with the token).
    pub remote: bool,
    /// The token remote clients must show; required when `remote`.
    pub token: Option<String>,
}

/// Why a request is refused: the status to answer and a reason for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 403 (not allowed) or 415 (not a JSON body).
    pub status: StatusCode,
    /// What was wrong.
    pub reason: &'static str,
}

fn refuse(status: StatusCode, reason: &'static str) -> Result<Access, Refusal> {
    Err(Refusal { status, reason })
}

/// How an allowed request got in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A loopback client (no token needed).
    Loopback,
    /// A remote client that showed the token in a header or cookie.
    Token,
    /// A remote client that showed the token in the page URL's `?token=`: the answer
    /// sets the cookie so the page's own requests carry it.
    TokenInUrl,
}

/// Judges one request. `query` is the URL's query string (for `?token=`).
pub fn check(
    config: &UiAccess,
    peer: IpAddr,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Access, Refusal> {
    let forbidden = StatusCode::FORBIDDEN;
    match headers.get(HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if host_is_ours(config, host) => {}
        _ => return refuse(forbidden, "the Host header does not name this servent"),
    }
    let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        if let Some(origin) = headers.get(ORIGIN) {
            let ours = origin
                .to_str()
                .ok()
                .and_then(|o| o.strip_prefix("http://"))
                .is_some_and(|host| host_is_ours(config, host));
            if !ours {
                return refuse(forbidden, "cross-site request (foreign Origin)");
            }
        }
        let json = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if *method == Method::POST && !json {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "POST bodies must be application/json",
            );
        }
    }
    if peer.to_canonical().is_loopback() {
        return Ok(Access::Loopback);
    }
    let token = match (&config.token, config.remote) {
        (Some(t), true) if !t.is_empty() => t.as_bytes(),
        _ => return refuse(forbidden, "the web interface is for loopback clients"),
    };
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='));
    if bearer
        .into_iter()
        .chain(cookie)
        .any(|t| same(t.as_bytes(), token))
    {
        return Ok(Access::Token);
    }
    let in_url = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|kv| kv.strip_prefix("token="))
        .any(|t| same(t.as_bytes(), token));
    if in_url && *method == Method::GET {
        return Ok(Access::TokenInUrl);
    }
    refuse(forbidden, "a remote client needs the token")
}

/// Whether a `Host` (or an `Origin`'s host part) names this servent: its own address,
/// `127.0.0.1`, `[::1]` or `localhost` at its port; with `remote`, also any IP literal at
/// its port (a DNS-rebinding page always comes under a name, never an address).
pub fn host_is_ours(config: &UiAccess, host: &str) -> bool {
    let Some(listen) = config.listen else {
        return false;
    };
    let port = listen.port();
    let (name, host_port) = split_host(host);
    if host_port != Some(port) && !(host_port.is_none() && port == 80) {
        return false;
    }
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name == "127.0.0.1" || name == "[::1]" {
        return true;
    }
    let ip: Option<IpAddr> = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok();
    match ip {
        Some(ip) => (!listen.ip().is_unspecified() && ip == listen.ip()) || config.remote,
        None => false,
    }
}

/// `name:port` → (`name`, port); `[v6]:port` keeps its brackets; no port → `None`.
fn split_host(host: &str) -> (&str, Option<u16>) {
    let host = host.trim();
    let colon = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => i,
        _ => return (host, None),
    };
    match host[colon + 1..].parse() {
        Ok(p) => (&host[..colon], Some(p)),
        Err(_) => (host, Some(0)),
    }
}

/// Compares two secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn config(remote: bool) -> UiAccess {
        UiAccess {
            listen: Some("127.0.0.1:6346".parse().unwrap()),
            remote,
            token: remote.then(|| "s3cret".to_owned()),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    const LOOPBACK: &str = "127.0.0.1";
    const REMOTE: &str = "192.0.2.7";

    fn get(cfg: &UiAccess, peer: &str, h: &[(&'static str, &str)]) -> Result<Access, Refusal> {
        check(cfg, peer.parse().unwrap(), &Method::GET, &headers(h), None)
    }

    #[test]
    fn loopback_names_at_our_port_are_ours() {
        let cfg = config(false);
        for host in [
            "127.0.0.1:6346",
            "localhost:6346",
            "[::1]:6346",
            "LOCALHOST:6346",
        ] {
            assert_eq!(
                get(&cfg, LOOPBACK, &[("host", host)]),
                Ok(Access::Loopback),
                "{host}"
            );
        }
        for host in [
            "evil.example:6346",
            "127.0.0.1:80",
            "localhost",
            "10.0.0.1:6346",
            "",
        ] {
            let r = get(&cfg, LOOPBACK, &[("host", host)]).unwrap_err();
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{host}");
        }
        assert!(get(&cfg, LOOPBACK, &[]).is_err(), "no Host at all");
    }

    #[test]
    fn remote_clients_are_refused_without_remote_mode() {
        let cfg = config(false);
        let r = get(&cfg, REMOTE, &[("host", "127.0.0.1:6346")]).unwrap_err();
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Even a token does not help when remote access is off.
        let r = get(
            &cfg,
            REMOTE,
            &[
                ("host", "127.0.0.1:6346"),
                ("authorization", "Bearer s3cret"),
            ],
        );
        assert!(r.is_err());
    }

    #[test]
    fn remote_clients_need_the_token() {
        let cfg = config(true);
        let host = ("host", "198.51.100.1:6346");
        assert!(get(&cfg, REMOTE, &[host]).is_err(), "no token");
        assert!(get(&cfg, REMOTE, &[host, ("authorization", "Bearer wrong")]).is_err());
        assert!(get(&cfg, REMOTE, &[host, ("authorization", "Bearer s3cre")]).is_err());
        assert_eq!(
            get(&cfg, REMOTE, &[host, ("authorization", "Bearer s3cret")]),
            Ok(Access::Token)
        );
        assert_eq!(
            get(
                &cfg,
                REMOTE,
                &[host, ("cookie", "a=b; servent_ui_token=s3cret")]
            ),
            Ok(Access::Token)
        );
        let url = check(
            &cfg,
            REMOTE.parse().unwrap(),
            &Method::GET,
            &headers(&[host]),
            Some("token=s3cret"),
        );
        assert_eq!(url, Ok(Access::TokenInUrl));
        let wrong = check(
            &cfg,
            REMOTE.parse().unwrap(),
            &Method::GET,
            &headers(&[host]),
            Some("token=x"),
        );
        assert!(wrong.is_err());
    }

    #[test]
    fn remote_mode_without_a_token_lets_no_remote_client_in() {
        let mut cfg = config(true);
        cfg.token = None;
        assert!(get(&cfg, REMOTE, &[("host", "198.51.100.1:6346")]).is_err());
        cfg.token = Some(String::new());
        let r = get(
            &cfg,
            REMOTE,
            &[("host", "198.51.100.1:6346"), ("authorization", "Bearer ")],
        );
        assert!(r.is_err());
    }

    #[test]
    fn remote_mode_still_refuses_dns_names() {
        let cfg = config(true);
        let h = [
            ("host", "rebind.example:6346"),
            ("authorization", "Bearer s3cret"),
        ];
        assert!(get(&cfg, REMOTE, &h).is_err());
    }

    fn post(cfg: &UiAccess, h: &[(&'static str, &str)]) -> Result<Access, Refusal> {
        check(
            cfg,
            LOOPBACK.parse().unwrap(),
            &Method::POST,
            &headers(h),
            None,
        )
    }

    #[test]
    fn posts_need_json_and_our_origin() {
        let cfg = config(false);
        let host = ("host", "127.0.0.1:6346");
        let json = ("content-type", "application/json; charset=utf-8");
        assert_eq!(post(&cfg, &[host, json]), Ok(Access::Loopback));
        assert_eq!(
            post(&cfg, &[host, json, ("origin", "http://localhost:6346")]),
            Ok(Access::Loopback)
        );
        let foreign = post(&cfg, &[host, json, ("origin", "http://evil.example")]).unwrap_err();
        assert_eq!(foreign.status, StatusCode::FORBIDDEN);
        assert!(post(&cfg, &[host, json, ("origin", "null")]).is_err());
        assert!(post(&cfg, &[host, json, ("origin", "https://127.0.0.1:6346")]).is_err());
        let form = post(
            &cfg,
            &[host, ("content-type", "application/x-www-form-urlencoded")],
        );
        assert_eq!(form.unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(
            post(&cfg, &[host]).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn hosts_split_at_their_port() {
        assert_eq!(split_host("[::1]:80"), ("[::1]", Some(80)));
        assert_eq!(split_host("[::1]"), ("[::1]", None));
        assert_eq!(split_host("a:b"), ("a:b", Some(0)));
        assert_eq!(split_host("localhost"), ("localhost", None));
    }
}
