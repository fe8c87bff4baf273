//! The `tenantform` binary: parse the command line, run, map the result to a documented exit
//! code (0 ok, 1 invalid input, 2 changes/drift found, 3 deploy failures, 64 usage, 70 internal).

use std::process::ExitCode;

mod cli;

// Compiling a fleet allocates many small JSON values on two threads; mimalloc's per-thread
// heaps measured faster than glibc malloc for that (see book/src/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
