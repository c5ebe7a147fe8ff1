//! The customer groups of the store's customers (staff, VIP, a discount group of the ERP):
//! read from a file the store's back office exports, so that plugins see a sale's
//! `customer_groups` and programmes can hold for some customers only. posd keeps no
//! customer records of its own; this is the one thing about a customer it is told.
//!
//! The file is TOML, one key per customer, its groups as a list:
//!
//! ```toml
//! "C-1001" = ["staff"]
//! "C-2002" = ["vip", "rabatt-b"]
//! ```
//!
//! It is read at start and again on every `ReloadConfig` (SIGHUP), so a new export takes
//! effect without a restart; a file that can't be read or parsed leaves the groups as they
//! were (none at start), says why in the log and in the reload's answer, and the till sells
//! on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What can be wrong with a customer-groups file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CustomerGroupsError {
    /// The file could not be read.
    #[error("customer groups {path}: cannot read: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not TOML, or a customer's value is not a list of group names.
    #[error("customer groups {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the customer.
        reason: String,
    },
}

/// Customers' groups, by customer id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerGroups {
    groups: HashMap<String, Vec<String>>,
}

impl CustomerGroups {
    /// Reads the groups from `path`.
    pub fn load(path: &Path) -> Result<Self, CustomerGroupsError> {
        let text = std::fs::read_to_string(path).map_err(|e| CustomerGroupsError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|reason| CustomerGroupsError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Reads the groups from the text of a file; the error names the customer whose entry
    /// is wrong.
    fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut groups = HashMap::new();
        for (customer, value) in table {
            let names = value
                .as_array()
                .ok_or_else(|| format!("{customer:?}: must be a list of group names"))?;
            let mut list = Vec::with_capacity(names.len());
            for name in names {
                match name.as_str().map(str::trim) {
                    Some(name) if !name.is_empty() => list.push(name.to_string()),
                    _ => {
                        return Err(format!(
                            "{customer:?}: a group name must be a non-empty string, not {name}"
                        ));
                    }
                }
            }
            groups.insert(customer.trim().to_string(), list);
        }
        Ok(CustomerGroups { groups })
    }

    /// The groups of `customer`; none for a customer not in the file (or no customer).
    pub fn of(&self, customer: &str) -> &[String] {
        self.groups.get(customer).map_or(&[], Vec::as_slice)
    }

    /// How many customers have groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no customer has groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_customer_has_the_groups_the_file_lists() {
        let groups = CustomerGroups::parse(
            "\"C-1001\" = [\"staff\"]\nC-2002 = [\"vip\", \" rabatt-b \"]\nC-3003 = []\n",
        )
        .expect("groups");
        assert_eq!(groups.of("C-1001"), ["staff"]);
        assert_eq!(groups.of("C-2002"), ["vip", "rabatt-b"]);
        assert!(groups.of("C-3003").is_empty());
        assert!(groups.of("C-9999").is_empty(), "not in the file");
        assert!(groups.of("").is_empty(), "no customer");
        assert_eq!(groups.len(), 3);
    }

    #[test]
    fn a_wrong_entry_is_named() {
        let not_a_list = CustomerGroups::parse("C-1 = \"staff\"").expect_err("refused");
        assert!(not_a_list.contains("\"C-1\""), "{not_a_list}");
        let empty_name = CustomerGroups::parse("C-2 = [\"vip\", \"\"]").expect_err("refused");
        assert!(empty_name.contains("\"C-2\""), "{empty_name}");
        let number = CustomerGroups::parse("C-3 = [1]").expect_err("refused");
        assert!(number.contains("\"C-3\""), "{number}");
        assert!(CustomerGroups::parse("C-4 = [").is_err(), "not TOML");
        let missing =
            CustomerGroups::load(Path::new("/nonexistent/groups.toml")).expect_err("no such file");
        assert!(
            matches!(missing, CustomerGroupsError::Unreadable { .. }),
            "{missing}"
        );
    }
}
