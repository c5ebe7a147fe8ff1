//! `posd-partner-sim`: a bonus partner's HTTP server (PAYBACK-style) for posd's tests and
//! demos. It records what the partner plugin sends, answers authorisations, and on command
//! is down, slow, late or drops answers. See README.md for the API.

mod http;
mod partner;
mod server;

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage: posd-partner-sim [--listen ADDR:PORT] [--api-key-file FILE]

  --listen ADDR:PORT    where to listen (default 127.0.0.1:0, a free port)
  --api-key-file FILE   require `Authorization: Bearer <key>` on /v1 requests,
                        the key being FILE's content without surrounding whitespace

Prints `listening on http://ADDR:PORT` as its first line and runs until killed.";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    listen: String,
    api_key_file: Option<PathBuf>,
}

/// The command line, or the message to exit with: `Ok(None)` for `--help`.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: "127.0.0.1:0".into(),
        api_key_file: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--listen" => options.listen = value()?,
            "--api-key-file" => options.api_key_file = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(options))
}

/// The API key in `path`, trimmed. Errors name the file, never its content.
fn read_api_key(path: &PathBuf) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the API key file {}: {e}", path.display()))?;
    let key = text.trim();
    if key.is_empty() {
        return Err(format!("the API key file {} is empty", path.display()));
    }
    Ok(key.to_string())
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("posd-partner-sim: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let api_key = match options.api_key_file.as_ref().map(read_api_key).transpose() {
        Ok(key) => key,
        Err(message) => {
            eprintln!("posd-partner-sim: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&options.listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("posd-partner-sim: cannot listen on {}: {e}", options.listen);
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(e) => {
            eprintln!("posd-partner-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The first line tells whoever started us the real port; flushed before any request.
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "listening on http://{address}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if api_key.is_some() {
        eprintln!("/v1 requests need the API key from the key file");
    }
    server::run(listener, Arc::new(server::Shared::new(api_key)));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Options>, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn the_command_line_defaults_to_a_free_local_port_and_takes_both_spellings() {
        let defaults = args(&[]).expect("ok").expect("options");
        assert_eq!(defaults.listen, "127.0.0.1:0");
        assert_eq!(defaults.api_key_file, None);
        let given = args(&["--listen", "127.0.0.1:8099", "--api-key-file=/k"])
            .expect("ok")
            .expect("options");
        assert_eq!(given.listen, "127.0.0.1:8099");
        assert_eq!(given.api_key_file, Some(PathBuf::from("/k")));
        assert!(args(&["--help"]).expect("ok").is_none());
        assert!(args(&["--listen"]).is_err());
        assert!(args(&["--port", "1"]).is_err());
    }

    #[test]
    fn the_api_key_is_trimmed_and_an_empty_file_is_refused_without_showing_content() {
        let dir = std::env::temp_dir().join(format!("posd-partner-sim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("key");
        std::fs::write(&file, "  abc123\n").expect("write");
        assert_eq!(read_api_key(&file), Ok("abc123".into()));
        std::fs::write(&file, " \n").expect("write");
        assert!(read_api_key(&file).is_err());
        let missing = read_api_key(&dir.join("nope")).expect_err("missing");
        assert!(missing.contains("nope"));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
