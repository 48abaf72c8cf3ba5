//! Cross-origin access for browsers: only the origins listed in `ORCHARD_CORS_ORIGINS` may
//! call the API from their pages, without credentials. None are allowed by default.

use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS layer for the configured origins, or `None` when there are none.
pub fn layer(origins: &[String]) -> Result<Option<CorsLayer>, String> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .filter(|o| !o.is_empty())
        .map(|o| {
            if o == "*" {
                return Err("ORCHARD_CORS_ORIGINS lists origins; \"*\" is not allowed".to_string());
            }
            if !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(format!(
                    "CORS origin {o:?} must look like https://host[:port]"
                ));
            }
            HeaderValue::from_str(o).map_err(|_| format!("CORS origin {o:?} is not valid"))
        })
        .collect::<Result<_, _>>()?;
    if origins.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

#[cfg(test)]
mod tests {
    use super::layer;

    #[test]
    fn origins_are_checked() {
        assert!(layer(&[]).unwrap().is_none());
        assert!(layer(&[" ".into()]).unwrap().is_none());
        assert!(layer(&["https://a.example".into()]).unwrap().is_some());
        assert!(layer(&["*".into()]).is_err());
        assert!(layer(&["a.example".into()]).is_err());
    }
}
