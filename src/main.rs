//! The `progressd` binary: parse the command line, run, map an error to an
//! exit code.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use progressd::config::{Cli, Config};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_cli(&cli.serve) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("progressd: {message}");
            return ExitCode::from(2);
        }
    };
    match progressd::run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("progressd: {e}");
            ExitCode::FAILURE
        }
    }
}
