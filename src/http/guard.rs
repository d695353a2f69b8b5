//! What every request passes before it is routed (the `guard` middleware, wrapped around the whole app).
//!
//! - A path with a character that is not printable (Go's `unicode.IsPrint`, after percent-decoding) is refused with
//!   a bare 400, as OpenBao's `PrintablePathCheckHandler` does, before anything else: no mount, policy or token
//!   name can hold a NUL or a newline, and no logged path can either.
//! - An HTTP/1 request body is exactly what its framing says: chunked, or `Content-Length` bytes, or nothing (RFC
//!   9112 6.3). actix-web reads the body of a request that asks for a WebSocket upgrade, or of a `CONNECT`, as
//!   everything up to the end of the connection, so such a request would never be answered; here it is answered as
//!   any other (OpenBao does), and its connection is closed after the answer (nothing is upgraded).

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, ConnectionType, Version};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpResponse};
use futures_util::Stream;

use crate::printable::is_printable;

/// Percent-decode a request path as Go's `url.URL.Path` has it (an invalid escape is kept as it is), bytes that are
/// not UTF-8 read as U+FFFD like Go's range over a string.
fn decoded_path(raw: &str) -> String {
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
    String::from_utf8_lossy(&out).into_owned()
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

/// The request body as its framing bounds it (see the module documentation).
struct FramedBody {
    inner: Payload,
    /// Bytes still to come; `None` when the inner stream ends the body itself (chunked, HTTP/2).
    remaining: Option<u64>,
}

impl Stream for FramedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.remaining == Some(0) {
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
            other => other,
        }
    }
}

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !is_printable(&decoded_path(req.path())) {
        return Ok(req.into_response(HttpResponse::BadRequest().finish()));
    }
    let upgrade = asks_for_upgrade(&req);
    if req.version() <= Version::HTTP_11 {
        let remaining = framed_length(&req);
        let inner = req.take_payload();
        req.set_payload(Payload::Stream {
            payload: Box::pin(FramedBody { inner, remaining }),
        });
    }
    let mut resp = next.call(req).await?.map_into_boxed_body();
    if upgrade {
        resp.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(resp)
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
