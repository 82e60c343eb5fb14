//! `cloudhsm-cli`: the management shell. Everything lives in `cloudhsm_pkcs11::cli`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::ExitCode::from(cloudhsm_pkcs11::cli::run(args))
}
