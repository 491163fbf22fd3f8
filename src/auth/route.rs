//! Route policy (SPEC §1 step 3): the longest `[[route]]` prefix for the
//! method, else the default of `auth.protected_paths`, over the canonical
//! path (`core::path`).

use std::borrow::Cow;

use http::Method;

use crate::config::Route;
use crate::core::path::PathPrefix;

/// The routes and the default policy, ready for lookups.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// Deepest prefix first, so the first match is the longest.
    routes: Vec<Route>,
    protected: Vec<PathPrefix>,
}

/// The policy that applies to one request.
#[derive(Debug, Clone, Copy)]
pub struct RouteMatch<'a> {
    /// A credential is required.
    pub protected: bool,
    /// The `[[route]]` that matched, if any.
    pub route: Option<&'a Route>,
}

// === impl RouteTable ===

impl RouteTable {
    /// Builds the table from the config.
    pub fn new(routes: &[Route], protected: &[PathPrefix]) -> Self {
        let mut routes = routes.to_vec();
        // Stable: among equal depths, the order of the file decides.
        routes.sort_by_key(|r| std::cmp::Reverse(r.path.depth()));
        RouteTable {
            routes,
            protected: protected.to_vec(),
        }
    }

    /// The longest matching route for the method, else the default.
    pub fn lookup(&self, method: &Method, path: &[Cow<'_, str>]) -> RouteMatch<'_> {
        let route = self.routes.iter().find(|r| {
            r.path.covers(path) && r.methods.as_ref().is_none_or(|ms| ms.contains(method))
        });
        match route {
            Some(r) => RouteMatch {
                protected: r.protected,
                route: Some(r),
            },
            None => RouteMatch {
                protected: self.protected.iter().any(|p| p.covers(path)),
                route: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::path::canonicalize;

    fn route(path: &str, methods: Option<Vec<Method>>, protected: bool) -> Route {
        Route {
            path: PathPrefix::parse(path).unwrap(),
            methods,
            protected,
            require_scopes: vec![],
            allow_users: vec![],
            allow_providers: vec![],
            require_audience: vec![],
        }
    }

    #[test]
    fn longest_route_wins_and_methods_restrict() {
        let routes = vec![
            route("/rest", None, false),
            route("/rest/api/2/issue", Some(vec![Method::POST]), true),
        ];
        let t = RouteTable::new(&routes, &[PathPrefix::parse("/rest/").unwrap()]);
        let seg = |s: &'static str| canonicalize(s).unwrap();
        let m = t.lookup(&Method::POST, &seg("/rest/api/2/issue/1"));
        assert!(m.protected);
        assert_eq!(m.route.unwrap().path.to_string(), "/rest/api/2/issue");
        let m = t.lookup(&Method::GET, &seg("/rest/api/2/issue/1"));
        assert!(!m.protected, "GET falls to the /rest route");
        let m = t.lookup(&Method::GET, &seg("/secure/Dashboard.jspa"));
        assert!(!m.protected && m.route.is_none());
        let t = RouteTable::new(&[], &[PathPrefix::parse("/rest/").unwrap()]);
        assert!(t.lookup(&Method::GET, &seg("/rest/x")).protected);
        assert!(!t.lookup(&Method::GET, &seg("/restx")).protected);
    }
}
