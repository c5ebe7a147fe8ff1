//! What a line encodes to, kept per line id between basket changes.
//!
//! Every change of a sale sends the whole basket again, to each plugin and on the bus, and
//! encoding every line anew was most of what a change of a long sale cost. A line's
//! encoding depends only on the line and the currency's minor units, so it is kept and
//! used again while the line is unchanged.

use std::collections::{HashMap, HashSet};

use super::model::Line;

/// Encodings of type `T` of a sale's lines, by line id, as of the last refresh.
#[derive(Debug)]
pub struct LineCache<T> {
    minor: u32,
    by_id: HashMap<String, (Line, T)>,
}

impl<T> Default for LineCache<T> {
    fn default() -> Self {
        Self {
            minor: 0,
            by_id: HashMap::new(),
        }
    }
}

impl<T> LineCache<T> {
    /// The encoding of each of `lines`, in order: the one kept where the line is the one
    /// encoded last time, `encode`'s where not. Lines not among `lines` are forgotten once
    /// more than `slack` of them are kept (a caller that sets lines aside for a moment and
    /// brings them back keeps their encodings with some slack).
    pub fn refresh<E>(
        &mut self,
        lines: &[Line],
        minor: u32,
        slack: usize,
        encode: impl Fn(&Line, u32) -> Result<T, E>,
    ) -> Result<Vec<&T>, E> {
        if self.minor != minor {
            self.by_id.clear();
            self.minor = minor;
        }
        for line in lines {
            match self.by_id.get_mut(line.id.as_str()) {
                Some((kept, _)) if kept == line => {}
                Some(entry) => *entry = (line.clone(), encode(line, minor)?),
                None => {
                    let encoded = encode(line, minor)?;
                    self.by_id.insert(line.id.clone(), (line.clone(), encoded));
                }
            }
        }
        if self.by_id.len() > lines.len() + slack {
            let ids: HashSet<&str> = lines.iter().map(|l| l.id.as_str()).collect();
            self.by_id.retain(|id, _| ids.contains(id.as_str()));
        }
        let by_id = &self.by_id;
        Ok(lines
            .iter()
            .filter_map(|l| by_id.get(l.id.as_str()).map(|(_, encoded)| encoded))
            .collect())
    }

    /// How many lines' encodings are kept.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
