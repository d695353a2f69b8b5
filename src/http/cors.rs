//! CORS, as OpenBao's listener does it once `sys/config/cors` enables it: a request with an `Origin` header from an
//! origin not allowed is refused (403 "origin not allowed"); a preflight `OPTIONS` from an allowed one is answered
//! here with the allowed methods and headers; every other answer to an allowed origin names it back.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use super::AppState;
use crate::core::cors::ALLOWED_METHODS;

pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let config = origin
        .as_ref()
        .and_then(|_| req.app_data::<web::Data<AppState>>())
        .map(|state| state.core.cors());
    let (Some(origin), Some(config)) = (origin, config.filter(|c| c.enabled)) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    if !config.allows_origin(&origin) {
        let refused = super::error::errors_response(StatusCode::FORBIDDEN, vec!["origin not allowed".into()]);
        return Ok(req.into_response(refused));
    }
    let Ok(origin_value) = HeaderValue::from_str(&origin) else {
        return Ok(req.into_response(HttpResponse::BadRequest().finish()));
    };
    if req.method() == Method::OPTIONS {
        if !req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return Ok(req.into_response(super::method_not_allowed()));
        }
        let mut preflight = HttpResponse::Ok();
        preflight
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin_value))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, config.allowed_headers.join(",")))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "300"))
            .insert_header((header::VARY, "Origin"));
        if config.allow_credentials {
            preflight.insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"));
        }
        return Ok(req.into_response(preflight.finish()));
    }
    let mut resp = next.call(req).await?.map_into_boxed_body();
    let headers = resp.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin_value);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if config.allow_credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    Ok(resp)
}
