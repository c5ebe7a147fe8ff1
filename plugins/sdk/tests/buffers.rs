//! Every buffer is freed by the side that allocated it, exactly once: a counting allocator
//! watches the plugin's response buffers (allocated by the SDK, freed through the
//! descriptor's `free_buffer`), and a raw fake host written here counts the buffers it lends
//! the plugin in `call` and gets back through `host_api->free_buffer`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_char;
use std::sync::atomic::{AtomicIsize, Ordering};

use posd_plugin_abi::*;
use posd_plugin_sdk::schema::{ClassifyCodeRequest, ClassifyCodeResponse, CodeInfo, CodeKind};
use posd_plugin_sdk::{ClassifyCode, Exported, Host, Plugin, PluginError, posd_plugin};
use serde_json::Value;

/// Counts live allocations and bytes per thread, so parallel tests do not disturb it.
struct Counting;

thread_local! {
    static LIVE: Cell<(isize, isize)> = const { Cell::new((0, 0)) };
}

// SAFETY: forwards to the system allocator; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE.try_with(|live| {
            let (count, bytes) = live.get();
            live.set((count + 1, bytes + layout.size() as isize));
        });
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE.try_with(|live| {
            let (count, bytes) = live.get();
            live.set((count - 1, bytes - layout.size() as isize));
        });
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> (isize, isize) {
    LIVE.with(Cell::get)
}

/// Claims every code, asking the host for a value first (one host buffer per call).
struct Lender;

impl Plugin for Lender {
    const ID: &'static str = "lender";
    const NAME: &'static str = "Lender";
    const VERSION: &'static str = "1";
    const DESCRIPTION: &'static str = "Borrows host buffers";

    fn create(_host: &Host, _config: Value) -> Result<Self, PluginError> {
        Ok(Lender)
    }
}

impl ClassifyCode for Lender {
    fn classify_code(
        &mut self,
        host: &Host,
        request: ClassifyCodeRequest,
    ) -> Result<ClassifyCodeResponse, PluginError> {
        let state = host.kv_get::<Value>("state")?.map(|v| v.to_string());
        if request.code == "FAIL" {
            return Err(PluginError::not_found("no such code"));
        }
        Ok(ClassifyCodeResponse::Claimed(CodeInfo {
            state,
            ..CodeInfo::new(CodeKind::Product)
        }))
    }
}

posd_plugin!(Lender);

/// Host buffers lent and not returned yet.
static HOST_BUFFERS: AtomicIsize = AtomicIsize::new(0);

unsafe extern "C" fn log(_: *mut posd_host, _: i32, _: *const c_char, _: usize) {}

unsafe extern "C" fn now(_: *mut posd_host) -> i64 {
    0
}

/// Answers every service with `{"value": "on"}` in a `malloc`ed buffer, as a C host would.
unsafe extern "C" fn call(
    _: *mut posd_host,
    _: *const c_char,
    _: usize,
    _: *const c_char,
    _: usize,
    response: *mut posd_buffer,
) -> i32 {
    let body = br#"{"value": "on"}"#;
    // SAFETY: plain malloc of body.len() bytes, filled before it is handed out.
    unsafe {
        let data = libc_malloc(body.len()).cast::<u8>();
        std::ptr::copy_nonoverlapping(body.as_ptr(), data, body.len());
        (*response).data = data.cast::<c_char>();
        (*response).len = body.len();
    }
    HOST_BUFFERS.fetch_add(1, Ordering::SeqCst);
    POSD_OK
}

unsafe extern "C" fn free(_: *mut posd_host, buffer: *mut posd_buffer) {
    // SAFETY: a buffer `call` wrote with malloc.
    unsafe {
        libc_free((*buffer).data.cast());
        (*buffer).data = std::ptr::null_mut();
        (*buffer).len = 0;
    }
    HOST_BUFFERS.fetch_sub(1, Ordering::SeqCst);
}

unsafe extern "C" {
    #[link_name = "malloc"]
    fn libc_malloc(size: usize) -> *mut std::ffi::c_void;
    #[link_name = "free"]
    fn libc_free(ptr: *mut std::ffi::c_void);
}

#[test]
fn responses_and_host_buffers_are_freed_exactly() {
    let api = posd_host_api {
        struct_size: POSD_HOST_API_SIZE_1_0 as u32,
        abi_major: 1,
        abi_minor: 0,
        host: std::ptr::null_mut(),
        log: Some(log),
        now_ms: Some(now),
        call: Some(call),
        free_buffer: Some(free),
    };
    let descriptor = Lender::descriptor();
    // SAFETY: the SDK's static hooks table.
    let classify = unsafe { &*descriptor.hooks }
        .classify_code
        .expect("implemented");
    let free_buffer = descriptor.free_buffer.expect("free_buffer");
    let mut error = posd_buffer::empty();
    // SAFETY: valid table and error buffer; empty config.
    let instance =
        unsafe { descriptor.create.expect("create")(&api, std::ptr::null(), 0, &mut error) };
    assert!(!instance.is_null());

    for (code, status) in [("ANY", POSD_OK), ("FAIL", POSD_ERROR)] {
        let request = format!(r#"{{"schema": 1, "code": "{code}"}}"#);
        let before = live();
        let mut response = posd_buffer::empty();
        // SAFETY: a live instance, a readable request, an empty response buffer.
        let got = unsafe {
            classify(
                instance,
                request.as_ptr().cast(),
                request.len(),
                &mut response,
            )
        };
        assert_eq!(got, status, "{code}");
        assert_eq!(
            HOST_BUFFERS.load(Ordering::SeqCst),
            0,
            "the host buffer came back"
        );
        let (count, bytes) = live();
        assert_eq!(
            count - before.0,
            1,
            "{code}: exactly the response is still allocated"
        );
        assert_eq!(
            bytes - before.1,
            response.len as isize,
            "{code}: of exactly its length"
        );
        // SAFETY: the plugin's buffer, freed once.
        unsafe { free_buffer(&mut response) };
        assert_eq!(live(), before, "{code}: free_buffer released it all");
    }

    // SAFETY: from create, destroyed once.
    unsafe { descriptor.destroy.expect("destroy")(instance) };
}
