//! Fuzz target: any text as a template of a small project, rendered (Tera with tenantform's
//! filters and functions), bundled and validated for each of its tenants.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tenantform_fuzz::TemplateProject;

static PROJECT: LazyLock<TemplateProject> = LazyLock::new(|| {
    TemplateProject::new(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/valid/minimal"),
    )
});

fuzz_target!(|data: &[u8]| {
    PROJECT.render(data);
});
