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
    /// brings them back keeps their encodings with some slack). The first `trusted` lines
    /// are known to be as they were at this cache's last refresh (a caller asking again
    /// within one change, with lines only added after them): a kept encoding of theirs is
    /// used without comparing the line, which for a long basket is most of the work.
    pub fn refresh<E>(
        &mut self,
        lines: &[Line],
        minor: u32,
        slack: usize,
        trusted: usize,
        encode: impl Fn(&Line, u32) -> Result<T, E>,
    ) -> Result<Vec<&T>, E> {
        if self.minor != minor {
            self.by_id.clear();
            self.minor = minor;
        }
        for (k, line) in lines.iter().enumerate() {
            match self.by_id.get_mut(line.id.as_str()) {
                Some(_) if k < trusted => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn line(id: &str, name: &str) -> Line {
        let mut line = Line::rounding(id, rust_decimal::Decimal::ONE);
        line.name = name.into();
        line
    }

    #[test]
    fn a_line_is_encoded_again_only_when_it_changed_or_is_past_the_trusted_ones() {
        let mut cache = LineCache::<String>::default();
        let calls = Cell::new(0);
        let encode = |l: &Line, _: u32| -> Result<String, ()> {
            calls.set(calls.get() + 1);
            Ok(l.name.clone())
        };
        let mut lines = vec![line("L1", "Milch"), line("L2", "Brot")];
        let first: Vec<String> = cache
            .refresh(&lines, 2, 0, 0, encode)
            .unwrap()
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(
            (first, calls.get()),
            (vec!["Milch".into(), "Brot".into()], 2)
        );
        // Unchanged: nothing encoded again.
        cache.refresh(&lines, 2, 0, 0, encode).unwrap();
        assert_eq!(calls.get(), 2);
        // A changed line is encoded again, unless the caller vouches for it.
        lines[1].name = "Semmel".into();
        let trusted: Vec<String> = cache
            .refresh(&lines, 2, 0, 2, encode)
            .unwrap()
            .into_iter()
            .cloned()
            .collect();
        assert_eq!((trusted[1].as_str(), calls.get()), ("Brot", 2));
        let compared: Vec<String> = cache
            .refresh(&lines, 2, 0, 1, encode)
            .unwrap()
            .into_iter()
            .cloned()
            .collect();
        assert_eq!((compared[1].as_str(), calls.get()), ("Semmel", 3));
        // A trusted line the cache has never seen is encoded all the same.
        lines.insert(0, line("L0", "Eier"));
        let shown = cache.refresh(&lines, 2, 0, 3, encode).unwrap();
        assert_eq!((shown[0].as_str(), calls.get()), ("Eier", 4));
    }
}
