//! `broadside`: parses the command line and hands over to [`broadside::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = broadside::cli::Cli::parse();
    match broadside::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("broadside: {err:#}");
            std::process::ExitCode::from(broadside::cli::exit_code(&err))
        }
    }
}
