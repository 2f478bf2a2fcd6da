//! The `ipdr-conformance` binary: a thin dispatcher to the command line
//! ([`cli`]), which parses arguments into the library's typed configuration.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
