//! Prints the OpenAPI document (the same one GET /api/openapi.json serves).
//!
//! cargo run --example openapi_dump > openapi.json
fn main() {
    println!(
        "{}",
        silo::http::openapi::document()
            .to_pretty_json()
            .expect("serialises")
    );
}
