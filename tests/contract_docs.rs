//! The contract a frontend developer reads, `docs/dbus-api.md`, describes every interface,
//! member and argument the daemon serves (`host/interfaces/*.xml`, which the daemon tests
//! compare with what posd really serves) and nothing it does not, and it names every error
//! of `host/src/bus/error.rs`. A member added to the XML without a word in the document
//! fails here, naming the member and the heading to add.
//!
//! The document's rules are in its last section, "How this document is written": an
//! interface is a `##` heading starting with its backticked name; `### Properties`,
//! `### Methods` and `### Signals` hold one `####` heading per member whose first backticked
//! text is its signature (`Name type`, `Name(type arg, …) → (type name, …)`); the
//! description under it names every argument in backticks; `(not served yet)` after a
//! signature marks a member the contract has and the daemon does not serve yet.
//!
//! The worked VAT example both documents give is recomputed here with the host's own
//! functions, so the figures a plugin author reads are the ones a receipt prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The heading tag of a member documented ahead of the daemon.
const NOT_SERVED_YET: &str = "(not served yet)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Property,
    Method,
    Signal,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Property => "property",
            Kind::Method => "method",
            Kind::Signal => "signal",
        }
    }

    fn section(self) -> &'static str {
        match self {
            Kind::Property => "Properties",
            Kind::Method => "Methods",
            Kind::Signal => "Signals",
        }
    }

    fn of_section(title: &str) -> Option<Kind> {
        [Kind::Property, Kind::Method, Kind::Signal]
            .into_iter()
            .find(|k| k.section() == title)
    }
}

/// One argument: its type and, where given, its name.
#[derive(Debug, Clone, PartialEq)]
struct Arg {
    ty: String,
    name: Option<String>,
}

/// A property, method or signal with its signature.
#[derive(Debug, Clone, PartialEq)]
struct Member {
    kind: Kind,
    name: String,
    /// A property's type.
    ty: String,
    /// A method's in arguments, a signal's arguments.
    args: Vec<Arg>,
    /// A method's out arguments.
    outs: Vec<Arg>,
}

impl Member {
    /// The signature as the document writes it.
    fn signature(&self) -> String {
        let list = |args: &[Arg]| {
            args.iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{} {n}", a.ty),
                    None => a.ty.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.kind {
            Kind::Property => format!("{} {}", self.name, self.ty),
            Kind::Signal => format!("{}({})", self.name, list(&self.args)),
            Kind::Method => {
                let mut s = format!("{}({})", self.name, list(&self.args));
                match self.outs.len() {
                    0 => {}
                    1 => write!(s, " → {}", list(&self.outs)).expect("write to a String"),
                    _ => write!(s, " → ({})", list(&self.outs)).expect("write to a String"),
                }
                s
            }
        }
    }

    /// Whether `documented` describes this member of the XML: the same names and types in
    /// the same order; an out argument the XML leaves unnamed may have a name in the
    /// document.
    fn matches(&self, documented: &Member) -> bool {
        let same = |xml: &[Arg], doc: &[Arg], names_free_where_xml_has_none: bool| {
            xml.len() == doc.len()
                && xml.iter().zip(doc).all(|(x, d)| {
                    x.ty == d.ty
                        && match &x.name {
                            Some(_) => x.name == d.name,
                            None => names_free_where_xml_has_none || d.name.is_none(),
                        }
                })
        };
        self.kind == documented.kind
            && self.name == documented.name
            && self.ty == documented.ty
            && same(&self.args, &documented.args, false)
            && same(&self.outs, &documented.outs, true)
    }
}

/// Every interface of the introspection files, by name.
fn xml_interfaces(files: &[(String, String)]) -> BTreeMap<String, Vec<Member>> {
    let mut interfaces = BTreeMap::new();
    for (file, text) in files {
        let doc = roxmltree::Document::parse_with_options(
            text,
            roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
        for iface in doc.descendants().filter(|n| n.has_tag_name("interface")) {
            let name = iface
                .attribute("name")
                .unwrap_or_else(|| panic!("{file}: an interface without a name"));
            let mut members = Vec::new();
            for node in iface.children().filter(|n| n.is_element()) {
                let kind = match node.tag_name().name() {
                    "property" => Kind::Property,
                    "method" => Kind::Method,
                    "signal" => Kind::Signal,
                    _ => continue,
                };
                let mut member = Member {
                    kind,
                    name: node.attribute("name").unwrap_or_default().to_string(),
                    ty: node.attribute("type").unwrap_or_default().to_string(),
                    args: Vec::new(),
                    outs: Vec::new(),
                };
                for arg in node.children().filter(|n| n.has_tag_name("arg")) {
                    let parsed = Arg {
                        ty: arg.attribute("type").unwrap_or_default().to_string(),
                        name: arg.attribute("name").map(str::to_string),
                    };
                    if kind == Kind::Method && arg.attribute("direction") == Some("out") {
                        member.outs.push(parsed);
                    } else {
                        member.args.push(parsed);
                    }
                }
                members.push(member);
            }
            interfaces.insert(name.to_string(), members);
        }
    }
    interfaces
}

/// A member as the document describes it.
#[derive(Debug)]
struct Described {
    member: Member,
    /// 1-based line of its heading.
    line: usize,
    not_served_yet: bool,
    /// The description under the heading.
    body: String,
}

/// What the document says, as far as the rules go.
#[derive(Debug, Default)]
struct Document {
    /// Interface sections: the heading's line and the members described in it.
    interfaces: BTreeMap<String, (usize, Vec<Described>)>,
    /// Error names with a row in the Errors table.
    error_rows: Vec<String>,
    /// Every `org.posd.Error.*` name written anywhere, with its line.
    error_mentions: Vec<(String, usize)>,
    /// Breaches of the rules found while reading.
    problems: Vec<String>,
}

/// The first backticked text of a heading and what follows it.
fn first_code_span(text: &str) -> Option<(&str, &str)> {
    let start = text.find('`')?;
    let rest = &text[start + 1..];
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

fn is_interface_name(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit())
}

/// Splits at the commas outside brackets (`a{sv}` and struct types keep theirs).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_args(text: &str) -> Result<Vec<Arg>, String> {
    split_top_level(text)
        .into_iter()
        .map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            match words.as_slice() {
                [ty] => Ok(Arg {
                    ty: ty.to_string(),
                    name: None,
                }),
                [ty, name] if is_identifier(name) => Ok(Arg {
                    ty: ty.to_string(),
                    name: Some(name.to_string()),
                }),
                _ => Err(format!("{part:?} is not `type name`")),
            }
        })
        .collect()
}

/// The index of the `)` closing the `(` at `open`.
fn closing_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A member heading's signature, by the rules of its kind.
fn parse_signature(kind: Kind, text: &str) -> Result<Member, String> {
    let text = text.trim();
    let mut member = Member {
        kind,
        name: String::new(),
        ty: String::new(),
        args: Vec::new(),
        outs: Vec::new(),
    };
    if kind == Kind::Property {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [name, ty] = words.as_slice() else {
            return Err(format!("`{text}` is not `Name type`"));
        };
        if !is_identifier(name) {
            return Err(format!("`{text}`: {name:?} is not a member name"));
        }
        member.name = name.to_string();
        member.ty = ty.to_string();
        return Ok(member);
    }
    let open = text
        .find('(')
        .ok_or_else(|| format!("`{text}` has no argument list `(…)`"))?;
    let close = closing_paren(text, open).ok_or_else(|| format!("`{text}`: unclosed `(`"))?;
    member.name = text[..open].trim().to_string();
    if !is_identifier(&member.name) {
        return Err(format!("`{text}`: {:?} is not a member name", member.name));
    }
    member.args = parse_args(&text[open + 1..close]).map_err(|e| format!("`{text}`: {e}"))?;
    let rest = text[close + 1..].trim();
    if rest.is_empty() {
        return Ok(member);
    }
    if kind == Kind::Signal {
        return Err(format!("`{text}`: a signal returns nothing"));
    }
    let outs = rest
        .strip_prefix('→')
        .or_else(|| rest.strip_prefix("->"))
        .ok_or_else(|| format!("`{text}`: expected `→` before the results"))?
        .trim();
    let outs = match outs.strip_prefix('(') {
        Some(_) if closing_paren(outs, 0) == Some(outs.len() - 1) => &outs[1..outs.len() - 1],
        _ => outs,
    };
    member.outs = parse_args(outs).map_err(|e| format!("`{text}`: {e}"))?;
    if member.outs.is_empty() {
        return Err(format!("`{text}`: nothing after `→`"));
    }
    Ok(member)
}

/// Every `org.posd.Error.<Name>` on a line (`org.posd.Error.*` names none).
fn error_names(line: &str) -> Vec<String> {
    const PREFIX: &str = "org.posd.Error.";
    line.match_indices(PREFIX)
        .map(|(at, _)| -> String {
            line[at + PREFIX.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Reads the document by its rules.
fn read_document(text: &str) -> Document {
    let mut doc = Document::default();
    let mut in_fence = false;
    let mut interface: Option<String> = None;
    let mut kind: Option<Kind> = None;
    let mut in_errors = false;
    // The member whose description is being read: (interface, index).
    let mut open: Option<(String, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        for name in error_names(line) {
            doc.error_mentions.push((name, number));
        }
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        let is_heading = !in_fence && level > 0 && line[level..].starts_with(' ');
        if !is_heading {
            if let Some((iface, i)) = &open {
                let described = &mut doc.interfaces.get_mut(iface).expect("open interface").1;
                described[*i].body.push_str(line);
                described[*i].body.push('\n');
            }
            if in_errors && line.trim_start().starts_with('|') {
                let first_cell = line.trim().trim_start_matches('|');
                let first_cell = first_cell.split('|').next().unwrap_or_default();
                doc.error_rows.extend(error_names(first_cell));
            }
            continue;
        }
        open = None;
        let title = line[level..].trim();
        match level {
            1 => {
                interface = None;
                kind = None;
                in_errors = false;
            }
            2 => {
                kind = None;
                in_errors = title == "Errors";
                interface = match first_code_span(title) {
                    Some((name, _)) if title.starts_with('`') && is_interface_name(name) => {
                        if doc.interfaces.contains_key(name) {
                            doc.problems.push(format!(
                                "line {number}: a second section for interface {name}"
                            ));
                        }
                        doc.interfaces
                            .entry(name.to_string())
                            .or_insert((number, Vec::new()));
                        Some(name.to_string())
                    }
                    _ => None,
                };
            }
            3 => kind = Kind::of_section(title),
            4 => {
                let (Some(iface), Some(kind)) = (&interface, kind) else {
                    continue;
                };
                let Some((signature, after)) =
                    first_code_span(title).filter(|_| title.starts_with('`'))
                else {
                    doc.problems.push(format!(
                        "line {number}: a heading under `### {}` of {iface} must start with \
                         the member's signature in backticks: {title:?}",
                        kind.section()
                    ));
                    continue;
                };
                match parse_signature(kind, signature) {
                    Ok(member) => {
                        let described = &mut doc.interfaces.get_mut(iface).expect("interface").1;
                        if let Some(twice) = described.iter().find(|d| d.member.name == member.name)
                        {
                            doc.problems.push(format!(
                                "line {number}: {iface}.{} is described a second time (first \
                                 at line {})",
                                member.name, twice.line
                            ));
                        }
                        described.push(Described {
                            member,
                            line: number,
                            not_served_yet: after.contains(NOT_SERVED_YET),
                            body: String::new(),
                        });
                        open = Some((iface.clone(), described.len() - 1));
                    }
                    Err(e) => doc.problems.push(format!(
                        "line {number}: the {} heading of {iface} is not a signature: {e}",
                        kind.word()
                    )),
                }
            }
            _ => {}
        }
    }
    doc
}

/// The error names of `BusError`, except zbus's own transport errors.
fn bus_error_names(source: &str) -> Vec<String> {
    let body = source
        .split_once("pub enum BusError {")
        .and_then(|(_, rest)| rest.split_once("\n}"))
        .map(|(body, _)| body)
        .expect("host/src/bus/error.rs defines `pub enum BusError { … }`");
    let mut names = Vec::new();
    let mut transport = false;
    for line in body.lines().map(str::trim) {
        if line == "#[zbus(error)]" {
            transport = true;
            continue;
        }
        if line.starts_with(|c: char| c.is_ascii_uppercase()) {
            let name: String = line
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            if !std::mem::take(&mut transport) {
                names.push(name);
            }
        }
    }
    names
}

/// Every way the document and the XML (and the error enum) disagree, each naming the member.
fn disagreements(xml: &[(String, String)], document: &str, errors: &[String]) -> Vec<String> {
    let served = xml_interfaces(xml);
    let doc = read_document(document);
    let mut problems = doc.problems.clone();
    for (iface, members) in &served {
        let Some((_, described)) = doc.interfaces.get(iface) else {
            problems.push(format!(
                "interface {iface} is not described: add a section `## `{iface}`` with its \
                 {} member(s)",
                members.len()
            ));
            continue;
        };
        for member in members {
            let what = format!("{} {iface}.{}", member.kind.word(), member.name);
            let Some(d) = described
                .iter()
                .find(|d| d.member.name == member.name && d.member.kind == member.kind)
            else {
                let elsewhere = described.iter().find(|d| d.member.name == member.name);
                problems.push(match elsewhere {
                    Some(d) => format!(
                        "{what} is described under `### {}` (line {}); it belongs under `### {}`",
                        d.member.kind.section(),
                        d.line,
                        member.kind.section()
                    ),
                    None => format!(
                        "{what} is not described: add `#### `{}`` under `### {}` of {iface}",
                        member.signature(),
                        member.kind.section()
                    ),
                });
                continue;
            };
            if d.not_served_yet {
                problems.push(format!(
                    "{what} is served now: take {NOT_SERVED_YET:?} off its heading (line {})",
                    d.line
                ));
            }
            if !member.matches(&d.member) {
                problems.push(format!(
                    "{what}: the XML has `{}`, the document (line {}) `{}`",
                    member.signature(),
                    d.line,
                    d.member.signature()
                ));
            }
            if d.body.trim().is_empty() {
                problems.push(format!(
                    "{what} has a heading (line {}) but no description",
                    d.line
                ));
            }
            for arg in member.args.iter().chain(&member.outs) {
                if let Some(name) = &arg.name
                    && !d.body.contains(&format!("`{name}`"))
                {
                    problems.push(format!(
                        "{what}: argument {name} is not described: name it as `{name}` in the \
                         description under line {}",
                        d.line
                    ));
                }
            }
        }
        for d in described {
            let known = members
                .iter()
                .any(|m| m.name == d.member.name && m.kind == d.member.kind);
            let elsewhere = members.iter().any(|m| m.name == d.member.name);
            if !known && !elsewhere && !d.not_served_yet {
                problems.push(format!(
                    "the document (line {}) describes {} {iface}.{}, which the XML lacks",
                    d.line,
                    d.member.kind.word(),
                    d.member.name
                ));
            }
        }
    }
    for (iface, (line, _)) in &doc.interfaces {
        if !served.contains_key(iface) {
            problems.push(format!(
                "the document (line {line}) describes interface {iface}, which the XML lacks"
            ));
        }
    }
    for error in errors {
        if !doc.error_rows.contains(error) {
            problems.push(format!(
                "error org.posd.Error.{error} has no row in the document's Errors table"
            ));
        }
    }
    for (name, line) in &doc.error_mentions {
        if !errors.contains(name) {
            problems.push(format!(
                "the document (line {line}) names org.posd.Error.{name}, which BusError lacks"
            ));
        }
    }
    problems
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds host/")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_contract_document_describes_exactly_what_the_xml_serves() {
    let root = workspace();
    let mut xml: Vec<(String, String)> = std::fs::read_dir(root.join("host/interfaces"))
        .expect("host/interfaces")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| (p.display().to_string(), read(&p)))
        .collect();
    xml.sort();
    let served = xml_interfaces(&xml);
    for expected in [
        "org.posd.Manager1",
        "org.posd.Register1",
        "org.posd.Sale1",
        "org.posd.Device1",
        "org.posd.Scanner1",
        "org.posd.Printer1",
        "org.posd.Plugin1",
    ] {
        assert!(
            served.contains_key(expected),
            "{expected} missing from host/interfaces/*.xml: {:?}",
            served.keys()
        );
    }
    let errors = bus_error_names(&read(&root.join("host/src/bus/error.rs")));
    assert!(
        errors.iter().any(|e| e == "NotFound") && !errors.iter().any(|e| e == "ZBus"),
        "BusError read wrongly: {errors:?}"
    );
    let problems = disagreements(&xml, &read(&root.join("docs/dbus-api.md")), &errors);
    assert!(
        problems.is_empty(),
        "docs/dbus-api.md and host/interfaces/*.xml disagree:\n- {}",
        problems.join("\n- ")
    );
}

const XML: &str = r#"<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="org.example.Till1">
    <property name="State" type="s" access="read"/>
    <method name="Pay">
      <arg name="amount" type="s" direction="in"/>
      <arg name="details" type="a{sv}" direction="in"/>
      <arg type="s" direction="out"/>
    </method>
    <signal name="Paid">
      <arg name="tender_id" type="s"/>
    </signal>
  </interface>
</node>"#;

const DOC: &str = "# Till

## Errors

| error name | when |
|---|---|
| `org.posd.Error.NotFound` | no such thing |

## `org.example.Till1` — `/till`

### Properties

#### `State s`

`open` or `closed`.

### Methods

#### `Pay(s amount, a{sv} details) → s tender_id`

Pays `amount`; `details` carry the code.

```sh
## not a heading: a comment in an example
```

### Signals

#### `Paid(s tender_id)`

`tender_id` was paid.

### Records

#### A free heading under free text
";

fn check(xml: &str, doc: &str) -> Vec<String> {
    disagreements(
        &[("till.xml".to_string(), xml.to_string())],
        doc,
        &["NotFound".to_string()],
    )
}

#[test]
fn a_document_that_follows_the_rules_passes() {
    assert_eq!(check(XML, DOC), Vec::<String>::new());
}

#[test]
fn a_member_added_to_the_xml_is_named_with_the_heading_to_add() {
    let xml = XML.replace(
        "<signal name=\"Paid\">",
        "<method name=\"Cancel\"><arg name=\"reason\" type=\"s\" direction=\"in\"/></method>\
         <property name=\"Previews\" type=\"aa{sv}\" access=\"read\"/><signal name=\"Paid\">",
    );
    let problems = check(&xml, DOC);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("method org.example.Till1.Cancel is not described")
            && problems[0].contains("#### `Cancel(s reason)`"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("property org.example.Till1.Previews")
            && problems[1].contains("`Previews aa{sv}`"),
        "{problems:#?}"
    );
    let xml = XML.replace("org.example.Till1", "org.example.Till2");
    let problems = check(&xml, DOC);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("interface org.example.Till2 is not described"))
            && problems
                .iter()
                .any(|p| p.contains("describes interface org.example.Till1")),
        "{problems:#?}"
    );
}

#[test]
fn a_member_the_xml_lacks_is_named() {
    let doc = DOC.replace(
        "### Signals",
        "#### `Refund(s receipt_id) → s`\n\nGives `receipt_id` back.\n\n### Signals",
    );
    let problems = check(XML, &doc);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("describes method org.example.Till1.Refund, which the XML lacks"),
        "{problems:#?}"
    );
}

#[test]
fn an_argument_renamed_retyped_or_left_undescribed_is_named() {
    let renamed = XML.replace("name=\"amount\"", "name=\"sum\"");
    let problems = check(&renamed, DOC);
    assert!(
        problems.iter().any(|p| p
            .contains("method org.example.Till1.Pay: the XML has `Pay(s sum, a{sv} details) → s`"))
            && problems
                .iter()
                .any(|p| p.contains("argument sum is not described")),
        "{problems:#?}"
    );
    let retyped = XML.replace("type=\"s\" access", "type=\"b\" access");
    let problems = check(&retyped, DOC);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("the XML has `State b`, the document (line 13) `State s`")),
        "{problems:#?}"
    );
    let silent = DOC.replace("`details` carry the code", "details carry the code");
    let problems = check(XML, &silent);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("Pay: argument details is not described"),
        "{problems:#?}"
    );
    let bare = DOC.replace("`open` or `closed`.", "");
    assert!(
        check(XML, &bare)
            .iter()
            .any(|p| p.contains("State has a heading (line 13) but no description")),
        "{:#?}",
        check(XML, &bare)
    );
}

#[test]
fn a_member_not_served_yet_is_accepted_until_the_xml_has_it() {
    let ahead = DOC.replace(
        "### Methods",
        "#### `Previews aa{sv}` (not served yet)\n\nWhat plugins show.\n\n### Methods",
    );
    assert_eq!(check(XML, &ahead), Vec::<String>::new());
    let served = XML.replace(
        "<method name=\"Pay\">",
        "<property name=\"Previews\" type=\"aa{sv}\" access=\"read\"/><method name=\"Pay\">",
    );
    let problems = check(&served, &ahead);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("Previews is served now: take \"(not served yet)\" off"),
        "{problems:#?}"
    );
}

#[test]
fn error_names_are_held_to_the_bus_error_enum() {
    let errors = bus_error_names(
        "pub enum BusError {\n    #[zbus(error)]\n    ZBus(zbus::Error),\n    /// Doc.\n    \
         NotFound(String),\n    Conflict(String),\n}\n",
    );
    assert_eq!(errors, ["NotFound", "Conflict"]);
    let problems = disagreements(
        &[("till.xml".to_string(), XML.to_string())],
        &DOC.replace(
            "no such thing |",
            "no such thing, or org.posd.Error.NotFoud |",
        ),
        &errors,
    );
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("org.posd.Error.Conflict has no row")
            && problems[1].contains("names org.posd.Error.NotFoud, which BusError lacks"),
        "{problems:#?}"
    );
}

#[test]
fn a_member_heading_that_is_no_signature_is_named() {
    let doc = DOC.replace("#### `Paid(s tender_id)`", "#### Paid");
    let problems = check(XML, &doc);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("must start with the member's signature in backticks")),
        "{problems:#?}"
    );
    let doc = DOC.replace("#### `Paid(s tender_id)`", "#### `Paid(s tender_id) → s`");
    assert!(
        check(XML, &doc)
            .iter()
            .any(|p| p.contains("a signal returns nothing")),
        "{:#?}",
        check(XML, &doc)
    );
}

/// The worked example of "VAT of a reduction" (docs/dbus-api.md) and "How VAT comes off a
/// reduction" (plugins/abi/README.md), figure by figure, as the host computes it.
#[test]
fn the_documented_vat_example_is_what_the_host_computes() {
    use posd::money::{spread, vat_table};
    use rust_decimal::Decimal;
    let d = |s: &str| s.parse::<Decimal>().expect("decimal");
    // −3.10 over Kaffee 12.00 (20 %) and Milch 6.60 (10 %).
    assert_eq!(
        spread(d("-3.10"), &[d("12.00"), d("6.60")], 2),
        [d("-2.00"), d("-1.10")]
    );
    let rows = vat_table(
        &[
            (Some(d("20")), d("12.00") + d("-2.00")),
            (Some(d("10")), d("6.60") + d("-1.10")),
            (None, d("25.00")),
        ],
        2,
    );
    let figures: Vec<(Option<Decimal>, Decimal, Decimal, Decimal)> = rows
        .iter()
        .map(|r| (r.rate, r.gross, r.net, r.vat))
        .collect();
    assert_eq!(
        figures,
        [
            (Some(d("10")), d("5.50"), d("5.00"), d("0.50")),
            (Some(d("20")), d("10.00"), d("8.33"), d("1.67")),
            (None, d("25.00"), d("25.00"), d("0")),
        ]
    );
    let tax: Decimal = rows.iter().map(|r| r.vat).sum();
    let total: Decimal = rows.iter().map(|r| r.gross).sum();
    assert_eq!((tax, total), (d("2.17"), d("40.50")));
    // The remainder of rounding goes to the largest share, the first of equals.
    assert_eq!(
        spread(d("-1.00"), &[d("2.00"), d("2.00"), d("2.00")], 2),
        [d("-0.34"), d("-0.33"), d("-0.33")]
    );
    // All of it on L1 alone: the 20 % row's gross is 8.90.
    assert_eq!(spread(d("-3.10"), &[d("12.00")], 2), [d("-3.10")]);
}
