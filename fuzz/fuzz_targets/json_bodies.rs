//! Every JSON body the REST and lease routes accept, parsed and validated from arbitrary
//! bytes: nothing may panic, however hostile or deeply nested the input.

#![no_main]

use engine::jobs::protocol::{
    ClaimRequest, CompleteBatch, CompleteRequest, FailRequest, LeaseRef, RegisterWorker,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<serde_json::Value>(data);
    let _ = serde_json::from_slice::<RegisterWorker>(data);
    let _ = serde_json::from_slice::<ClaimRequest>(data);
    let _ = serde_json::from_slice::<CompleteRequest>(data);
    let _ = serde_json::from_slice::<CompleteBatch>(data);
    let _ = serde_json::from_slice::<FailRequest>(data);
    let _ = serde_json::from_slice::<LeaseRef>(data);
    if let Ok(req) = serde_json::from_slice::<engine::jobs::params::FileAverageRequest>(data) {
        let _ = engine::jobs::params::FileAverageParams::parse(req, 1);
    }
    if let Ok(p) = serde_json::from_slice::<engine::jobs::params::NoopParams>(data) {
        let _ = p.validate();
    }
    // The wpipe routes judge a process's end by its details, which clients send as free text.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = engine::workers::fleet::details_report_error(Some(text));
    }
});
