//! The OpenAPI 3 document served at `/v1/openapi.json`. Each operation is written here
//! by hand; a test holds the set of documented operations equal to the router's table.

use serde_json::{json, Value};

fn error_response(desc: &str) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(desc: &str, schema: Value) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": schema } } })
}

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn name_param() -> Value {
    json!({ "name": "name", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$" },
            "description": "Collection name: the file NAME.rvf in the served directory" })
}

fn op(summary: &str, params: Vec<Value>, request: Option<Value>, success: (&str, Value)) -> Value {
    let mut o = json!({
        "summary": summary,
        "parameters": params,
        "responses": {
            success.0: success.1,
            "400": error_response("Bad request: bad JSON, wrong dimension, bad name or filter"),
            "401": error_response("Missing or wrong API key"),
            "404": error_response("No such collection, id or route"),
            "409": error_response("Conflict: exists already, frozen, or not a branch"),
            "413": error_response("Request body too large"),
            "500": error_response("Damaged store or I/O error"),
        },
    });
    if let Some(r) = request {
        o["requestBody"] = r;
    }
    o
}

/// (method, path, operation) of every documented operation; paths in OpenAPI syntax,
/// which for our routes is the same as axum's.
pub fn operations() -> Vec<(&'static str, &'static str, Value)> {
    let n = name_param;
    let status_ref = json!({ "$ref": "#/components/schemas/Status" });
    let membership_ref = json!({ "$ref": "#/components/schemas/Membership" });
    let ids = json!({ "type": "array", "items": { "type": "integer", "minimum": 0 } });
    vec![
        (
            "get",
            "/v1/health",
            op(
                "Liveness check",
                vec![],
                None,
                (
                    "200",
                    ok(
                        "Server is up",
                        json!({ "type": "object", "properties": { "status": { "type": "string" } } }),
                    ),
                ),
            ),
        ),
        (
            "get",
            "/v1/openapi.json",
            op(
                "This document",
                vec![],
                None,
                ("200", ok("OpenAPI 3 document", json!({ "type": "object" }))),
            ),
        ),
        (
            "get",
            "/v1/collections",
            op(
                "List collections",
                vec![],
                None,
                (
                    "200",
                    ok(
                        "Every NAME.rvf of the directory",
                        json!({ "type": "object", "properties": { "collections": { "type": "array", "items": { "type": "object" } } } }),
                    ),
                ),
            ),
        ),
        (
            "get",
            "/v1/collections/{name}",
            op(
                "Collection status",
                vec![n()],
                None,
                ("200", ok("Counters of the store", status_ref.clone())),
            ),
        ),
        (
            "put",
            "/v1/collections/{name}",
            op(
                "Create a collection",
                vec![n()],
                Some(body(
                    json!({ "type": "object", "required": ["dimension"], "properties": {
                "dimension": { "type": "integer", "minimum": 1, "maximum": 65535 },
                "metric": { "type": "string", "enum": ["l2", "ip", "cosine"], "default": "l2" },
                "cluster_bytes": { "type": "integer", "default": 65536 } } }),
                )),
                ("201", ok("Created", status_ref.clone())),
            ),
        ),
        (
            "delete",
            "/v1/collections/{name}",
            op(
                "Delete a collection and its file",
                vec![n()],
                None,
                (
                    "200",
                    ok(
                        "Deleted",
                        json!({ "type": "object", "properties": { "deleted": { "type": "string" } } }),
                    ),
                ),
            ),
        ),
        (
            "post",
            "/v1/collections/{name}/vectors",
            op(
                "Insert or replace vectors by id (one commit)",
                vec![n()],
                Some(body(
                    json!({ "type": "object", "required": ["ids", "vectors"], "properties": {
                "ids": ids.clone(),
                "vectors": { "type": "array", "items": { "type": "array", "items": { "type": "number" } } },
                "metadata": { "type": "array", "items": { "type": ["object", "null"], "additionalProperties": { "type": ["integer", "number", "string", "boolean"] } } } } }),
                )),
                (
                    "200",
                    ok(
                        "Stored",
                        json!({ "type": "object", "properties": {
                "accepted": { "type": "integer" }, "rejected": { "type": "integer" },
                "epoch": { "type": "integer" }, "total_vectors": { "type": "integer" } } }),
                    ),
                ),
            ),
        ),
        (
            "get",
            "/v1/collections/{name}/vectors/{id}",
            op(
                "One vector and its metadata",
                vec![
                    n(),
                    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 0 } }),
                ],
                None,
                (
                    "200",
                    ok(
                        "The vector",
                        json!({ "$ref": "#/components/schemas/Record" }),
                    ),
                ),
            ),
        ),
        (
            "post",
            "/v1/collections/{name}/vectors/delete",
            op(
                "Delete vectors by ids or by a filter",
                vec![n()],
                Some(body(json!({ "type": "object", "properties": {
                "ids": ids.clone(), "filter": { "type": "string", "description": "Filter expression, e.g. lang = \"en\" and year >= 2020" } } }))),
                (
                    "200",
                    ok(
                        "Deleted",
                        json!({ "type": "object", "properties": {
                "deleted": { "type": "integer" }, "epoch": { "type": "integer" }, "total_vectors": { "type": "integer" } } }),
                    ),
                ),
            ),
        ),
        (
            "post",
            "/v1/collections/{name}/query",
            op(
                "k nearest neighbours",
                vec![n()],
                Some(body(json!({ "type": "object", "properties": {
                "vector": { "type": "array", "items": { "type": "number" } },
                "id": { "type": "integer", "description": "Query with the stored vector of this id instead" },
                "k": { "type": "integer", "default": 10 },
                "filter": { "type": "string" },
                "exact": { "type": "boolean", "default": false, "description": "Scan every vector instead of searching the ANN index" },
                "ef": { "type": "integer", "description": "ANN search breadth (default: the store's, else max(4k, 40)); ignored with a note when exact" },
                "include_metadata": { "type": "boolean", "default": true } } }))),
                (
                    "200",
                    ok(
                        "Hits, nearest first",
                        json!({ "type": "object", "properties": {
                "results": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "distance": { "type": "number" }, "metadata": { "type": ["object", "null"] } } } },
                "exact": { "type": "boolean" },
                "notes": { "type": "array", "items": { "type": "string" } } } }),
                    ),
                ),
            ),
        ),
        (
            "post",
            "/v1/collections/{name}/branch",
            op(
                "Create a copy-on-write branch",
                vec![n()],
                Some(body(
                    json!({ "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } }),
                )),
                ("201", ok("The new branch", status_ref.clone())),
            ),
        ),
        (
            "post",
            "/v1/collections/{name}/freeze",
            op(
                "Make the current state immutable",
                vec![n()],
                None,
                ("200", ok("Frozen", status_ref)),
            ),
        ),
        (
            "get",
            "/v1/collections/{name}/membership",
            op(
                "A branch's membership filter",
                vec![n()],
                None,
                ("200", ok("The filter", membership_ref.clone())),
            ),
        ),
        (
            "post",
            "/v1/collections/{name}/membership",
            op(
                "Change a branch's membership filter",
                vec![n()],
                Some(body(json!({ "type": "object", "properties": {
                "mode": { "type": "string", "enum": ["include", "exclude"], "description": "Applied first; resets the id set" },
                "include": ids.clone(), "exclude": ids } }))),
                ("200", ok("The filter after the change", membership_ref)),
            ),
        ),
    ]
}

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, operation) in operations() {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "RVF server", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Collections are the NAME.rvf files of the served directory." },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": {
                    "code": { "type": "string", "example": "RVF_E_DIMENSION" }, "message": { "type": "string" } } } } },
                "Status": { "type": "object", "properties": {
                    "name": { "type": "string" }, "file_id": { "type": "string" },
                    "total_vectors": { "type": "integer" }, "dimension": { "type": "integer" },
                    "metric": { "type": "string" }, "epoch": { "type": "integer" },
                    "file_size": { "type": "integer" }, "frozen": { "type": "boolean" },
                    "lineage_depth": { "type": "integer" }, "parent_id": { "type": ["string", "null"] } } },
                "Membership": { "type": "object", "properties": {
                    "mode": { "type": "string" }, "ids": { "type": "array", "items": { "type": "integer" } },
                    "member_count": { "type": "integer" }, "inherited_count": { "type": "integer" } } },
                "Record": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "vector": { "type": "array", "items": { "type": "number" } },
                    "metadata": { "type": ["object", "null"] } } },
            },
        },
        "security": [ { "bearer": [] } ],
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_route_is_documented_and_every_documented_operation_is_routed() {
        let routed: BTreeSet<(String, String)> = crate::server::routes::route_table()
            .into_iter()
            .map(|(m, p, _)| (m.as_str().to_ascii_lowercase(), p.to_string()))
            .collect();
        let documented: BTreeSet<(String, String)> = operations()
            .into_iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(routed, documented);
        let doc = document();
        for (m, p) in &documented {
            assert!(doc["paths"][p][m]["responses"].is_object(), "{m} {p}");
        }
    }
}
