//! Fuzz target: any text as a project's project TOML file, through its spanned decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantform_fuzz::TomlFile;

fuzz_target!(|data: &[u8]| {
    tenantform_fuzz::toml(TomlFile::Project, data);
});
