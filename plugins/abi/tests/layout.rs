//! The header and its Rust mirror agree: a C program compiled against
//! `include/posd_plugin.h` with the system compiler prints every struct's size and alignment,
//! every field's offset and every constant, and each is compared with what Rust computes for
//! `posd-plugin-abi`. A field added on one side only, reordered, or retyped to another size
//! fails here before any plugin is loaded.

use std::collections::BTreeMap;
use std::mem::{align_of, offset_of, size_of};
use std::path::Path;
use std::process::Command;

use posd_plugin_abi::*;

/// One fact as the C program prints it and as Rust computes it, e.g.
/// `("offsetof posd_buffer.len", "8")`.
type Facts = Vec<(String, String)>;

/// Lists a struct's size, alignment and field offsets on the Rust side, naming the fields
/// as the C side does, so both lists come from the same field names.
macro_rules! rust_layout {
    ($facts:ident, $ty:ident { $($field:ident),* $(,)? }) => {{
        $facts.push((format!("sizeof {}", stringify!($ty)), size_of::<$ty>().to_string()));
        $facts.push((format!("alignof {}", stringify!($ty)), align_of::<$ty>().to_string()));
        $(
            $facts.push((
                format!("offsetof {}.{}", stringify!($ty), stringify!($field)),
                offset_of!($ty, $field).to_string(),
            ));
        )*
        vec![$(stringify!($field)),*]
    }};
}

/// The structs of the ABI with their fields in declaration order, and the Rust facts.
fn rust_facts() -> (Vec<(&'static str, Vec<&'static str>)>, Facts) {
    let mut facts = Facts::new();
    let structs = vec![
        (
            "posd_buffer",
            rust_layout!(facts, posd_buffer { data, len }),
        ),
        (
            "posd_host_api",
            rust_layout!(
                facts,
                posd_host_api {
                    struct_size,
                    abi_major,
                    abi_minor,
                    host,
                    log,
                    now_ms,
                    call,
                    free_buffer,
                }
            ),
        ),
        (
            "posd_plugin_hooks",
            rust_layout!(
                facts,
                posd_plugin_hooks {
                    struct_size,
                    reserved,
                    classify_code,
                    enter_code,
                    list_actions,
                    invoke_action,
                    evaluate_basket,
                    list_rewards,
                    apply_reward,
                    validate_tender,
                    prepare_checkout,
                    commit_checkout,
                    abort_checkout,
                    void_receipt,
                    return_lines,
                    deliver_message,
                    customer_accounts,
                    list_admin_actions,
                    invoke_admin_action,
                    release_tender,
                }
            ),
        ),
        (
            "posd_plugin_descriptor",
            rust_layout!(
                facts,
                posd_plugin_descriptor {
                    struct_size,
                    abi_major,
                    abi_minor,
                    min_abi_minor,
                    reserved0,
                    reserved1,
                    id,
                    name,
                    version,
                    description,
                    create,
                    destroy,
                    free_buffer,
                    hooks,
                }
            ),
        ),
    ];

    let entry_symbol = std::str::from_utf8(POSD_PLUGIN_ENTRY_SYMBOL)
        .expect("entry symbol is UTF-8")
        .strip_suffix('\0')
        .expect("entry symbol is NUL-terminated for dlsym");
    let constants: [(&str, String); 16] = [
        ("POSD_ABI_MAJOR", POSD_ABI_MAJOR.to_string()),
        ("POSD_ABI_MINOR", POSD_ABI_MINOR.to_string()),
        ("POSD_OK", POSD_OK.to_string()),
        ("POSD_ERROR", POSD_ERROR.to_string()),
        ("POSD_LOG_ERROR", POSD_LOG_ERROR.to_string()),
        ("POSD_LOG_WARN", POSD_LOG_WARN.to_string()),
        ("POSD_LOG_INFO", POSD_LOG_INFO.to_string()),
        ("POSD_LOG_DEBUG", POSD_LOG_DEBUG.to_string()),
        ("POSD_LOG_TRACE", POSD_LOG_TRACE.to_string()),
        ("POSD_HOST_API_SIZE_1_0", POSD_HOST_API_SIZE_1_0.to_string()),
        (
            "POSD_PLUGIN_HOOKS_SIZE_1_0",
            POSD_PLUGIN_HOOKS_SIZE_1_0.to_string(),
        ),
        (
            "POSD_PLUGIN_HOOKS_SIZE_1_1",
            POSD_PLUGIN_HOOKS_SIZE_1_1.to_string(),
        ),
        (
            "POSD_PLUGIN_HOOKS_SIZE_1_4",
            POSD_PLUGIN_HOOKS_SIZE_1_4.to_string(),
        ),
        (
            "POSD_PLUGIN_DESCRIPTOR_SIZE_1_0",
            POSD_PLUGIN_DESCRIPTOR_SIZE_1_0.to_string(),
        ),
        ("POSD_PLUGIN_ENTRY_SYMBOL", entry_symbol.to_string()),
        // Rust's Option<fn> must be exactly one C function pointer (null = None).
        (
            "sizeof posd_hook",
            size_of::<Option<posd_hook>>().to_string(),
        ),
    ];
    for (name, value) in constants {
        let key = if name.starts_with("sizeof") {
            name.to_string()
        } else {
            format!("const {name}")
        };
        facts.push((key, value));
    }
    (structs, facts)
}

/// A C program printing the same facts as `rust_facts`, one `key<TAB>value` line each.
fn c_program(structs: &[(&str, Vec<&str>)]) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"posd_plugin.h\"\n\nint main(void) {\n",
    );
    for (name, fields) in structs {
        c.push_str(&format!(
            "    printf(\"sizeof {name}\\t%zu\\n\", sizeof({name}));\n"
        ));
        c.push_str(&format!(
            "    printf(\"alignof {name}\\t%zu\\n\", (size_t)_Alignof({name}));\n"
        ));
        for field in fields {
            c.push_str(&format!(
                "    printf(\"offsetof {name}.{field}\\t%zu\\n\", offsetof({name}, {field}));\n"
            ));
        }
    }
    for name in [
        "POSD_ABI_MAJOR",
        "POSD_ABI_MINOR",
        "POSD_OK",
        "POSD_ERROR",
        "POSD_LOG_ERROR",
        "POSD_LOG_WARN",
        "POSD_LOG_INFO",
        "POSD_LOG_DEBUG",
        "POSD_LOG_TRACE",
    ] {
        c.push_str(&format!(
            "    printf(\"const {name}\\t%lld\\n\", (long long)({name}));\n"
        ));
    }
    for name in [
        "POSD_HOST_API_SIZE_1_0",
        "POSD_PLUGIN_HOOKS_SIZE_1_0",
        "POSD_PLUGIN_HOOKS_SIZE_1_1",
        "POSD_PLUGIN_HOOKS_SIZE_1_4",
        "POSD_PLUGIN_DESCRIPTOR_SIZE_1_0",
    ] {
        c.push_str(&format!(
            "    printf(\"const {name}\\t%zu\\n\", (size_t)({name}));\n"
        ));
    }
    c.push_str(
        "    printf(\"const POSD_PLUGIN_ENTRY_SYMBOL\\t%s\\n\", POSD_PLUGIN_ENTRY_SYMBOL);\n",
    );
    c.push_str("    printf(\"sizeof posd_hook\\t%zu\\n\", sizeof(posd_hook));\n");
    // The entry point's declared type must be the typedef the host casts dlsym's result to.
    c.push_str("    posd_plugin_entry_fn entry = posd_plugin_entry;\n    (void)entry;\n");
    c.push_str("    return 0;\n}\n");
    c
}

/// Compiles and runs the C program; its output as key → value.
fn c_facts(source: &str) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let c_file = dir.path().join("layout.c");
    let exe = dir.path().join("layout");
    std::fs::write(&c_file, source).expect("write layout.c");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    // The entry point is declared in the header; a stub definition lets the program link.
    let stub = dir.path().join("stub.c");
    std::fs::write(
        &stub,
        "#include \"posd_plugin.h\"\nconst posd_plugin_descriptor *posd_plugin_entry(void) { return NULL; }\n",
    )
    .expect("write stub.c");
    let compiled = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg(format!("-I{}", include.display()))
        .arg(&c_file)
        .arg(&stub)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("gcc is needed for this test (Debian package gcc; .ci/run installs it)");
    assert!(
        compiled.status.success(),
        "gcc rejected the layout program:\n{}\n{source}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let run = Command::new(&exe).output().expect("run the layout program");
    assert!(run.status.success(), "layout program failed");
    String::from_utf8(run.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|line| {
            let (key, value) = line.split_once('\t').expect("key<TAB>value");
            (key.to_string(), value.to_string())
        })
        .collect()
}

#[test]
fn every_struct_field_and_constant_matches_the_header() {
    let (structs, rust) = rust_facts();
    let c = c_facts(&c_program(&structs));
    let mut mismatches = Vec::new();
    for (key, rust_value) in &rust {
        match c.get(key) {
            Some(c_value) if c_value == rust_value => {}
            Some(c_value) => mismatches.push(format!("{key}: C {c_value}, Rust {rust_value}")),
            None => mismatches.push(format!("{key}: missing from the C output")),
        }
    }
    assert_eq!(c.len(), rust.len(), "both sides print the same facts");
    assert!(
        mismatches.is_empty(),
        "header and mirror disagree:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn hook_names_are_the_hook_fields_in_table_order() {
    let (structs, _) = rust_facts();
    let (_, fields) = structs
        .iter()
        .find(|(name, _)| *name == "posd_plugin_hooks")
        .expect("hooks table listed");
    // The table is struct_size and reserved, then one pointer per hook.
    assert_eq!(&fields[..2], ["struct_size", "reserved"]);
    assert_eq!(
        &fields[2..],
        HOOK_NAMES,
        "HOOK_NAMES follows the Rust fields"
    );

    // The C struct has exactly these hooks, in this order, with nothing between or after.
    let c = c_facts(&c_program(&structs));
    let pointer = size_of::<Option<posd_hook>>();
    for (index, name) in HOOK_NAMES.iter().enumerate() {
        assert_eq!(
            c[&format!("offsetof posd_plugin_hooks.{name}")],
            (8 + index * pointer).to_string(),
            "C hook {name} is number {index}"
        );
    }
    assert_eq!(
        c["sizeof posd_plugin_hooks"],
        (8 + HOOK_NAMES.len() * pointer).to_string(),
        "the C table has as many hooks as HOOK_NAMES"
    );
}

#[test]
fn each_minor_keeps_the_hooks_table_size_it_was_published_with() {
    // A plugin built against an older minor declares these sizes: they never change, or
    // the host would read a hook such a plugin never had.
    let pointer = size_of::<Option<posd_hook>>();
    assert_eq!(
        POSD_PLUGIN_HOOKS_SIZE_1_0,
        8 + 15 * pointer,
        "1.0: 15 hooks"
    );
    assert_eq!(
        POSD_PLUGIN_HOOKS_SIZE_1_1,
        8 + 17 * pointer,
        "1.1 to 1.3: the admin actions appended"
    );
    assert_eq!(
        POSD_PLUGIN_HOOKS_SIZE_1_4,
        8 + 18 * pointer,
        "1.4: release_tender appended"
    );
    assert_eq!(HOOK_NAMES[17], "release_tender");
}
