//! Every request, from arrival to answer: registered in the core's in-flight list (`sys/in-flight-req`) under the
//! request id the client is answered with, and, unless `log_requests_level = "off"`, logged once answered as one
//! line: OpenBao's `completed_request` (start time, duration, client id, client address, status code, path without
//! the query string, method) with the request id. Never a token, a header or a body: nothing a client sends
//! besides the path reaches this line.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::AppState;
use crate::core::in_flight::InFlightRequest;
use crate::core::Core;

/// The id of the request being served (read by `dispatch` for the response's `request_id`).
#[derive(Clone)]
pub struct RequestId(pub String);

/// Removes the request from the in-flight list even when the client goes away before it is answered.
struct Tracked {
    core: Arc<Core>,
    id: String,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.core.in_flight.finish(&self.id);
    }
}

pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    let id = super::new_request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_string();
    let remote_address = super::forwarded_for::client_addr(req.request())
        .map(|a| a.to_string())
        .unwrap_or_default();
    state.core.in_flight.start(
        &id,
        InFlightRequest {
            start_time: chrono::Utc::now(),
            started,
            remote_address,
            path,
            method,
            client_id: String::new(),
        },
    );
    let tracked = Tracked {
        core: state.core.clone(),
        id,
    };
    let result = next.call(req).await;
    let entry = tracked.core.in_flight.finish(&tracked.id);
    if let (Some(level), Some(entry)) = (state.log_requests, entry) {
        let status = match &result {
            Ok(resp) => resp.status().as_u16(),
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        // OpenBao's `completed_request` fields and names (`Core.LogCompletedRequests`), with the request id first.
        log::log!(
            target: "vault::http::request",
            level,
            "completed_request: request_id={} start_time={} duration={}ms client_id={} client_address={} \
             status_code={} request_path={} request_method={}",
            tracked.id,
            entry.start_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            entry.started.elapsed().as_millis(),
            entry.client_id,
            entry.remote_address,
            status,
            entry.path,
            entry.method
        );
    }
    result
}
