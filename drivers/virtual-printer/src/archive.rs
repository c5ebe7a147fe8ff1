//! A directory of printed receipts: `receipt-0001.txt` and `receipt-0001.png`, numbered on
//! from what is already there, so a restart never overwrites earlier previews.

use std::path::{Path, PathBuf};

use crate::{Error, Job, Outcome, Receipt};

/// Writes each printed receipt as text and PNG into one directory.
#[derive(Debug)]
pub struct Archive {
    dir: PathBuf,
    columns: usize,
    dots: u32,
    number: u32,
}

/// Where a receipt was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// Its number in the directory.
    pub number: u32,
    /// The text rendering, with events and warnings marked `#`.
    pub text: PathBuf,
    /// The picture of the paper.
    pub png: PathBuf,
}

impl Archive {
    /// Opens (creating) `dir` for receipts `columns` wide on paper `dots` wide.
    pub fn open(dir: &Path, columns: usize, dots: u32) -> Result<Self, Error> {
        // Fail on bad dimensions now, not at the first receipt.
        Receipt::default().to_png_with_columns(columns, dots)?;
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            columns,
            dots,
            number: last_receipt_number(dir),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a printed job's receipt; `None` for a job the printer dropped.
    pub fn store(&mut self, job: &Job) -> Result<Option<Archived>, Error> {
        if let Outcome::NotPrinted { .. } = job.outcome {
            return Ok(None);
        }
        self.number += 1;
        let base = self.dir.join(format!("receipt-{:04}", self.number));
        let text = base.with_extension("txt");
        let png = base.with_extension("png");
        write(&text, text_file(&job.receipt, self.columns).as_bytes())?;
        write(
            &png,
            &job.receipt.to_png_with_columns(self.columns, self.dots)?,
        )?;
        Ok(Some(Archived {
            number: self.number,
            text,
            png,
        }))
    }
}

/// The .txt file: the paper, then events and warnings marked with `#`.
pub fn text_file(receipt: &Receipt, columns: usize) -> String {
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

/// The highest NNNN of receipt-NNNN.txt in `dir`.
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
