//! Declaring access where a route is added, and the table the guard reads.
//!
//! A REST, wpipe or operations route is added as `.routes(allow(Access::Viewer,
//! routes!(handler)))`: the access is written into the route's OpenAPI operation (as the
//! `x-orchard-access` extension and as its security requirement), and the table is read back
//! from the finished document, so a route and its declaration cannot part. Pages come from
//! [`app::PAGES`], server functions from their `require!` lines, site files from the build's
//! output, and the few routes outside the document through [`AccessTable::declare`].

use app::access::Access;
use axum::http::Method;
use std::collections::HashMap;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::UtoipaMethodRouter;

/// The OpenAPI extension that carries an operation's declared access.
pub const EXTENSION: &str = "x-orchard-access";

/// How a refusal is written for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JSON `{"error": …}`.
    Api,
    /// JSON `{"detail": …}`, as the wpipe clients expect.
    Wpipe,
    /// A server function: the error type itself, as its client decodes it.
    ServerFn,
    /// A page: sign in first, or a short page saying who may open it.
    Page,
    /// A file of the built site.
    File,
}

/// One route's declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    pub access: Access,
    pub kind: Kind,
    /// Changes nothing, so it is not written to the audit log.
    pub reads: bool,
}

/// Declares who may call the route(s) of one `routes!(handler)`.
pub fn allow<S>(access: Access, route: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
    let (schemas, mut paths, router) = route;
    for item in paths.paths.values_mut() {
        for (_, op) in operations_mut(item) {
            op.extensions
                .get_or_insert_with(Default::default)
                .insert(EXTENSION.into(), access.as_str().into());
            op.security = Some(security(access));
        }
    }
    (schemas, paths, router)
}

/// What the OpenAPI document tells a client to send: nothing for public routes, a session
/// or a bearer token with enough role for the role levels, a scoped token for the others.
fn security(access: Access) -> Vec<SecurityRequirement> {
    let token = |scope: &str| SecurityRequirement::new("token", [scope]);
    let session = |role: &str| SecurityRequirement::new("session", [role]);
    match access {
        Access::Public => vec![SecurityRequirement::default()],
        Access::Viewer => vec![session("viewer"), token("read")],
        Access::Editor => vec![session("editor"), token("write")],
        Access::Admin => vec![session("admin"), token("admin")],
        Access::WorkerToken => vec![token("worker")],
        Access::WpipeToken => vec![token("wpipe")],
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut Operation)> {
    let PathItem {
        get,
        put,
        post,
        delete,
        patch,
        head,
        options,
        ..
    } = item;
    [
        (Method::GET, get),
        (Method::PUT, put),
        (Method::POST, post),
        (Method::DELETE, delete),
        (Method::PATCH, patch),
        (Method::HEAD, head),
        (Method::OPTIONS, options),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.as_mut().map(|op| (m, op)))
    .collect()
}

/// Every declared route: method → the router's path pattern → its declaration, and server
/// functions by endpoint. Filled once at start; a request's lookup is two hash probes with
/// the matched path as it is (no allocation, no scan of the registry).
#[derive(Debug, Default, Clone)]
pub struct AccessTable {
    routes: HashMap<Method, HashMap<String, Declared>>,
    server_fns: HashMap<&'static str, Declared>,
}

impl AccessTable {
    /// The routes of an OpenAPI document built from [`allow`]ed routes. A route whose
    /// operation carries no declaration is left out, so the guard refuses it. Operations
    /// tagged `wpipe_tag` answer refusals as the wpipe clients expect.
    pub fn from_doc(doc: &utoipa::openapi::OpenApi, wpipe_tag: &str) -> Self {
        let mut t = Self::default();
        for (path, item) in doc.paths.paths.iter() {
            let mut item = item.clone();
            for (method, op) in operations_mut(&mut item) {
                let declared = op
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get(EXTENSION))
                    .and_then(|v| v.as_str())
                    .and_then(Access::parse);
                let Some(access) = declared else {
                    tracing::error!(%method, %path, "route without a declared access: refused");
                    continue;
                };
                let wpipe = op
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t == wpipe_tag));
                let kind = if wpipe { Kind::Wpipe } else { Kind::Api };
                t.declare(method, path, access, kind);
            }
        }
        t
    }

    /// Declares one route outside the OpenAPI document (site files, the docs themselves).
    pub fn declare(&mut self, method: Method, path: &str, access: Access, kind: Kind) {
        let reads = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        self.routes.entry(method).or_default().insert(
            path.to_string(),
            Declared {
                access,
                kind,
                reads,
            },
        );
    }

    /// Every server function, as its `require!` line declares it.
    pub fn declare_server_fns(&mut self) {
        for f in app::access::server_fns() {
            self.server_fns.insert(
                f.path,
                Declared {
                    access: f.access,
                    kind: Kind::ServerFn,
                    reads: f.reads,
                },
            );
        }
    }

    /// Every page of the app, as [`app::PAGES`] declares them.
    pub fn declare_pages(&mut self) {
        for p in app::PAGES {
            self.declare(Method::GET, p.path, p.access, Kind::Page);
        }
    }

    /// The declaration of the route the router matched. Server functions are found by their
    /// endpoint (their `require!` line); `HEAD` is answered by a `GET` route.
    pub fn lookup(&self, method: &Method, matched: &str) -> Option<Declared> {
        if let Some(d) = self.server_fns.get(matched) {
            return Some(*d);
        }
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.routes.get(method)?.get(matched).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[utoipa::path(get, path = "/x", tag = "t", responses((status = 200)))]
    async fn x() {}

    #[utoipa::path(post, path = "/y", tag = "t", responses((status = 200)))]
    async fn y() {}

    #[test]
    fn declarations_travel_through_the_document() {
        use utoipa_axum::router::OpenApiRouter;
        use utoipa_axum::routes;
        let (_, doc) = OpenApiRouter::<()>::new()
            .routes(allow(Access::Editor, routes!(x)))
            .routes(routes!(y))
            .split_for_parts();
        let t = AccessTable::from_doc(&doc, "wpipe");
        let d = t.lookup(&Method::GET, "/x").unwrap();
        assert_eq!(
            (d.access, d.kind, d.reads),
            (Access::Editor, Kind::Api, true)
        );
        assert_eq!(t.lookup(&Method::HEAD, "/x"), Some(d));
        assert_eq!(t.lookup(&Method::POST, "/y"), None, "undeclared stays out");
        assert_eq!(t.lookup(&Method::POST, "/x"), None);
    }
}
