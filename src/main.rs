//! The saddlescope command line: parse, hand the command to the executor, print the summary or
//! the error (exit code 2 for usage errors).

mod cli;

/// mimalloc for the process: a walk allocates each walker's state vectors (seven per walker)
/// and frees them at its end, from every rayon thread at once.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;

use saddlescope::gpu::GpuError;
use saddlescope::spec::SpecError;

fn main() -> ExitCode {
    cli::console::init_logging();
    let args = cli::Cli::parse();
    match cli::dispatch(args.command, cli::typed_argv(), None) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let usage = e.downcast_ref::<SpecError>().is_some()
                || e.downcast_ref::<GpuError>().is_some_and(GpuError::is_usage);
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
