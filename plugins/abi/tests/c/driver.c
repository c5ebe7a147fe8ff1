/*
 * driver.c — a minimal host in C for testing C plugins the way posd loads them: dlopen the
 * library, call posd_plugin_entry, create an instance with a configuration, call hooks by
 * name, free every buffer with the plugin's free_buffer, destroy. Built by
 * tests/c_plugins.rs, with AddressSanitizer when the compiler has it.
 *
 * Usage: driver LIBRARY CONFIG [HOOK REQUEST]...
 * Prints one tab-separated line per fact:
 *   entry    missing | found
 *   descriptor  <struct_size> <abi_major>.<abi_minor> <min_abi_minor> <id> <hooks struct_size>
 *   hooks    <names of the non-NULL hooks within the declared table size, comma-separated>
 *   log      <level> <message>
 *   create   ok | failed <error JSON>
 *   <hook>   <status> <response JSON> | <status> NULL <len> | <status> absent
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

static void host_log(posd_host *host, int32_t level, const char *message, size_t len) {
    (void)host;
    printf("log\t%d\t%.*s\n", level, (int)len, message);
}

static int64_t host_now(posd_host *host) {
    (void)host;
    return 0;
}

static int32_t host_call(posd_host *host, const char *service, size_t service_len,
                         const char *request, size_t request_len, posd_buffer *response) {
    static const char answer[] = "{\"error\":\"NotFound\",\"message\":\"driver has no services\"}";
    (void)host;
    (void)request;
    (void)request_len;
    printf("call\t%.*s\n", (int)service_len, service);
    response->data = malloc(sizeof answer - 1);
    response->len = response->data ? sizeof answer - 1 : 0;
    if (response->data)
        memcpy(response->data, answer, sizeof answer - 1);
    return POSD_ERROR;
}

static void host_free(posd_host *host, posd_buffer *buffer) {
    (void)host;
    free(buffer->data);
    buffer->data = NULL;
    buffer->len = 0;
}

/*
 * A copy of text in a buffer of exactly its length, without a NUL: what the host passes is
 * not NUL-terminated, and with AddressSanitizer a plugin reading one byte past the length
 * fails the test instead of finding argv's NUL there.
 */
static char *exact_copy(const char *text, size_t *len) {
    *len = strlen(text);
    char *copy = malloc(*len ? *len : 1);
    if (copy == NULL) {
        perror("malloc");
        exit(2);
    }
    memcpy(copy, text, *len);
    return copy;
}

static const char *const hook_names[] = {
    "classify_code",   "enter_code",      "list_actions",   "invoke_action", "evaluate_basket",
    "list_rewards",    "apply_reward",    "validate_tender", "prepare_checkout",
    "commit_checkout", "abort_checkout",  "void_receipt",   "return_lines",  "deliver_message",
    "customer_accounts", "list_admin_actions", "invoke_admin_action", "release_tender",
};
#define HOOK_COUNT (sizeof hook_names / sizeof hook_names[0])

/* Where each hook's slot is, in the order of hook_names. */
static const size_t hook_offsets[] = {
    offsetof(posd_plugin_hooks, classify_code),
    offsetof(posd_plugin_hooks, enter_code),
    offsetof(posd_plugin_hooks, list_actions),
    offsetof(posd_plugin_hooks, invoke_action),
    offsetof(posd_plugin_hooks, evaluate_basket),
    offsetof(posd_plugin_hooks, list_rewards),
    offsetof(posd_plugin_hooks, apply_reward),
    offsetof(posd_plugin_hooks, validate_tender),
    offsetof(posd_plugin_hooks, prepare_checkout),
    offsetof(posd_plugin_hooks, commit_checkout),
    offsetof(posd_plugin_hooks, abort_checkout),
    offsetof(posd_plugin_hooks, void_receipt),
    offsetof(posd_plugin_hooks, return_lines),
    offsetof(posd_plugin_hooks, deliver_message),
    offsetof(posd_plugin_hooks, customer_accounts),
    offsetof(posd_plugin_hooks, list_admin_actions),
    offsetof(posd_plugin_hooks, invoke_admin_action),
    offsetof(posd_plugin_hooks, release_tender),
};

/* Hook i, or NULL when it lies beyond the size the plugin declared: as the host reads it. */
static posd_hook hook_at(const posd_plugin_hooks *hooks, size_t i) {
    if (hook_offsets[i] + sizeof(posd_hook) > hooks->struct_size)
        return NULL;
    posd_hook hook;
    memcpy(&hook, (const char *)hooks + hook_offsets[i], sizeof hook);
    return hook;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc % 2 != 1) {
        fprintf(stderr, "usage: driver LIBRARY CONFIG [HOOK REQUEST]...\n");
        return 2;
    }
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    void *symbol = dlsym(library, POSD_PLUGIN_ENTRY_SYMBOL);
    printf("entry\t%s\n", symbol ? "found" : "missing");
    if (symbol == NULL)
        return 0;
    posd_plugin_entry_fn entry;
    memcpy(&entry, &symbol, sizeof entry); /* object to function pointer, as POSIX allows */
    const posd_plugin_descriptor *d = entry();
    printf("descriptor\t%u\t%u.%u\t%u\t%s\t%u\n", d->struct_size, d->abi_major, d->abi_minor,
           d->min_abi_minor, d->id, d->hooks->struct_size);
    printf("hooks\t");
    const char *separator = "";
    for (size_t i = 0; i < HOOK_COUNT; i++) {
        if (hook_at(d->hooks, i) != NULL) {
            printf("%s%s", separator, hook_names[i]);
            separator = ",";
        }
    }
    printf("\n");

    posd_host_api api = {
        .struct_size = sizeof api,
        .abi_major = POSD_ABI_MAJOR,
        .abi_minor = POSD_ABI_MINOR,
        .host = NULL,
        .log = host_log,
        .now_ms = host_now,
        .call = host_call,
        .free_buffer = host_free,
    };
    posd_buffer error = {NULL, 0};
    size_t config_len;
    char *config = exact_copy(argv[2], &config_len);
    void *instance = d->create(&api, config, config_len, &error);
    free(config);
    if (instance == NULL) {
        printf("create\tfailed\t%.*s\n", (int)error.len, error.data ? error.data : "");
        d->free_buffer(&error);
        return 0;
    }
    printf("create\tok\n");

    for (int a = 3; a + 1 < argc; a += 2) {
        size_t i = 0;
        while (i < HOOK_COUNT && strcmp(hook_names[i], argv[a]) != 0)
            i++;
        posd_hook hook = i < HOOK_COUNT ? hook_at(d->hooks, i) : NULL;
        if (hook == NULL) {
            printf("%s\t-\tabsent\n", argv[a]);
            continue;
        }
        posd_buffer response = {NULL, 0};
        size_t request_len;
        char *request = exact_copy(argv[a + 1], &request_len);
        int32_t status = hook(instance, request, request_len, &response);
        free(request);
        if (response.data == NULL)
            printf("%s\t%d\tNULL\t%zu\n", argv[a], status, response.len);
        else
            printf("%s\t%d\t%.*s\n", argv[a], status, (int)response.len, response.data);
        if (response.data != NULL)
            d->free_buffer(&response);
    }
    d->destroy(instance);
    return 0;
}
