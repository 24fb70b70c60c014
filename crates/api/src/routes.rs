//! The API's routes: one table that the handler dispatches on and that `infra/openapi.yaml` and the
//! SAM template's HTTP API events are checked against (`tests/infra.rs`).

/// Every operation the API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    StartRun,
    GetRun,
    PromoteRun,
    ApproveRun,
    RejectRun,
    TeardownEnvironment,
    RedriveRun,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::StartRun,
        Route::GetRun,
        Route::PromoteRun,
        Route::ApproveRun,
        Route::RejectRun,
        Route::TeardownEnvironment,
        Route::RedriveRun,
    ];

    pub fn method(self) -> &'static str {
        match self {
            Route::GetRun => "GET",
            Route::StartRun | Route::PromoteRun | Route::ApproveRun | Route::RejectRun | Route::TeardownEnvironment | Route::RedriveRun => {
                "POST"
            }
        }
    }

    /// Routes that start an execution name it after the request's `Idempotency-Key` header; a
    /// redrive passes it as RedriveExecution's client token.
    pub fn takes_idempotency_key(self) -> bool {
        matches!(self, Route::StartRun | Route::PromoteRun | Route::TeardownEnvironment | Route::RedriveRun)
    }

    /// The path template, in OpenAPI's (and API Gateway's) `{name}` syntax.
    pub fn path(self) -> &'static str {
        match self {
            Route::StartRun => "/runs",
            Route::GetRun => "/runs/{id}",
            Route::PromoteRun => "/runs/{id}/promote",
            Route::ApproveRun => "/runs/{id}/approve",
            Route::RejectRun => "/runs/{id}/reject",
            Route::TeardownEnvironment => "/environments/{env}/teardown",
            Route::RedriveRun => "/runs/{id}/redrive",
        }
    }
}

/// What a request's method and path select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched<'a> {
    /// The route and the value of its one path parameter, if it has one.
    Route(Route, Option<&'a str>),
    /// The path exists with other methods (for the `Allow` header).
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// Matches `path` against the templates: a `{…}` segment matches any one non-empty segment.
pub fn match_route<'a>(method: &str, path: &'a str) -> Matched<'a> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut allowed = Vec::new();
    for route in Route::ALL {
        let Some(parameter) = match_template(route.path(), &segments) else { continue };
        if route.method().eq_ignore_ascii_case(method) {
            return Matched::Route(route, parameter);
        }
        allowed.push(route.method());
    }
    if allowed.is_empty() {
        Matched::NotFound
    } else {
        Matched::MethodNotAllowed(allowed)
    }
}

/// `Some(parameter)` when the segments fit the template.
fn match_template<'a>(template: &str, segments: &[&'a str]) -> Option<Option<&'a str>> {
    let parts: Vec<&str> = template.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut parameter = None;
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
            parameter = Some(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(parameter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_routes_and_their_parameter() {
        assert_eq!(match_route("POST", "/runs"), Matched::Route(Route::StartRun, None));
        assert_eq!(match_route("GET", "/runs/abc-1"), Matched::Route(Route::GetRun, Some("abc-1")));
        assert_eq!(match_route("GET", "/runs/abc-1/"), Matched::Route(Route::GetRun, Some("abc-1")));
        assert_eq!(match_route("post", "/runs/abc/approve"), Matched::Route(Route::ApproveRun, Some("abc")));
        assert_eq!(match_route("POST", "/runs/abc/promote"), Matched::Route(Route::PromoteRun, Some("abc")));
        assert_eq!(match_route("POST", "/runs/abc/reject"), Matched::Route(Route::RejectRun, Some("abc")));
        assert_eq!(match_route("POST", "/environments/staging/teardown"), Matched::Route(Route::TeardownEnvironment, Some("staging")));
    }

    #[test]
    fn other_methods_and_paths_are_told_apart() {
        assert_eq!(match_route("GET", "/runs"), Matched::MethodNotAllowed(vec!["POST"]));
        assert_eq!(match_route("DELETE", "/runs/abc"), Matched::MethodNotAllowed(vec!["GET"]));
        assert_eq!(match_route("GET", "/runs//approve"), Matched::NotFound);
        assert_eq!(match_route("GET", "/"), Matched::NotFound);
        assert_eq!(match_route("POST", "/runs/a/b/approve"), Matched::NotFound);
        assert_eq!(match_route("POST", "/environments/staging"), Matched::NotFound);
    }
}
