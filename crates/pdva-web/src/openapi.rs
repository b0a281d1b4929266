//! The OpenAPI 3.1 document of the JSON API (`GET /api/v1/openapi.json`),
//! generated from the handlers' declarations (utoipa), never written by
//! hand: a route added without its declaration fails the test below.

use axum::Json;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiErrorBody, ApiErrorDetail, ApiFinding};
use crate::registry_api::{NewRecord, RecordChange, RecordList, RecordView, VoidRequest};

/// The API's declarations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "pDVA registry API",
        description = "The registry's records (sites, clinicians, patients and their clinical \
            records) and outcomes. Authenticate with an API token (`pdva token create`, or \
            Account → API tokens): `Authorization: Bearer pdva_…`. A token acts as its user, \
            with the user's role and sites. Every error is `{\"error\": {…}}`."
    ),
    paths(
        openapi_json,
        crate::api::outcomes,
        crate::exports::download,
        crate::registry_api::sites,
        crate::registry_api::site,
        crate::registry_api::create_site,
        crate::registry_api::update_site,
        crate::registry_api::clinicians,
        crate::registry_api::clinician,
        crate::registry_api::create_clinician,
        crate::registry_api::update_clinician,
        crate::registry_api::patients,
        crate::registry_api::register_patient,
        crate::registry_api::patient,
        crate::registry_api::update_patient,
        crate::registry_api::records,
        crate::registry_api::create_record,
        crate::registry_api::record,
        crate::registry_api::update_record,
        crate::registry_api::void_record,
        crate::registry_api::sign_off_record,
    ),
    components(schemas(
        ApiErrorBody,
        ApiErrorDetail,
        ApiFinding,
        RecordView,
        RecordList,
        NewRecord,
        RecordChange,
        VoidRequest
    )),
    modifiers(&BearerTokens)
)]
pub struct ApiDoc;

/// The bearer-token security scheme, required by every operation but the
/// document itself.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pdva_ followed by 64 hex digits")
                    .description(Some(
                        "An API token: `pdva token create`, or Account → API tokens.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            if path == "/api/v1/openapi.json" {
                continue;
            }
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
}

/// The document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// `GET /api/v1/openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = serde_json::Value)))]
pub(crate) async fn openapi_json() -> Json<Document> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::ROUTES;

    /// Every API route of the guard's table is in the document, with its
    /// method, so the document cannot fall behind the routes.
    #[test]
    fn every_api_route_is_in_the_document() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"].as_str().unwrap(), "3.1.0");
        let mut checked = 0;
        for rule in ROUTES.iter().filter(|r| r.path.starts_with("/api/v1/")) {
            let op = &doc["paths"][rule.path][rule.method.to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{} {} is not in the OpenAPI document",
                rule.method,
                rule.path
            );
            if rule.path != "/api/v1/openapi.json" {
                assert!(
                    op["security"].is_array(),
                    "{} {} does not declare the bearer scheme",
                    rule.method,
                    rule.path
                );
            }
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} API routes");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert!(doc["components"]["schemas"]["ApiErrorBody"].is_object());
    }
}
