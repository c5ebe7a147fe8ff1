//! `posd-virtual-printer`: run the virtual ESC/POS printer from the command line.
//!
//! Prints one line per receipt to stdout (and with `--out`, writes `receipt-0001.txt` and
//! `receipt-0001.png`, …); without `--out` the text rendering itself goes to stdout.
//! The first lines name the listening addresses, so scripts can use port 0.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use posd_virtual_printer::{
    DEFAULT_COLUMNS, DEFAULT_DOTS, Error, Job, Options, Outcome, PrinterState, Receipt,
    VirtualPrinter,
};

/// A virtual ESC/POS receipt printer on TCP that shows receipts as text and PNG.
#[derive(Debug, Parser)]
#[command(name = "posd-virtual-printer", version, about)]
struct Args {
    /// Address to accept print connections on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:9100")]
    listen: String,
    /// Address for the control channel (line commands: `paper-out on`, `status`, …).
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Directory to write receipt-NNNN.txt and receipt-NNNN.png into.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Characters per line of the text grid.
    #[arg(long, default_value_t = DEFAULT_COLUMNS)]
    columns: usize,
    /// Paper width in dots for the PNG (576 = 80 mm at 203 dpi).
    #[arg(long, default_value_t = DEFAULT_DOTS)]
    dots: u32,
    /// Start with the paper roll empty.
    #[arg(long)]
    paper_out: bool,
    /// Start with the paper roll nearly empty.
    #[arg(long)]
    paper_near_end: bool,
    /// Start with the cover open.
    #[arg(long)]
    cover_open: bool,
    /// Start offline.
    #[arg(long)]
    offline: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("posd-virtual-printer: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), Error> {
    // Fail on a bad --columns/--dots now, not at the first receipt.
    Receipt::default().to_png_with_columns(args.columns, args.dots)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
    }
    let options = Options {
        state: PrinterState {
            paper_out: args.paper_out,
            paper_near_end: args.paper_near_end,
            cover_open: args.cover_open,
            offline: args.offline,
        },
        control: args.control,
    };
    let printer = VirtualPrinter::bind(args.listen.as_str(), options)?;
    println!("listening on {}", printer.local_addr());
    if let Some(control) = printer.control_addr() {
        println!("control on {control}");
    }
    let mut number = args.out.as_deref().map_or(0, last_receipt_number);
    let mut seen = 0;
    loop {
        let jobs = printer.wait_for_jobs(seen + 1, Duration::from_secs(1));
        for job in jobs.iter().skip(seen) {
            if job.is_printed() {
                number += 1;
            }
            if let Err(error) = report(args, job, number) {
                eprintln!("posd-virtual-printer: {error}");
            }
        }
        seen = jobs.len();
    }
}

/// Print the line for one job and write its files.
fn report(args: &Args, job: &Job, number: u32) -> Result<(), Error> {
    let receipt = &job.receipt;
    let summary = summary(receipt);
    let reason = match &job.outcome {
        Outcome::Printed => None,
        Outcome::NotPrinted { reason } => Some(reason),
    };
    if let Some(reason) = reason {
        println!("NOT PRINTED ({reason}): {summary}");
        return Ok(());
    }
    let Some(dir) = &args.out else {
        print!("{}", receipt.to_text(args.columns));
        println!("receipt {number:04}: {summary}");
        return Ok(());
    };
    let base = dir.join(format!("receipt-{number:04}"));
    let txt = base.with_extension("txt");
    let png = base.with_extension("png");
    write(&txt, text_file(receipt, args.columns).as_bytes())?;
    write(&png, &receipt.to_png_with_columns(args.columns, args.dots)?)?;
    println!(
        "receipt {number:04}: {summary} -> {}, {}",
        txt.display(),
        png.display()
    );
    Ok(())
}

/// "12 lines, cut, 1 event, 0 warnings" (plus the first warning, which is what matters).
fn summary(receipt: &Receipt) -> String {
    let cut = match receipt.cut {
        Some(cut) if cut.partial => "partial cut",
        Some(_) => "cut",
        None => "no cut (unfinished)",
    };
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut line = format!(
        "{}, {cut}, {}, {}",
        plural(receipt.lines.len(), "line"),
        plural(receipt.events.len(), "event"),
        plural(receipt.warnings.len(), "warning"),
    );
    if let Some(first) = receipt.warnings.first() {
        line.push_str(&format!(" (first: {first})"));
    }
    line
}

/// The .txt file: the paper, then events and warnings marked with `#`.
fn text_file(receipt: &Receipt, columns: usize) -> String {
    let mut text = receipt.to_text(columns);
    for event in &receipt.events {
        text.push_str(&format!("# event: {event}\n"));
    }
    for warning in &receipt.warnings {
        text.push_str(&format!("# warning: {warning}\n"));
    }
    text
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The highest NNNN of receipt-NNNN.txt in `dir`, so a restart does not overwrite earlier
/// previews.
fn last_receipt_number(dir: &Path) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_prefix("receipt-")?
                .strip_suffix(".txt")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0)
}
