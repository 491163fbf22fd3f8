//! The products' REST answers: whoami and the user APIs in each product's
//! documented shape, and its "not authenticated" body.

use std::sync::atomic::Ordering;

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{MockState, Product, User};

pub(super) fn unauthenticated(product: Product) -> Response {
    match product {
        Product::Jira => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errorMessages": ["You are not authenticated. Authentication required to perform this operation."], "errors": {}})),
        )
            .into_response(),
        Product::Confluence => (StatusCode::UNAUTHORIZED, axum::Json(json!({"statusCode": 401, "message": "Not authenticated"}))).into_response(),
        Product::Bitbucket => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errors": [{"context": null, "message": "Authentication failed. Please check your credentials and try again.",
                "exceptionName": "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException"}]})),
        )
            .into_response(),
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn jira_user(u: &User, base: &str) -> Value {
    json!({"self": format!("{base}/rest/api/2/user?username={}", u.name), "key": format!("JIRAUSER1{}", u.name.len()),
        "name": u.name, "emailAddress": u.email, "avatarUrls": {"48x48": "", "24x24": "", "16x16": "", "32x32": ""},
        "displayName": u.display, "active": true, "deleted": false, "timeZone": "Europe/Berlin", "locale": "en_US",
        "groups": {"size": 1, "items": []}, "applicationRoles": {"size": 1, "items": []}, "expand": "groups,applicationRoles"})
}

fn confluence_user(u: &User, base: &str) -> Value {
    json!({"type": "known", "username": u.name, "userKey": format!("4028808{}", u.name.len()),
        "profilePicture": {"path": "/images/icons/profilepics/default.svg", "width": 48, "height": 48, "isDefault": true},
        "displayName": u.display, "_links": {"base": base, "context": "", "self": format!("{base}/rest/api/user?username={}", u.name)},
        "_expandable": {"status": ""}})
}

fn bitbucket_user(u: &User, base: &str) -> Value {
    json!({"name": u.name, "emailAddress": u.email, "active": true, "displayName": u.display, "id": u.name.len() * 7,
        "slug": u.name, "type": "NORMAL", "links": {"self": [{"href": format!("{base}/users/{}", u.name)}]}})
}

pub(super) fn route(s: &MockState, rel: &str, uri: &Uri, user: Option<&str>) -> Response {
    let base = format!("{}{}", s.cfg.public_base, s.cfg.context);
    let find = |name: &str| s.users.iter().find(|u| u.name == name);
    let user_api = rel.starts_with("/rest/api/2/user")
        || rel.starts_with("/rest/api/user") && rel != "/rest/api/user/current"
        || rel.starts_with("/rest/api/1.0/users");
    if user_api {
        s.user_api_calls.fetch_add(1, Ordering::SeqCst);
        if *s.user_api_down.lock().unwrap() {
            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response();
        }
        if user.is_none() {
            return unauthenticated(s.cfg.product);
        }
    }
    match (s.cfg.product, rel) {
        (Product::Jira, "/rest/api/2/myself") => match user.and_then(find) {
            Some(u) => axum::Json(jira_user(u, &base)).into_response(),
            None => unauthenticated(Product::Jira),
        },
        (Product::Jira, "/rest/api/2/user") => match query_param(uri, "username").as_deref().and_then(find) {
            Some(u) => axum::Json(jira_user(u, &base)).into_response(),
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"errorMessages": ["The user named 'x' does not exist"], "errors": {}}))).into_response(),
        },
        (Product::Jira, "/rest/api/2/user/search") => {
            // Prefix match on username, name or email address.
            let q = query_param(uri, "username").unwrap_or_default().to_lowercase();
            let found: Vec<Value> = s.users.iter().filter(|u| u.name.starts_with(&q) || u.email.starts_with(&q)).map(|u| jira_user(u, &base)).collect();
            axum::Json(Value::Array(found)).into_response()
        }
        (Product::Confluence, "/rest/api/user/current") => match user.and_then(find) {
            Some(u) => axum::Json(confluence_user(u, &base)).into_response(),
            None => axum::Json(json!({"type": "anonymous", "profilePicture": {"path": "/images/icons/profilepics/anonymous.svg",
                "width": 48, "height": 48, "isDefault": true}, "displayName": "Anonymous", "_links": {"self": format!("{base}/rest/api/user/anonymous")}}))
            .into_response(),
        },
        (Product::Confluence, "/rest/api/user") => match query_param(uri, "username").as_deref().and_then(find) {
            Some(u) => axum::Json(confluence_user(u, &base)).into_response(),
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"statusCode": 404, "message": "No user found"}))).into_response(),
        },
        (Product::Bitbucket, "/plugins/servlet/applinks/whoami") => {
            ([("content-type", "text/plain")], user.unwrap_or_default().to_owned()).into_response()
        }
        (Product::Bitbucket, "/rest/api/1.0/users") => {
            let q = query_param(uri, "filter").unwrap_or_default().to_lowercase();
            let values: Vec<Value> = s.users.iter().filter(|u| u.name.contains(&q) || u.email.contains(&q)).map(|u| bitbucket_user(u, &base)).collect();
            axum::Json(json!({"size": values.len(), "limit": 25, "isLastPage": true, "start": 0, "values": values})).into_response()
        }
        (Product::Bitbucket, r) if r.starts_with("/rest/api/1.0/users/") => match find(&r["/rest/api/1.0/users/".len()..]) {
            Some(u) => axum::Json(bitbucket_user(u, &base)).into_response(),
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"errors": [{"message": "User does not exist"}]}))).into_response(),
        },
        _ => (StatusCode::NOT_FOUND, "Not found").into_response(),
    }
}
