//! `posd-virtual-printer`: run the virtual ESC/POS printer from the command line.
//!
//! Prints one line per receipt to stdout (and with `--out`, writes `receipt-0001.txt` and
//! `receipt-0001.png`, …); without `--out` the text rendering itself goes to stdout.
//! A drawer kick is printed as a line of its own when it arrives (and with `--out` appended
//! to `events.log`). The first lines name the listening addresses, so scripts can use port 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use posd_virtual_printer::{
    Activity, Archive, DEFAULT_COLUMNS, DEFAULT_DOTS, Error, Job, Options, Outcome, PrinterState,
    Receipt, VirtualPrinter,
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
    /// Directory to write receipt-NNNN.txt and receipt-NNNN.png (and events.log) into.
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
    let mut archive = match &args.out {
        Some(dir) => Some(Archive::open(dir, args.columns, args.dots)?),
        None => None,
    };
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
    let mut number = 0;
    let mut seen = 0;
    loop {
        let activity = printer.wait_for_activity(seen + 1, Duration::from_secs(1));
        for happened in activity.iter().skip(seen) {
            let reported = match happened {
                Activity::Job(job) => report(args, archive.as_mut(), job, &mut number),
                Activity::DrawerKick { kick, outcome } => match outcome {
                    Outcome::NotPrinted { reason } => {
                        println!("NOT DONE ({reason}): {kick}");
                        Ok(())
                    }
                    Outcome::Printed => {
                        println!("{kick}");
                        archive
                            .as_ref()
                            .map_or(Ok(()), |a| a.log_drawer_kick(kick, "").map(|_| ()))
                    }
                },
            };
            if let Err(error) = reported {
                eprintln!("posd-virtual-printer: {error}");
            }
        }
        seen = activity.len();
    }
}

/// Print the line for one job and write its files.
fn report(
    args: &Args,
    archive: Option<&mut Archive>,
    job: &Job,
    number: &mut u32,
) -> Result<(), Error> {
    let receipt = &job.receipt;
    let summary = summary(receipt);
    if let Outcome::NotPrinted { reason } = &job.outcome {
        println!("NOT PRINTED ({reason}): {summary}");
        return Ok(());
    }
    let Some(archive) = archive else {
        *number += 1;
        print!("{}", receipt.to_text(args.columns));
        println!("receipt {:04}: {summary}", *number);
        return Ok(());
    };
    if let Some(stored) = archive.store(job)? {
        println!(
            "{}: {summary} -> {}, {}",
            stored.name.replacen('-', " ", 1),
            stored.text.display(),
            stored.png.display()
        );
    }
    Ok(())
}

/// "12 lines, cut, 0 warnings" (plus the first warning, which is what matters).
fn summary(receipt: &Receipt) -> String {
    let cut = match receipt.cut {
        Some(cut) if cut.partial => "partial cut",
        Some(_) => "cut",
        None => "no cut (unfinished)",
    };
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut line = format!(
        "{}, {cut}, {}",
        plural(receipt.lines.len(), "line"),
        plural(receipt.warnings.len(), "warning"),
    );
    if let Some(first) = receipt.warnings.first() {
        line.push_str(&format!(" (first: {first})"));
    }
    line
}
