//! What every request passes before it is routed (the `guard` middleware, wrapped around the whole app).
//!
//! - A path with a character that is not printable (Go's `unicode.IsPrint`, after percent-decoding) is refused with
//!   a bare 400, as OpenBao's `PrintablePathCheckHandler` does, before anything else: no mount, policy or token
//!   name can hold a NUL or a newline, and no logged path can either.
//! - An HTTP/1 request body is exactly what its framing says: chunked, or `Content-Length` bytes, or nothing (RFC
//!   9112 6.3). actix-web reads the body of a request that asks for a WebSocket upgrade, or of a `CONNECT`, as
//!   everything up to the end of the connection, so such a request would never be answered; here it is answered as
//!   any other (OpenBao does), and its connection is closed after the answer (nothing is upgraded).
//! - A body must arrive within the listener's `http_read_timeout` (30 s unless configured, as in OpenBao), counted
//!   from the moment the request head is in: a client that stops sending gets 408 and its connection is closed.
//!   The head itself has actix-web's client request timeout; an idle kept-alive connection, its keep-alive
//!   timeout.
//! - Each client address may hold at most the listener's `max_connections_per_client` connections at once; one
//!   more is shut down as soon as it is accepted (see [`on_connect`]), so neither slow nor idle connections of one
//!   client can use up the server's for everyone else.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType, StatusCode, Version};
use actix_web::middleware::Next;
use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{sleep, Sleep};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;

use crate::printable::is_printable;

/// Percent-decode a request path as Go's `url.URL.Path` has it (an invalid escape is kept as it is), bytes that are
/// not UTF-8 read as U+FFFD like Go's range over a string.
fn decoded_path(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('%') {
        return std::borrow::Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// How many body bytes an HTTP/1 request has by its framing: `None` when it is chunked (the chunks say), else its
/// `Content-Length`, else none at all.
fn framed_length(req: &ServiceRequest) -> Option<u64> {
    let headers = req.headers();
    let chunked = headers.get_all(header::TRANSFER_ENCODING).any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|coding| coding.trim().eq_ignore_ascii_case("chunked")))
    });
    if chunked {
        return None;
    }
    Some(
        headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0),
    )
}

/// Does the request ask to switch protocols (`Connection: upgrade`, `Upgrade: ...`) or to open a tunnel?
fn asks_for_upgrade(req: &ServiceRequest) -> bool {
    req.head().upgrade()
        || req.headers().contains_key(header::UPGRADE)
        || req.method() == actix_web::http::Method::CONNECT
}

/// What [`guard`] learns from a request's body once the handler is done with it.
#[derive(Default)]
struct BodyOutcome {
    /// The deadline passed before the body's end.
    timed_out: Cell<bool>,
    /// The body's unread rest, handed back when the handler drops it unfinished. It is kept with the response
    /// until that is sent, so actix-web sees an unread body and closes the connection after the answer instead of
    /// reading on (a chunked body it would wait for without any deadline).
    unread: RefCell<Option<Payload>>,
}

/// The request body as its framing bounds it, and given until a deadline (see the module documentation).
struct GuardedBody {
    inner: Payload,
    /// Bytes still to come; `None` when the inner stream ends the body itself (chunked, HTTP/2).
    remaining: Option<u64>,
    deadline: Pin<Box<Sleep>>,
    outcome: Rc<BodyOutcome>,
    /// The inner stream ended (or failed, or timed out): nothing of it is left to read.
    finished: bool,
}

impl Stream for GuardedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished || this.remaining == Some(0) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(mut chunk))) => {
                if let Some(remaining) = this.remaining.as_mut() {
                    if chunk.len() as u64 > *remaining {
                        // Beyond the framing: not this request's body. The connection is closed after the answer.
                        chunk.truncate(*remaining as usize);
                    }
                    *remaining -= chunk.len() as u64;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.outcome.timed_out.set(true);
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    BODY_TIMEOUT,
                )))))
            }
            other => {
                this.finished = true;
                other
            }
        }
    }
}

impl Drop for GuardedBody {
    fn drop(&mut self) {
        if !self.finished && !matches!(self.inner, Payload::None) {
            let unread = std::mem::replace(&mut self.inner, Payload::None);
            *self.outcome.unread.borrow_mut() = Some(unread);
        }
    }
}

/// A response body that keeps the request's unread body alive until the response is sent (see [`BodyOutcome`]).
struct WithUnreadBody {
    body: BoxBody,
    _unread: Payload,
}

impl MessageBody for WithUnreadBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> actix_web::body::BodySize {
        self.body.size()
    }

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

const BODY_TIMEOUT: &str = "timed out reading the request body";

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !is_printable(&decoded_path(req.path())) {
        return Ok(req.into_response(HttpResponse::BadRequest().finish()));
    }
    let upgrade = asks_for_upgrade(&req);
    let read_timeout = req
        .conn_data::<ConnectionLimits>()
        .map_or(crate::config::DEFAULT_HTTP_READ_TIMEOUT, |limits| {
            limits.body_read_timeout
        });
    let remaining = if req.version() <= Version::HTTP_11 {
        framed_length(&req)
    } else {
        None
    };
    let outcome = Rc::new(BodyOutcome::default());
    let inner = req.take_payload();
    req.set_payload(Payload::Stream {
        payload: Box::pin(GuardedBody {
            inner,
            remaining,
            deadline: Box::pin(sleep(read_timeout)),
            outcome: outcome.clone(),
            finished: false,
        }),
    });
    let mut resp = next.call(req).await?.map_into_boxed_body();
    let timed_out = outcome.timed_out.get();
    if timed_out {
        // Whatever the handler made of its failed read, the client is told what happened.
        let (req, _) = resp.into_parts();
        resp = ServiceResponse::new(
            req,
            super::error::errors_response(StatusCode::REQUEST_TIMEOUT, vec![BODY_TIMEOUT.into()]),
        );
    }
    if upgrade || timed_out {
        resp.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    let unread = outcome.unread.borrow_mut().take();
    Ok(match unread {
        Some(unread) => resp.map_body(|_, body| BoxBody::new(WithUnreadBody { body, _unread: unread })),
        None => resp,
    })
}

/// What a listener allows each of its connections: set when the connection is accepted (see [`on_connect`]) and
/// read by [`guard`] for each request on it.
pub struct ConnectionLimits {
    body_read_timeout: Duration,
    /// The connection's place in its client's count, given back when the connection ends.
    _slot: Option<ClientSlot>,
}

/// Open connections per client address, for one listener.
pub struct ClientLimiter {
    max: usize,
    clients: Mutex<HashMap<IpAddr, ClientConnections>>,
}

#[derive(Default)]
struct ClientConnections {
    open: usize,
    /// The refusal was logged since the client was last below its limit.
    refusal_logged: bool,
}

/// One admitted connection of a client; dropped with the connection.
struct ClientSlot {
    limiter: Arc<ClientLimiter>,
    ip: IpAddr,
}

impl ClientLimiter {
    /// `max`: connections per client address; 0 for no limit (then no limiter is needed).
    pub fn new(max: usize) -> Option<Arc<ClientLimiter>> {
        (max > 0).then(|| {
            Arc::new(ClientLimiter {
                max,
                clients: Mutex::new(HashMap::new()),
            })
        })
    }

    /// A slot for one more connection of `ip`, or `None` when it already holds `max`.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let client = clients.entry(ip).or_default();
        if client.open >= self.max {
            if !client.refusal_logged {
                client.refusal_logged = true;
                log::warn!(
                    "client {ip} holds {} connections, its limit (max_connections_per_client): closing its new ones \
                     until it closes some",
                    client.open
                );
            }
            return None;
        }
        client.open += 1;
        Some(ClientSlot {
            limiter: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self
            .limiter
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get_mut(&self.ip) {
            client.open = client.open.saturating_sub(1);
            client.refusal_logged = false;
            if client.open == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

/// The TCP socket under a plain or a TLS connection.
fn tcp_of(connection: &dyn Any) -> Option<&TcpStream> {
    connection.downcast_ref::<TcpStream>().or_else(|| {
        connection
            .downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<TcpStream>>()
            .map(|tls| tls.get_ref().0)
    })
}

/// The `on_connect` callback of one listener: counts the connection against its client's limit (shutting it down
/// at once when over it) and records the listener's body read timeout for [`guard`].
pub fn on_connect(
    body_read_timeout: Duration,
    limiter: Option<Arc<ClientLimiter>>,
) -> impl Fn(&dyn Any, &mut Extensions) + Send + Sync + 'static {
    move |connection, extensions| {
        let mut slot = None;
        if let (Some(limiter), Some(tcp)) = (&limiter, tcp_of(connection)) {
            if let Ok(peer) = tcp.peer_addr() {
                slot = limiter.admit(peer.ip().to_canonical());
                if slot.is_none() {
                    // The server reads end-of-stream and drops the connection; the client sees it closed.
                    let _ = rustix::net::shutdown(tcp, rustix::net::Shutdown::Both);
                }
            }
        }
        extensions.insert(ConnectionLimits {
            body_read_timeout,
            _slot: slot,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_like_go() {
        assert_eq!(decoded_path("/v1/sys/mounts/a%00b"), "/v1/sys/mounts/a\0b");
        assert_eq!(decoded_path("/v1/a%0a%0D"), "/v1/a\n\r");
        assert_eq!(decoded_path("/v1/a%C2%85"), "/v1/a\u{85}");
        assert_eq!(decoded_path("/v1/a%FF"), "/v1/a\u{fffd}");
        assert_eq!(decoded_path("/v1/a%zz%4"), "/v1/a%zz%4");
        assert_eq!(decoded_path("/v1/a%20b"), "/v1/a b");
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_count_and_gets_its_slots_back() {
        let limiter = ClientLimiter::new(2).unwrap();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limiter.admit(a).unwrap();
        let _second = limiter.admit(a).unwrap();
        assert!(limiter.admit(a).is_none(), "a third connection of the same client");
        let _other = limiter.admit(b).unwrap();
        drop(first);
        let _again = limiter.admit(a).unwrap();
        assert!(ClientLimiter::new(0).is_none(), "0 is no limit");
    }

    #[test]
    fn a_client_that_closes_everything_is_forgotten() {
        let limiter = ClientLimiter::new(1).unwrap();
        let a: IpAddr = "::1".parse().unwrap();
        drop(limiter.admit(a).unwrap());
        assert!(limiter.clients.lock().unwrap().is_empty());
    }
}
