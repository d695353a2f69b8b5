//! What every request passes before it is routed (the `guard` middleware, wrapped around the whole app).
//!
//! - A path with a character that is not printable (Go's `unicode.IsPrint`, after percent-decoding) is refused with
//!   a bare 400, as OpenBao's `PrintablePathCheckHandler` does, before anything else: no mount, policy or token
//!   name can hold a NUL or a newline, and no logged path can either.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpResponse;

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

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !is_printable(&decoded_path(req.path())) {
        return Ok(req.into_response(HttpResponse::BadRequest().finish()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
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
