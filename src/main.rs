//! The `benchtop` binary: the window with no subcommand, or a CLI subcommand (see `benchtop --help`).

fn main() -> std::process::ExitCode {
    benchtop::cli::main()
}
