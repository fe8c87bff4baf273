//! Fuzz target: a backup file in IntuneCd's layout (any bytes: UTF-16/UTF-8 with or without a
//! byte-order mark, JSON or YAML) through layout, assignments, clean, map and emit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tenantform::import::ImportFormat;

fuzz_target!(|data: &[u8]| {
    tenantform_fuzz::import(
        ImportFormat::IntuneCd,
        tenantform_fuzz::INTUNECD_FILES,
        data,
    );
});
